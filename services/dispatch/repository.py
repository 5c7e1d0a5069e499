"""Cases in and out of PostgreSQL, many at a time: what a batch touches is loaded in a few statements and
written back in a few more, inside the caller's transaction. This module maps rows to the case aggregate and
back; the statements are the table modules' (shared/queries/: cases, case_events, deadlines, pending_actions,
processed_events, submissions).

Rows travel as one JSON document per statement: a table's own row type turns it into columns (arrays, jsonb,
timestamps and uuids included), so a batch of any size is one round trip per table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from services.dispatch import progress as progress_column
from shared.domain.case import Case, CaseDeadline, DeadlineStatus, Entry
from shared.domain.case.clock import Clock
from shared.domain.case.consultation import Consultation
from shared.domain.case.model import Supervision
from shared.domain.case.nearby import box
from shared.domain.lifecycle import MERGE_TARGETS, DueKind, State
from shared.errors import InvalidInput
from shared.queries import case_events, deadlines, pending_actions, processed_events, submissions
from shared.queries import cases as cases_table
from shared.queries.states import values

CONSUMER = "dispatch"
NEARBY_PER_REPORT = 4  # candidates per report from the database; the batch's own cases are added in memory
INSERTED = (
    "case_id", "case_number", "state", "source", "source_ref", "matter_code", "level", "lead", "assisting", "place",
    "title", "description", "location", "lon", "lat", "urgency", "households", "reporter", "attachments",
    "observed_at", "received_at", "accept_by", "resolve_by", "merged_into", "duplicates", "registry_version",
    "decision", "progress", "scope_keys", "lead_person", "part_persons", "persons", "supervision",
    "clock", "consultation",
)  # fmt: skip
# What a command can change on a stored case.
UPDATED = (
    "state", "lead", "assisting", "accept_by", "resolve_by", "merged_into", "duplicates", "level", "decision",
    "progress", "scope_keys", "lead_person", "part_persons", "persons", "supervision",
    "clock", "consultation",
)  # fmt: skip


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _document(rows: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, default=_json)


def _row(case: Case, columns: Sequence[str]) -> dict[str, Any]:
    full = {
        "case_id": case.case_id,
        "case_number": case.case_number,
        "state": case.state.value,
        "source": case.source,
        "source_ref": case.source_ref,
        "matter_code": case.matter_code,
        "level": case.level,
        "lead": case.lead,
        "assisting": list(case.assisting),
        "place": case.place,
        "title": case.title,
        "description": case.description,
        "location": case.location,
        "lon": case.lon,
        "lat": case.lat,
        "urgency": case.urgency,
        "households": case.households,
        "reporter": case.reporter,
        "attachments": list(case.attachments),
        "observed_at": case.observed_at,
        "received_at": case.received_at,
        "accept_by": case.accept_by,
        "resolve_by": case.resolve_by,
        "merged_into": case.merged_into,
        "duplicates": case.duplicates,
        "registry_version": case.registry_version,
        "decision": case.decision,
        "progress": progress_column.as_json(case.progress),
        "scope_keys": list(case.scope_keys),
        "lead_person": case.lead_person,
        "part_persons": dict(case.part_persons),
        "persons": list(case.persons),
        "supervision": case.supervision.as_dict(),
        "clock": case.clock.as_dict(),
        "consultation": case.consultation.as_dict(),
    }
    return {"case_id": case.case_id, **{c: full[c] for c in columns}}


def _loads(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def _case(row: asyncpg.Record, deadlines: Sequence[CaseDeadline]) -> Case:
    state = State(row["state"])
    progress = progress_column.load(row["progress"])
    if progress.state is not state:  # the column is what every reader sees
        progress = replace(progress, state=state)
    return Case(
        case_id=row["case_id"],
        case_number=row["case_number"],
        source=row["source"],
        title=row["title"],
        received_at=row["received_at"],
        state=state,
        progress=progress,
        source_ref=row["source_ref"],
        matter_code=row["matter_code"],
        level=row["level"],
        lead=row["lead"],
        assisting=tuple(row["assisting"]),
        place=row["place"],
        description=row["description"],
        location=_loads(row["location"]) or {},
        urgency=row["urgency"],
        households=row["households"],
        reporter=_loads(row["reporter"]),
        attachments=tuple(row["attachments"]),
        observed_at=row["observed_at"],
        accept_by=row["accept_by"],
        resolve_by=row["resolve_by"],
        merged_into=row["merged_into"],
        duplicates=row["duplicates"],
        registry_version=row["registry_version"],
        decision=_loads(row["decision"]),
        scope_keys=tuple(row["scope_keys"]),
        lead_person=row["lead_person"],
        part_persons=tuple(sorted((_loads(row["part_persons"]) or {}).items())),
        supervision=Supervision.of(_loads(row["supervision"])),
        seq=row["last_seq"],
        deadlines=tuple(deadlines),
        clock=Clock.of(_loads(row["clock"])),
        consultation=Consultation.of(_loads(row["consultation"])),
    )


def _deadline(row: asyncpg.Record) -> CaseDeadline:
    return CaseDeadline(
        deadline_id=row["deadline_id"],
        kind=DueKind(row["kind"]),
        party=row["party"],
        starts_at=row["starts_at"],
        due_at=row["due_at"],
        warn_times=tuple(row["warn_times"]),
        status=DeadlineStatus(row["status"]),
        created_at=row["created_at"],
    )


# ---- reading -------------------------------------------------------------------------------------------------


async def claim(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Record the events as processed; returns those not processed before (the others are redeliveries)."""
    return await processed_events.claim_many(conn, CONSUMER, event_ids)


