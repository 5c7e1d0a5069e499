"""Supervision (督办) on a case: urges, supervision orders and their replies, and what a missed deadline or an
unanswered order does. Pure, on commands.py's `_Work` (the same sequence: deadlines, row, history, notices).

* a missed accept-by or resolve-by under the `supervise` policy (`supervise_missed`): the next rung is put on
  the case as supervisor, the lead stays with a fresh deadline of the missed one's length and a yellow order;
* by hand (`supervise_by_hand`), by the supervising level (shared.domain.case.supervising): `urge` (催办),
  `supervise_order` (督办单, yellow or red, a reason, a reply-by), and the lead's `reply_order`;
* an order's reply-by passes unanswered (`order_unanswered`): a yellow order becomes a red one from the rung above
  its issuer (the issuer itself at the top); an unanswered red order takes the case over (the next rung leads),
  at the top a fresh red order chases the district command centre again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from shared.domain.case.commands import Fired, Request, _escalate, _refuse, _Work
from shared.domain.case.model import (
    SYSTEM,
    Case,
    CaseDeadline,
    Changed,
    DeadlineStatus,
    Order,
    OrderColour,
    Rules,
    Who,
    derived_id,
)
from shared.domain.case.supervising import may_supervise, rung_above, supervising_level
from shared.domain.lifecycle import IN_HANDLING, Action, DueKind, Tier
from shared.domain.model import EscalationRule
from shared.domain.routing import escalate, parse_assignee
from shared.domain.routing.ladder import MIN_REALERT
from shared.errors import Conflict, Forbidden, GridDispatchError, InvalidInput

# The history entries supervision writes besides its actions' (urge, supervise_order, reply_order)
SUPERVISE = "supervise"  # a missed deadline put the next rung on the case as supervisor
UNANSWERED = "order_unanswered"  # an order's reply-by passed without a reply


class NotSupervising(Forbidden):
    code = "not_supervising"


class UnknownOrder(Conflict):
    code = "unknown_order"


class NotYourOrder(Forbidden):
    code = "order_not_yours"


class BadReplyBy(InvalidInput):
    code = "bad_reply_by"


def supervise_by_hand(work: _Work, request: Request, action: Action, cause: str) -> None:
    """An urge, an order or a reply someone asked for (the lifecycle allowed the row): checked, then recorded."""
    try:
        if action is Action.REPLY_ORDER:
            _reply(work, request, cause)
            return
        unit = request.actor.unit
        if not may_supervise(work.case, work.rules, unit):
            level = supervising_level(work.case, work.rules)
            raise NotSupervising(
                f"{unit or 'no unit'} is not the supervising level of this case ({level}) nor above it"
            )
        if action is Action.URGE:
            _urge(work, request, cause)
        else:
            _order_by_hand(work, request, cause)
    except GridDispatchError as exc:
        _refuse(work, request, cause, exc)


def _urge(work: _Work, request: Request, cause: str) -> None:
    case = work.case
    assert case.lead is not None  # in handling
    detail = _clean(
        {
            "reason": request.text,
            "reason_code": request.reason_code,
            "by": request.actor.unit,
            "to": case.lead,
            "to_person": case.lead_person,
        }
    )
    work.entry(Action.URGE.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    work.notice(case.lead, "urged", cause)


def _order_by_hand(work: _Work, request: Request, cause: str) -> None:
    payload, rule = request.payload, work.rules.catalog.escalation_of(work.case.matter_code)
    colour = OrderColour(str(payload.get("colour") or OrderColour.YELLOW.value))
    raw = payload.get("reply_by")
    if raw is None:
        due, scale = work.now + timedelta(hours=rule.reply_within_hours), None
    else:
        try:
            due, scale = datetime.fromisoformat(str(raw)), 1.0  # the time asked for, on the clock
        except ValueError:
            raise BadReplyBy(f"reply_by {raw!r} is not a time", field="reply_by") from None
        if due.tzinfo is None or due <= work.now:
            raise BadReplyBy("reply_by must be a later time with a time zone offset", field="reply_by")
    issue(
        work,
        colour,
        str(request.actor.unit),
        request.text or "",
        due,
        request.actor,
        cause,
        event_id=cause,
        scale=scale,
    )


def _reply(work: _Work, request: Request, cause: str) -> None:
    case, order_id = work.case, str(request.payload.get("order_id") or "")
    order = case.supervision.order(order_id)
    if order is None:
        raise UnknownOrder(f"no open supervision order {order_id!r} on this case", field="order_id")
    if order.to != request.actor.unit:
        raise NotYourOrder(f"order {order_id} is addressed to {order.to}, not {request.actor.unit}", field="order_id")
    late = work.now > order.reply_by
    work.close_deadline(order_id, DeadlineStatus.MET)
    detail = _clean(
        {
            "order_id": order_id,
            "colour": order.colour.value,
            "by": order.by,
            "to": order.to,
            "reply": request.text,
            "late": late,
            "reply_by": order.reply_by.isoformat(),
        }
    )
    work.entry(Action.REPLY_ORDER.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    work.notice(order.by, "order_replied", cause, person=work.responsible(order.by))


def issue(
    work: _Work,
    colour: OrderColour,
    by: str,
    reason: str,
    due: datetime,
    actor: Who,
    cause: str,
    *,
    event_id: str,
    scale: float | None = None,
    extra: dict[str, Any] | None = None,
) -> Order:
    """Issue a supervision order to the lead: its reply-by deadline (the order's id), the row, history, notice."""
    case = work.case
    assert case.lead is not None
    order_id = derived_id(event_id, "order")  # the order is its reply-by deadline
    reply_by = work.open_deadline(
        DueKind.ORDER_REPLY, case.lead, work.now, due, scale=scale, deadline_id=UUID(order_id)
    )
    order = Order(order_id, colour, by, case.lead, reply_by, reason)
    supervision = work.get("supervision")
    work.set(supervision=replace(supervision, orders=(*supervision.orders, order)), scope_keys=work.keys_with([by]))
    detail = {
        **order.as_dict(),
        "to_person": case.lead_person,
        "automatic": actor is SYSTEM,
        **(extra or {}),
    }
    work.entry(Action.SUPERVISE_ORDER.value, case.state, actor, _clean(detail), cause=cause, event_id=event_id)
    work.notice(case.lead, f"supervision_order_{colour.value}", cause)
    return order


def supervise_missed(
    work: _Work, fired: Fired, missed: CaseDeadline, supervisor: str, rule: EscalationRule, reason: str, *, cause: str
) -> None:
    """Policy `supervise`: the next rung supervises, the lead keeps the case with a fresh deadline of the missed
    one's length (already scaled) and a yellow supervision order from the supervisor."""
    case, now = work.case, work.now
    misses = case.supervision.misses + 1
    allowance = max(missed.due_at - missed.starts_at, MIN_REALERT)
    work.close_deadlines(DeadlineStatus.VOID, kinds=[fired.kind], party=fired.assignee)
    due = work.open_deadline(fired.kind, fired.assignee, now, now + allowance, scale=1.0)
    work.set(
        supervision=replace(work.get("supervision"), supervisor=supervisor, misses=misses),
        scope_keys=work.keys_with([supervisor]),
        **{"accept_by" if fired.kind is DueKind.ACCEPT else "resolve_by": due},
    )
    detail: dict[str, Any] = {
        "reason": reason,
        "supervisor": supervisor,
        "lead": fired.assignee,
        "kind": fired.kind.value,
        "misses": misses,
        "take_over_after": rule.take_over_after,
        "next_due": due.isoformat(),
    }
    work.entry(SUPERVISE, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, SUPERVISE))
    work.notice(supervisor, "supervisor", cause, person=work.responsible(supervisor))
    reply_by = now + timedelta(hours=rule.reply_within_hours)
    issue(work, OrderColour.YELLOW, supervisor, reason, reply_by, SYSTEM, cause, event_id=derived_id(cause, "order"))


