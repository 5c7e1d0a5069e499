"""Building cases on a loaded district for the case aggregate's tests (as dispatch builds them from a report)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from shared.domain.case import Case, CaseDeadline, Changed, Entry, Notice, Refusal, Rules, scope_keys
from shared.domain.lifecycle import DueKind
from shared.domain.model import Building
from shared.domain.routing import Decision, ReportFacts, Urgency, route


def report_case(
    rules: Rules,
    building: Building,
    *,
    matter: str | None,
    at: datetime,
    number: int = 1,
    title: str = "",
    urgency: Urgency = Urgency.NORMAL,
    households: int = 0,
) -> tuple[Case, Decision]:
    """A report at the building, routed as dispatch routes it, and the not-yet-assigned case it opens."""
    facts = ReportFacts(
        title=title,
        matter=matter,
        address=building.address,
        lon=building.lon,
        lat=building.lat,
        urgency=urgency,
        households=households,
    )
    decision = route(facts, rules.registry, rules.catalog, at, rules.policy)
    case = Case(
        case_id=uuid.uuid5(uuid.NAMESPACE_URL, f"case/{number}"),
        case_number=f"GD-{number:06d}",
        source="app",
        title=title or (matter or "report"),
        received_at=at,
        matter_code=decision.matter,
        level=decision.level.value,
        place=decision.place,
        location={"lon": building.lon, "lat": building.lat, "address": building.address},
        urgency=urgency.value,
        households=households,
        registry_version=rules.version,
        decision=decision.to_dict(),
        scope_keys=tuple(scope_keys(rules.registry, [], decision.place, "app-client")),
        submitted_by="app-client",
    )
    return case, decision


def entries(changed: Changed) -> list[Entry]:
    return [f for f in changed.facts if isinstance(f, Entry)]


def notices(changed: Changed) -> list[Notice]:
    return [f for f in changed.facts if isinstance(f, Notice)]


def refusals(changed: Changed) -> list[Refusal]:
    return [f for f in changed.facts if isinstance(f, Refusal)]


def open_deadlines(case: Case) -> dict[tuple[DueKind, str], CaseDeadline]:
    """The open deadlines by (kind, party); fails when one party owes two of a kind at once."""
    found: dict[tuple[DueKind, str], CaseDeadline] = {}
    for d in case.open_deadlines():
        assert (d.kind, d.party) not in found, f"two open {d.kind} deadlines for {d.party}"
        found[(d.kind, d.party)] = d
    return found


def statuses(case: Case, ids: Iterable[uuid.UUID]) -> list[str]:
    by_id = {d.deadline_id: d for d in case.deadlines}
    return [by_id[i].status.value for i in ids]
