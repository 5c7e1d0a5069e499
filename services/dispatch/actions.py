"""An action on a case, applied through the lifecycle in case order; a refusal becomes a `rejected` event."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from services.dispatch import announce, case_store
from services.dispatch.context import Context
from services.dispatch.escalations import escalate_case
from services.dispatch.progress import dump, load
from services.dispatch.steps import SYSTEM, assign, close_case, facts_of
from services.dispatch.visibility import scope_keys
from shared.domain.calendar import deadline
from shared.domain.lifecycle import ENDED, Action, CaseProgress, DueKind, FactKind, Outcome, Role, State, apply
from shared.domain.model import ClockKind
from shared.domain.routing import Summons, Urgency, check_return, parse_assignee, route, summon
from shared.domain.routing.deadlines import deadlines
from shared.domain.routing.values import Trace
from shared.errors import GridDispatchError
from shared.events import CloudEvent
from shared.events.types import ActionRequested


async def handle_action(
    conn: asyncpg.Connection, ctx: Context, event: CloudEvent[ActionRequested], raw: bytes
) -> list[int]:
    case_id = uuid.UUID(event.data.case_id)
    row = await case_store.lock_case(conn, case_id)
    if row is None:
        if await case_store.submitted(conn, case_id):
            await case_store.park_action(conn, event.id, case_id, raw)  # its report is still on the way
            return []
        return await _refuse(conn, ctx, event, None, "unknown_case", f"no case {case_id}")
    return await apply_action(conn, ctx, event, dict(row))


async def _refuse(
    conn: asyncpg.Connection,
    ctx: Context,
    event: CloudEvent[ActionRequested],
    case: dict[str, Any] | None,
    code: str,
    reason: str,
) -> list[int]:
    data = event.data
    state = case["state"] if case else None
    if case is not None:  # the attempt stays in the case's history: the audit trail shows refusals too
        detail = {"action": data.action, "code": code, "reason": reason}
        await case_store.append_event(
            conn,
            case["case_id"],
            event.id,
            "rejected",
            case["state"],
            case["state"],
            data.actor.model_dump(),
            detail,
            ctx.now(),
        )
    return await announce.rejection(
        conn,
        ctx,
        data.case_id,
        action_event_id=event.id,
        action=data.action,
        actor=data.actor,
        state=state,
        code=code,
        reason=reason,
    )


def _summons(ctx: Context, case: dict[str, Any], data: ActionRequested) -> Summons:
    by = data.actor.unit or ""
    raw = data.payload.get("departments")
    departments = raw if isinstance(raw, list) else []
    return summon(
        case["place"],
        [str(d) for d in departments],
        by.partition(":")[2] or by,
        ctx.now(),
        ctx.registry,
        urgency=Urgency(case["urgency"]),
        policy=ctx.policy,
    )


def _step(
    ctx: Context, case: dict[str, Any], progress: CaseProgress, data: ActionRequested
) -> tuple[Outcome, Summons | None]:
    """The lifecycle step, with what the catalog and the registry add to it; raises when refused."""
    action, role = Action(data.action), Role(data.actor.role)
    actor = data.actor.unit if role in (Role.ASSIGNEE, Role.ASSISTING) and data.actor.unit else data.actor.id
    note = " ".join(x for x in (data.reason_code and f"[{data.reason_code}]", data.text) if x)
    if action is Action.RETURN and progress.lead and case.get("matter_code") in ctx.catalog:
        check_return(ctx.catalog.get(case["matter_code"]), parse_assignee(progress.lead), ctx.registry)
    summons = _summons(ctx, case, data) if action is Action.SUMMON else None
    parties = [str(call.assignee) for call in summons.calls] if summons else []
    return apply(progress, action, role, actor or "", parties=parties, note=note), summons


async def apply_action(
    conn: asyncpg.Connection, ctx: Context, event: CloudEvent[ActionRequested], case: dict[str, Any]
) -> list[int]:
    data = event.data
    progress = load(case["progress"])
    if Action(data.action) is Action.ASSIGN:
        return await _redispatch(conn, ctx, event, case, progress)
    try:
        outcome, summons = _step(ctx, case, progress, data)
    except (GridDispatchError, ValueError) as exc:
        code = exc.code if isinstance(exc, GridDispatchError) else "invalid_action"
        return await _refuse(conn, ctx, event, case, code, str(exc))
    new = outcome.progress
    action = Action(data.action)
    kinds = {f.kind for f in outcome.facts}
    if FactKind.ESCALATION_NEEDED in kinds:
        return await escalate_case(
            conn,
            ctx,
            case,
            progress,
            data.actor,
            outcome.facts[0].note or "asked to escalate",
            cause=event.id,
            escalated=new,
        )
    ids = await _record(conn, ctx, event, case, progress, new, action)
    if summons is not None:
        fresh = new.owing - progress.owing  # the lifecycle decides who is newly owed (never the lead itself)
        for call in summons.calls:
            if str(call.assignee) not in fresh:
                continue
            party, now = str(call.assignee), ctx.now()
            await case_store.open_deadline(
                conn, case["case_id"], "report_in", party, now, call.report_in_by, [], scale=ctx.deadline_scale, now=now
            )
            ids += await announce.assignment(conn, ctx, case, party, "summoned", event.id)
    if FactKind.REOPENED in kinds:
        ids += await _reopened(conn, ctx, case)
    if FactKind.REROUTE_NEEDED in kinds:
        ids += await _reroute(conn, ctx, case, new, cause=event.id)
    if new.state is State.RATED:  # a satisfied rating closes the loop
        ids += await close_case(conn, ctx, case, new, reason="the resident is satisfied", cause=event.id)
    return ids


async def _record(
    conn: asyncpg.Connection,
    ctx: Context,
    event: CloudEvent[ActionRequested],
    case: dict[str, Any],
    before: CaseProgress,
    new: CaseProgress,
    action: Action,
) -> list[int]:
    """The row, the deadlines the step settles, the history entry and its announcement."""
    data = event.data
    case_id = case["case_id"]
    await _settle_deadlines(conn, ctx, case, before, new, action)
    case.update(state=new.state.value, progress=dump(new), assisting=sorted(new.assisting), lead=new.lead)
    case["scope_keys"] = sorted(
        {*case["scope_keys"], *scope_keys(ctx.registry, [p for p in (new.lead, *new.assisting) if p], None, None)}
    )
    await case_store.update_case(
        conn, case_id, {k: case[k] for k in ("state", "progress", "assisting", "lead", "scope_keys")}
    )
    detail = {
        "text": data.text,
        "reason_code": data.reason_code,
        **{k: v for k, v in data.payload.items() if k != "client_id"},
    }
    detail = {k: v for k, v in detail.items() if v is not None}
    seq = await case_store.append_event(
        conn,
        case_id,
        event.id,
        action.value,
        before.state.value,
        new.state.value,
        data.actor.model_dump(),
        detail,
        ctx.now(),
    )
    return await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action=action.value,
        from_state=before.state.value,
        to_state=new.state.value,
        actor=data.actor,
        detail=detail,
        cause=event.id,
    )


_MET_BY: dict[Action, list[str]] = {
    Action.ACCEPT: [DueKind.ACCEPT],
    Action.RESOLVE: [DueKind.RESOLVE],
    Action.VERIFY_PASSED: [DueKind.VERIFY],
    Action.VERIFY_FAILED: [DueKind.VERIFY],
    Action.RATE_SATISFIED: [DueKind.FOLLOW_UP],
    Action.RATE_UNSATISFIED: [DueKind.FOLLOW_UP],
}


async def _settle_deadlines(
    conn: asyncpg.Connection,
    ctx: Context,
    case: dict[str, Any],
    before: CaseProgress,
    new: CaseProgress,
    action: Action,
) -> None:
    """Close what the step meets, void what no longer applies, open what the next step owes."""
    case_id = case["case_id"]
    if action in _MET_BY:
        await case_store.close_deadlines(conn, case_id, "met", kinds=_MET_BY[action])
    if action is Action.REPORT_IN:  # settles the part of whoever answers for it too (a missed part escalated)
        for party in sorted(before.owing - new.owing):
            await case_store.close_deadlines(conn, case_id, "met", kinds=["report_in"], party=party)
    if new.state in ENDED:
        await case_store.close_deadlines(conn, case_id, "void")
        return
    now = ctx.now()
    if new.state is State.RESOLVED and before.state is not State.RESOLVED:  # the command centre must check it
        centre = (
            ctx.registry.command_centre_for(case["place"]).code if case.get("place") in ctx.registry.units else None
        )
        due = deadline(
            now,
            ctx.after_care.verify_within_days,
            ClockKind.WORKING_DAYS,
            ctx.policy.tz,
            ctx.policy.local_days,
            ctx.policy.office,
        ).due
        await case_store.open_deadline(
            conn,
            case_id,
            "verify",
            f"unit:{centre}" if centre else "supervisor",
            now,
            due,
            [],
            scale=ctx.deadline_scale,
            now=now,
        )
    if new.state is State.VERIFIED and before.state is not State.VERIFIED:  # the resident's window to rate it
        due = now + timedelta(hours=ctx.after_care.follow_up_within_hours)
        await case_store.open_deadline(
            conn, case_id, "follow_up", "resident", now, due, [], scale=ctx.deadline_scale, now=now
        )


async def _reopened(conn: asyncpg.Connection, ctx: Context, case: dict[str, Any]) -> list[int]:
    """Back to handling, with a fresh resolve-by from the catalog."""
    matter = ctx.catalog.get(case["matter_code"]) if case.get("matter_code") in ctx.catalog else None
    now = ctx.now()
    hours, clock = (matter.resolve_within, matter.clock) if matter else (ctx.policy.triage_resolve_hours, None)
    due = deadline(now, hours, clock, ctx.policy.tz, ctx.policy.local_days, ctx.policy.office) if clock else None
    resolve_by = due.due if due else now + timedelta(hours=hours)
    await case_store.close_deadlines(conn, case["case_id"], "void", kinds=["resolve"])
    resolve_by = await case_store.open_deadline(
        conn, case["case_id"], "resolve", case["lead"], now, resolve_by, [], scale=ctx.deadline_scale, now=now
    )
    await case_store.update_case(conn, case["case_id"], {"resolve_by": resolve_by})
    return []


async def _reroute(
    conn: asyncpg.Connection, ctx: Context, case: dict[str, Any], progress: CaseProgress, *, cause: str
) -> list[int]:
    """A return: route again without the units that returned it (after repeated returns: arbitration)."""
    excluded = frozenset(parse_assignee(p) for p in progress.returned_by)
    decision = route(
        facts_of(case, excluded=excluded, returns=progress.returns), ctx.registry, ctx.catalog, ctx.now(), ctx.policy
    )
    detail = {
        "lead": str(decision.lead),
        "assisting": [str(a) for a in decision.assisting],
        "level": decision.level.value,
        "arbitration": decision.arbitration,
        "excluded": sorted(progress.returned_by),
        "rules": [s.rule for s in decision.trace],
    }
    routed = json.dumps(decision.to_dict(), ensure_ascii=False, default=str)
    await case_store.update_case(conn, case["case_id"], {"level": decision.level.value, "decision": routed})
    _, ids = await assign(
        conn,
        ctx,
        case,
        progress,
        lead=str(decision.lead),
        assisting=[str(a) for a in decision.assisting],
        start=ctx.now(),
        accept_by=decision.accept_by,
        resolve_by=decision.resolve_by,
        clock=decision.clock,
        warn_at=decision.warn_at,
        actor=SYSTEM,
        detail=detail,
        cause=f"{cause}/reroute",
    )
    return ids


def _known_assignee(ctx: Context, lead: str) -> bool:
    kind, _, code = lead.partition(":")
    known = {"unit": ctx.registry.units, "department": ctx.registry.departments, "branch": ctx.registry.branches}
    return code in known.get(kind, {})


async def _redispatch(
    conn: asyncpg.Connection,
    ctx: Context,
    event: CloudEvent[ActionRequested],
    case: dict[str, Any],
    progress: CaseProgress,
) -> list[int]:
    """A command centre re-dispatches by hand: a new lead with fresh deadlines, through the same assign step."""
    data = event.data
    lead = str(data.payload.get("lead") or "")
    if not _known_assignee(ctx, lead):
        return await _refuse(conn, ctx, event, case, "unknown_unit", f"no unit, department or branch {lead!r}")
    try:  # the lifecycle's verdict before anything is written
        apply(progress, Action.ASSIGN, Role(data.actor.role), data.actor.id, lead=lead)
    except GridDispatchError as exc:
        return await _refuse(conn, ctx, event, case, exc.code, str(exc))
    now = ctx.now()
    matter = ctx.catalog.get(case["matter_code"]) if case.get("matter_code") in ctx.catalog else None
    due = deadlines(facts_of(case), matter, now, ctx.policy, Trace())
    detail = {"from": progress.lead, "to": lead, "reason": data.text, "by_hand": True}
    _, ids = await assign(
        conn,
        ctx,
        case,
        progress,
        lead=lead,
        assisting=sorted(progress.assisting - {lead}),
        start=now,
        accept_by=due.accept_by,
        resolve_by=due.resolve_by,
        clock=due.clock,
        warn_at=matter.warn_at if matter else (0.5, 0.8),
        actor=data.actor,
        detail={k: v for k, v in detail.items() if v is not None},
        cause=event.id,
    )
    return ids