def order_unanswered(case: Case, fired: Fired, rules: Rules, now: datetime, *, cause: str) -> Changed | None:
    """An order's reply-by passed (its escalate tier): a red order from the rung above, or a take-over."""
    if fired.tier is not Tier.ESCALATE or case.state not in IN_HANDLING:
        return None
    order, deadline = case.supervision.order(fired.deadline_id), case.deadline(fired.deadline_id)
    if order is None or deadline is None or not deadline.is_open:
        return None  # answered (or voided by a new lead) before this event was applied
    work = _Work(case, rules, now)
    work.close_deadline(order.order_id, DeadlineStatus.VOID)
    reason = f"supervision order {order.order_id} unanswered by {order.to} at {order.reply_by.isoformat()}"
    detail = {**order.as_dict(), "to_person": case.lead_person}
    work.entry(UNANSWERED, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, UNANSWERED))
    at_top = case.lead is None or escalate(parse_assignee(case.lead), rules.registry, place=case.place).at_top
    if order.colour is OrderColour.RED and not at_top:
        _escalate(work, SYSTEM, reason, cause=cause)  # 提级: the next rung leads
        return work.done()
    by = order.by if order.colour is OrderColour.RED else rung_above(order.by, rules, case.place) or order.by
    due = now + (order.reply_by - deadline.starts_at)  # the same allowance again, already scaled
    extra = {"escalated_from": order.order_id}
    issue(
        work,
        OrderColour.RED,
        by,
        reason,
        due,
        SYSTEM,
        cause,
        event_id=derived_id(cause, "order"),
        scale=1.0,
        extra=extra,
    )
    return work.done()


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if v is not None}
