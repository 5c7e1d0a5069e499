"""Moving a case one rung up the ladder: on a fired deadline, or when its assignee or a supervisor asks."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.dispatch import announce, case_store
from services.dispatch.context import Context
from services.dispatch.progress import dump, load
from services.dispatch.steps import SYSTEM, assign, close_case, facts_of
from shared.domain.lifecycle import Action, CaseProgress, Role, State, apply
from shared.domain.routing import escalate, parse_assignee
from shared.domain.routing.deadlines import deadlines
from shared.domain.routing.values import Trace
from shared.events import CloudEvent
from shared.events.types import Actor, DeadlineFired

OPEN_HANDLING = {State.ASSIGNED, State.ACCEPTED, State.IN_PROGRESS, State.REOPENED}


async def handle_deadline(conn: asyncpg.Connection, ctx: Context, event: CloudEvent[DeadlineFired]) -> list[int]:
    """The escalate tier moves a case one rung up; a passed follow-up window closes it; the rest is for notify."""
    if event.data.kind == "follow_up" and event.data.tier == "overdue":
        return await close_unrated(conn, ctx, event)
    if event.data.tier != "escalate" or event.data.kind not in ("accept", "resolve"):
        return []
    row = await case_store.lock_case(conn, uuid.UUID(event.data.case_id))
    if row is None or State(row["state"]) not in OPEN_HANDLING or row["lead"] != event.data.assignee:
        return []  # handled, closed or already moved on since the deadline was set: nothing to escalate
    progress = load(row["progress"])
    reason = f"{event.data.kind} deadline {event.data.due_at.isoformat()} missed by {event.data.assignee}"
    return await escalate_case(conn, ctx, dict(row), progress, SYSTEM, reason, cause=event.id)


async def close_unrated(conn: asyncpg.Connection, ctx: Context, event: CloudEvent[DeadlineFired]) -> list[int]:
    """The resident did not rate a verified case within the follow-up window: it closes without a rating."""
    row = await case_store.lock_case(conn, uuid.UUID(event.data.case_id))
    if row is None or row["state"] != State.VERIFIED.value:
        return []
    reason = "the follow-up window passed without a rating"
    return await close_case(conn, ctx, dict(row), load(row["progress"]), reason=reason, cause=event.id)


async def escalate_case(
    conn: asyncpg.Connection,
    ctx: Context,
    case: dict[str, Any],
    progress: CaseProgress,
    actor: Actor,
    reason: str,
    *,
    cause: str,
    escalated: CaseProgress | None = None,
) -> list[int]:
    """Re-route to the next rung, keeping the previous lead as assisting; the top rung stays and is re-alerted."""
    assert progress.lead is not None
    step = escalate(parse_assignee(progress.lead), ctx.registry, place=case.get("place"))
    if escalated is None:  # a fired deadline: the lifecycle's escalate step is ours to take
        escalated = apply(progress, Action.ESCALATE, Role.SYSTEM, actor.id, note=reason).progress
    detail: dict[str, Any] = {
        "reason": reason,
        "from": progress.lead,
        "to": str(step.target),
        "at_top": step.at_top,
        "rules": [s.rule for s in step.trace],
    }
    seq = await case_store.append_event(
        conn,
        case["case_id"],
        announce.derived_id(cause, "escalate"),
        "escalate",
        progress.state.value,
        escalated.state.value,
        actor.model_dump(),
        detail,
        ctx.now(),
    )
    case.update(state=escalated.state.value, progress=dump(escalated))
    await case_store.update_case(conn, case["case_id"], {"state": case["state"], "progress": case["progress"]})
    ids = await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action="escalate",
        from_state=progress.state.value,
        to_state=escalated.state.value,
        actor=actor,
        detail=detail,
        cause=cause,
    )
    now = ctx.now()
    matter = ctx.catalog.get(case["matter_code"]) if case.get("matter_code") in ctx.catalog else None
    due = deadlines(facts_of(case), matter, now, ctx.policy, Trace())
    keep = [p for p in (progress.lead, *sorted(progress.assisting)) if p != str(step.target)]
    _, more = await assign(
        conn,
        ctx,
        case,
        escalated,
        lead=str(step.target),
        assisting=keep,
        start=now,
        accept_by=due.accept_by,
        resolve_by=due.resolve_by,
        clock=due.clock,
        warn_at=matter.warn_at if matter else (0.5, 0.8),
        actor=SYSTEM,
        detail={**detail, "supervised_by": str(step.target)},
        cause=f"{cause}/reassign",
    )
    return ids + more
