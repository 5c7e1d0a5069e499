"""Steps more than one handler takes: assigning a lead (with deadlines and notices), and the case's routing facts."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.dispatch import announce, case_store
from services.dispatch.context import Context
from services.dispatch.progress import dump
from services.dispatch.visibility import scope_keys
from shared.domain.calendar import warning_times
from shared.domain.lifecycle import Action, CaseProgress, Role, apply
from shared.domain.model import ClockKind
from shared.domain.routing import ReportFacts, Urgency
from shared.events.types import Actor

SYSTEM = Actor(id="dispatch", role="system")


def facts_of(
    case: dict[str, Any] | asyncpg.Record, *, excluded: frozenset[Any] = frozenset(), returns: int = 0
) -> ReportFacts:
    location = json.loads(case["location"]) if isinstance(case["location"], str) else case["location"]
    return ReportFacts(
        title=case["title"],
        description=case["description"],
        matter=case["matter_code"],
        lon=location.get("lon"),
        lat=location.get("lat"),
        grid_code=location.get("grid_code"),
        address=location.get("address"),
        urgency=Urgency(case["urgency"]),
        households=case["households"],
        duplicates=case.get("duplicates", 0) if isinstance(case, dict) else case["duplicates"],
        excluded=excluded,
        returns=returns,
    )


async def assign(
    conn: asyncpg.Connection,
    ctx: Context,
    case: dict[str, Any],
    progress: CaseProgress,
    *,
    lead: str,
    assisting: list[str],
    start: datetime,
    accept_by: datetime,
    resolve_by: datetime,
    clock: ClockKind,
    warn_at: tuple[float, ...],
    actor: Actor,
    detail: dict[str, Any],
    cause: str,
) -> tuple[CaseProgress, list[int]]:
    """Give the case a lead (and assisting units): lifecycle, row, history, deadlines, notices."""
    outcome = apply(progress, Action.ASSIGN, Role(actor.role), actor.id, lead=lead, parties=assisting)
    new = outcome.progress
    case_id: uuid.UUID = case["case_id"]
    await case_store.close_deadlines(conn, case_id, "void")  # whatever the previous assignee owed is void now
    due: dict[str, datetime] = {}  # as recorded (a deadline scale shortens them): the case row shows the same
    now = ctx.now()
    for kind, computed in (("accept", accept_by), ("resolve", resolve_by)):
        warnings = list(
            warning_times(start, computed, warn_at, clock, ctx.policy.tz, ctx.policy.local_days, ctx.policy.office)
        )
        due[kind] = await case_store.open_deadline(
            conn, case_id, kind, lead, start, computed, warnings, scale=ctx.deadline_scale, now=now
        )
    for party in sorted(new.owing):
        await case_store.open_deadline(
            conn, case_id, "report_in", party, start, resolve_by, [], scale=ctx.deadline_scale, now=now
        )
    case.update(
        state=new.state.value,
        lead=lead,
        assisting=sorted(new.assisting),
        accept_by=due["accept"],
        resolve_by=due["resolve"],
        progress=dump(new),
        scope_keys=scope_keys(ctx.registry, [lead, *new.assisting], case.get("place"), case.get("submitted_by")),
    )
    await case_store.update_case(
        conn,
        case_id,
        {k: case[k] for k in ("state", "lead", "assisting", "accept_by", "resolve_by", "progress", "scope_keys")},
    )
    seq = await case_store.append_event(
        conn,
        case_id,
        announce.derived_id(cause, "assign"),
        "assign",
        progress.state.value,
        new.state.value,
        actor.model_dump(),
        detail,
        ctx.now(),
    )
    ids = await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action="assign",
        from_state=progress.state.value,
        to_state=new.state.value,
        actor=actor,
        detail=detail,
        cause=cause,
    )
    ids += await announce.assignment(conn, ctx, case, lead, "lead", cause)
    for party in sorted(new.assisting):
        ids += await announce.assignment(conn, ctx, case, party, "assisting", cause)
    return new, ids


async def close_case(
    conn: asyncpg.Connection, ctx: Context, case: dict[str, Any], progress: CaseProgress, *, reason: str, cause: str
) -> list[int]:
    """Close the case (the system's step), void what it still owed, record and announce it."""
    closed = apply(progress, Action.CLOSE, Role.SYSTEM, SYSTEM.id).progress
    case.update(state=closed.state.value, progress=dump(closed))
    await case_store.update_case(conn, case["case_id"], {"state": case["state"], "progress": case["progress"]})
    await case_store.close_deadlines(conn, case["case_id"], "void")
    detail = {"reason": reason}
    seq = await case_store.append_event(
        conn,
        case["case_id"],
        announce.derived_id(cause, "close"),
        "close",
        progress.state.value,
        closed.state.value,
        SYSTEM.model_dump(),
        detail,
        ctx.now(),
    )
    return await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action="close",
        from_state=progress.state.value,
        to_state=closed.state.value,
        actor=SYSTEM,
        detail=detail,
        cause=cause,
    )
