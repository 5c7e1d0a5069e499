"""Moving a case one rung up the ladder: on a fired deadline, or when its assignee or a supervisor asks."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.dispatch import announce, case_store
from services.dispatch.context import Context
from services.dispatch.progress import dump, load
from services.dispatch.steps import SYSTEM, assign, close_case, facts_of
from services.dispatch.visibility import scope_keys
from shared.domain.lifecycle import (
    IN_HANDLING,
    Action,
    CaseProgress,
    DueKind,
    FactKind,
    IllegalTransition,
    Role,
    State,
    Tier,
    apply,
)
from shared.domain.routing import (
    Escalation,
    RoutingError,
    Urgency,
    escalate,
    escalate_part,
    parse_assignee,
    realert_top,
)
from shared.domain.routing.deadlines import deadlines
from shared.domain.routing.values import Trace
from shared.events import CloudEvent
from shared.events.types import Actor, DeadlineFired

REALERT = Tier.REALERT.value  # history: the top rung missed a deadline and was re-alerted, not moved


async def handle_deadline(conn: asyncpg.Connection, ctx: Context, event: CloudEvent[DeadlineFired]) -> list[int]:
    """The escalate tier moves a case one rung up (or a missed part to the rung above the party that owes it);
    a passed follow-up window closes it; the rest is for notify."""
    if event.data.kind is DueKind.FOLLOW_UP and event.data.tier is Tier.OVERDUE:
        return await close_unrated(conn, ctx, event)
    if event.data.kind is DueKind.REPORT_IN and event.data.tier is Tier.ESCALATE:
        return await escalate_missed_part(conn, ctx, event)
    if event.data.tier is not Tier.ESCALATE or event.data.kind not in (DueKind.ACCEPT, DueKind.RESOLVE):
        return []
    row = await case_store.lock_case(conn, uuid.UUID(event.data.case_id))
    if row is None or State(row["state"]) not in IN_HANDLING or row["lead"] != event.data.assignee:
        return []  # handled, closed or already moved on since the deadline was set: nothing to escalate
    if await case_store.deadline_closed(conn, event.data.deadline_id):
        return []  # met by an action dispatch applied before this event (escalation fired it while it queued)
    progress = load(row["progress"])
    reason = f"{event.data.kind} deadline {event.data.due_at.isoformat()} missed by {event.data.assignee}"
    step = escalate(parse_assignee(event.data.assignee), ctx.registry, place=row["place"])
    if step.at_top:
        return await realert_case(conn, ctx, dict(row), progress, event, reason, step)
    return await escalate_case(conn, ctx, dict(row), progress, SYSTEM, reason, cause=event.id)


async def realert_case(
    conn: asyncpg.Connection,
    ctx: Context,
    case: dict[str, Any],
    progress: CaseProgress,
    event: CloudEvent[DeadlineFired],
    reason: str,
    step: Escalation,
) -> list[int]:
    """The district command centre missed its deadline: nowhere to climb. The case stays with it, no escalation
    is counted; history records a `realert` (its case event tells the district through notify) and the missed
    deadline gives way to a fresh one of the same length, whose passing re-alerts it again."""
    data = event.data
    window = await case_store.deadline_window(conn, case["case_id"], data.deadline_id, data.kind, data.assignee)
    if window is None:
        return []  # no deadline of that kind was ever set for it here: nothing to chase
    now = ctx.now()
    again = realert_top(step, window["starts_at"], window["due_at"], now)
    # the missed deadline gives way to the re-alert deadline (the escalation worker stops re-alerting it)
    await case_store.close_deadlines(conn, case["case_id"], "void", kinds=[data.kind], party=data.assignee)
    due = await case_store.open_deadline(
        conn, case["case_id"], data.kind, data.assignee, now, again.due_at, [], scale=1.0, now=now
    )  # scale 1: the allowance was recorded already scaled
    detail: dict[str, Any] = {
        "reason": reason,
        "lead": data.assignee,
        "kind": data.kind,
        "next_due": due.isoformat(),
        "escalations": progress.escalations,
        "rules": [s.rule for s in again.trace],
    }
    state = progress.state.value
    seq = await case_store.append_event(
        conn,
        case["case_id"],
        announce.derived_id(event.id, "realert"),
        REALERT,
        state,
        state,
        SYSTEM.model_dump(),
        detail,
        now,
    )
    column = {DueKind.ACCEPT: "accept_by", DueKind.RESOLVE: "resolve_by"}[data.kind]
    case[column] = due
    await case_store.update_case(conn, case["case_id"], {column: due})
    return await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action=REALERT,
        from_state=state,
        to_state=state,
        actor=SYSTEM,
        detail=detail,
        cause=event.id,
    )


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


async def escalate_missed_part(conn: asyncpg.Connection, ctx: Context, event: CloudEvent[DeadlineFired]) -> list[int]:
    """A summoned or assisting party did not report in by its deadline: the rung above it answers for the part.

    The party keeps owing it (a late report still settles it); the rung above is added to the case with a report-in
    deadline of its own and told as a summoned party. At the top (the district command centre) nothing moves and
    escalation re-alerts the open deadline.
    """
    party = event.data.assignee
    row = await case_store.lock_case(conn, uuid.UUID(event.data.case_id))
    if row is None or State(row["state"]) not in IN_HANDLING:
        return []
    case, progress = dict(row), load(row["progress"])
    if party not in progress.owing or not await case_store.deadline_open(conn, event.data.deadline_id):
        return []  # reported in, no longer a party, or a later step (a new assignment) voided this deadline
    now = ctx.now()
    try:
        step = escalate_part(
            parse_assignee(party),
            ctx.registry,
            now,
            place=case.get("place"),
            urgency=Urgency(case["urgency"]),
            policy=ctx.policy,
        )
    except RoutingError:
        return []  # a party the active registry no longer knows: the deadline stays open and is re-alerted
    if step.at_top:
        return []
    reason = f"report-in deadline {event.data.due_at.isoformat()} missed by {party}"
    try:
        outcome = apply(
            progress, Action.ESCALATE_PART, Role.SYSTEM, SYSTEM.id, parties=[party], to=str(step.target), note=reason
        )
    except IllegalTransition:
        return []  # the rung above leads the case itself: the lead's own deadlines cover it
    new = outcome.progress
    target = str(step.target)
    await case_store.close_deadlines(conn, case["case_id"], "void", kinds=["report_in"], party=party)
    fresh = any(f.kind is FactKind.PART_OWED for f in outcome.facts)
    report_in_by = step.report_in_by
    if fresh:
        report_in_by = await case_store.open_deadline(
            conn, case["case_id"], "report_in", target, now, report_in_by, [], scale=ctx.deadline_scale, now=now
        )
    case.update(progress=dump(new), assisting=sorted(new.assisting))
    case["scope_keys"] = sorted({*case["scope_keys"], *scope_keys(ctx.registry, [target], None, None)})
    await case_store.update_case(conn, case["case_id"], {k: case[k] for k in ("progress", "assisting", "scope_keys")})
    detail: dict[str, Any] = {
        "reason": reason,
        "party": party,
        "to": target,
        "report_in_by": report_in_by.isoformat() if fresh else None,
        "rules": [s.rule for s in step.trace],
    }
    seq = await case_store.append_event(
        conn,
        case["case_id"],
        announce.derived_id(event.id, "escalate_part"),
        Action.ESCALATE_PART.value,
        progress.state.value,
        new.state.value,
        SYSTEM.model_dump(),
        detail,
        ctx.now(),
    )
    ids = await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action=Action.ESCALATE_PART.value,
        from_state=progress.state.value,
        to_state=new.state.value,
        actor=SYSTEM,
        detail=detail,
        cause=event.id,
    )
    if fresh:
        ids += await announce.assignment(conn, ctx, case, target, "summoned", event.id)
    return ids