async def unclaim(conn: asyncpg.Connection, event_ids: Sequence[str]) -> None:
    """Forget that these events were processed (dead-lettered ones: a redelivery dead-letters them again)."""
    await processed_events.unclaim(conn, CONSUMER, event_ids)


@dataclass(frozen=True, slots=True)
class Probe:
    """Where a new report is, to find the open cases of its matter near it."""

    matter: str
    lon: float
    lat: float
    since: datetime
    radius_m: float


async def nearby(conn: asyncpg.Connection, probes: Sequence[Probe]) -> set[uuid.UUID]:
    """The ids of the open cases (MERGE_TARGETS) of each probe's matter nearest to it within its box, reported
    since its `since`: candidates only, checked again in memory once locked (shared.domain.case.nearby)."""
    if not probes:
        return set()
    near = [(p.matter, p.lon, p.lat, p.since, *box(p.lat, p.radius_m)) for p in probes]
    return await cases_table.near(conn, near, values(MERGE_TARGETS), NEARBY_PER_REPORT)


@dataclass(frozen=True, slots=True)
class DeadlineRef:
    """A fired deadline: its id, and its case, kind and party (the party's latest one stands in for an id the
    database does not know)."""

    case_id: uuid.UUID
    deadline_id: uuid.UUID | None
    kind: str
    party: str


async def lock_cases(
    conn: asyncpg.Connection, case_ids: Iterable[uuid.UUID], refs: Sequence[DeadlineRef] = ()
) -> dict[uuid.UUID, Case]:
    """The cases, locked (in id order: two workers never wait on each other in a circle), each with its open
    deadlines and those `refs` name."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = await cases_table.lock_with_seq(conn, ids)
    if not rows:
        return {}
    found = [r["case_id"] for r in rows]
    named = [r.deadline_id for r in refs if r.deadline_id is not None]
    deadline_rows = await deadlines.of_cases(conn, found, named, [(r.case_id, r.kind, r.party) for r in refs])
    by_case: dict[uuid.UUID, list[CaseDeadline]] = {}
    for d in deadline_rows:
        by_case.setdefault(d["case_id"], []).append(_deadline(d))
    return {r["case_id"]: _case(r, by_case.get(r["case_id"], ())) for r in rows}


async def submitted(conn: asyncpg.Connection, case_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the cases intake has accepted a report for (an action on one waits for its report)."""
    ids = sorted(set(case_ids))
    return await submissions.recorded(conn, ids) if ids else set()


async def pending(conn: asyncpg.Connection, case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[tuple[str, bytes]]]:
    """The actions (event id, bytes) that overtook these cases' reports, each case's in arrival order, locked."""
    ids = sorted(set(case_ids))
    waiting: dict[uuid.UUID, list[tuple[str, bytes]]] = {}
    for r in await pending_actions.waiting(conn, ids) if ids else []:
        waiting.setdefault(r["case_id"], []).append((r["event_id"], r["value"]))
    return waiting


# ---- writing -------------------------------------------------------------------------------------------------


async def park(conn: asyncpg.Connection, waiting: Sequence[tuple[str, uuid.UUID, bytes]]) -> None:
    """Actions (event id, case id, bytes) whose case's report has not arrived yet: they wait for it."""
    if waiting:
        await pending_actions.park(conn, waiting)


async def stop_waiting(conn: asyncpg.Connection, event_ids: Sequence[str]) -> None:
    """Waiting actions applied now that their case exists."""
    if event_ids:
        await pending_actions.stop_waiting(conn, event_ids)


async def insert_cases(conn: asyncpg.Connection, stored: Sequence[Case]) -> None:
    if not stored:
        return
    try:
        await cases_table.insert_rows(conn, INSERTED, _document(_row(c, INSERTED) for c in stored))
        await cases_table.restore_reporters(conn, [c.case_id for c in stored])
    except asyncpg.UniqueViolationError as exc:  # intake never reuses a number: the report came from elsewhere
        numbers = ", ".join(c.case_number for c in stored)
        raise InvalidInput(
            f"case number {numbers} already belongs to another case", reason="duplicate_case_number"
        ) from exc


async def update_cases(conn: asyncpg.Connection, stored: Sequence[Case]) -> None:
    if stored:
        await cases_table.update_rows(conn, UPDATED, _document(_row(c, UPDATED) for c in stored))


async def append_history(conn: asyncpg.Connection, entries: Sequence[Entry]) -> None:
    if not entries:
        return
    rows = (
        {
            "case_id": e.case_id,
            "seq": e.seq,
            "event_id": e.event_id,
            "action": e.action,
            "from_state": e.from_state.value if e.from_state else None,
            "to_state": e.to_state.value,
            "actor": e.actor.as_dict(),
            "detail": e.detail,
            "at": e.at,
        }
        for e in entries
    )
    await case_events.append_rows(conn, _document(rows))


async def insert_deadlines(conn: asyncpg.Connection, opened: Sequence[tuple[uuid.UUID, CaseDeadline]]) -> None:
    """Deadlines opened by the batch (one opened and closed within it is stored closed)."""
    if not opened:
        return
    rows = (
        {
            "deadline_id": d.deadline_id,
            "case_id": case_id,
            "kind": d.kind.value,
            "party": d.party,
            "starts_at": d.starts_at,
            "due_at": d.due_at,
            "warn_times": list(d.warn_times),
            "next_fire_at": d.first_fire,
            "status": d.status.value,
        }
        for case_id, d in opened
    )
    await deadlines.insert_rows(conn, _document(rows))


async def close_deadlines(conn: asyncpg.Connection, closed: Sequence[CaseDeadline]) -> None:
    """Stored deadlines the batch met or voided."""
    if not closed:
        return
    await deadlines.close(conn, [d.deadline_id for d in closed], [d.status.value for d in closed])
