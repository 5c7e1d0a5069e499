"""The lifecycle's CaseProgress to and from the `cases.progress` column."""

from __future__ import annotations

import json
from typing import Any

from shared.domain.lifecycle import CaseProgress, State


def as_json(progress: CaseProgress) -> dict[str, Any]:
    return {
        "state": progress.state.value,
        "lead": progress.lead,
        "assisting": sorted(progress.assisting),
        "owing": sorted(progress.owing),
        "answering": sorted(list(pair) for pair in progress.answering),
        "returned_by": list(progress.returned_by),
        "reopens": progress.reopens,
        "escalations": progress.escalations,
        "merged_into": progress.merged_into,
    }


def dump(progress: CaseProgress) -> str:
    return json.dumps(as_json(progress))


def load(raw: str | dict[str, Any] | None) -> CaseProgress:
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return CaseProgress(
        state=State(data.get("state", "reported")),
        lead=data.get("lead"),
        assisting=frozenset(data.get("assisting", ())),
        owing=frozenset(data.get("owing", ())),
        answering=frozenset((a, b) for a, b in data.get("answering", ())),
        returned_by=tuple(data.get("returned_by", ())),
        reopens=data.get("reopens", 0),
        escalations=data.get("escalations", 0),
        merged_into=data.get("merged_into"),
    )
