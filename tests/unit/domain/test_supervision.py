"""Supervision (督办) on the sample district: the escalation policy at a missed deadline, supervision orders and
their replies, urges, and what an unanswered order does (shared/domain/case/supervision_commands.py).

The sample catalog supervises dog nuisance (a grid's matter; the 3rd missed deadline takes it over) and takes
sanitation over at the first miss (the district default), so both policies are checked as a user sees them: who
leads, who supervises, the orders open on the case, its deadlines, its history and who is told.
"""

from __future__ import annotations

from datetime import timedelta

from shared.domain.case import Case, Changed, Fired, Request, Who, act, fire
from shared.domain.case.model import OrderColour
from shared.domain.case.supervising import may_supervise, supervising_level
from shared.domain.lifecycle import DueKind, State, Tier
from tests.unit.domain.case_helpers import entries, notices, open_deadlines, refusals
from tests.unit.domain.test_case_commands import (
    COMMUNITY,
    DISTRICT,
    GRID,
    RULES,
    STREET,
    VOID,
    h,
    lead,
    opened,
)

SUPERVISED = "dog_nuisance"  # policy supervise, take_over_after 3; led by the grid
BY_COMMUNITY = Who("c-1", "supervisor", COMMUNITY)
BY_STREET = Who("s-1", "supervisor", STREET)


def missed(case: Case, kind: DueKind, hours: float, cause: str) -> Changed:
    """The escalate tier of the lead's open deadline of `kind`, found missed at NOW + hours."""
    (d,) = [d for d in case.open_deadlines() if d.kind is kind and d.party == case.lead]
    fired = Fired(str(d.deadline_id), kind, Tier.ESCALATE, d.due_at, d.party)
    changed = fire(case, fired, RULES, h(hours), cause=cause)
    assert changed is not None
    return changed


def order_fired(case: Case, order_id: str, hours: float, cause: str) -> Changed | None:
    order = case.supervision.order(order_id)
    assert order is not None
    return fire(
        case,
        Fired(order_id, DueKind.ORDER_REPLY, Tier.ESCALATE, order.reply_by, order.to),
        RULES,
        h(hours),
        cause=cause,
    )


def ask(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Changed:
    return act(case, Request(action, who, **request), RULES, h(hours), cause=cause)  # type: ignore[arg-type]


def test_the_supervising_level_is_the_rung_above_the_lead_and_those_above_it_may_act_as_it() -> None:
    case = opened(SUPERVISED).case
    assert case.lead == GRID and supervising_level(case, RULES) == COMMUNITY
    assert may_supervise(case, RULES, COMMUNITY) and may_supervise(case, RULES, STREET)
    assert may_supervise(case, RULES, DISTRICT)
    assert not may_supervise(case, RULES, GRID)  # the lead does not supervise itself
    assert not may_supervise(case, RULES, "unit:610199002")  # another street
    assert not may_supervise(case, RULES, None)


def test_a_missed_accept_by_under_supervise_keeps_the_lead_puts_the_rung_above_on_it_and_issues_a_yellow_order() -> (
    None
):
    case = opened(SUPERVISED).case
    first = open_deadlines(case)[(DueKind.ACCEPT, GRID)]
    changed = missed(case, DueKind.ACCEPT, 3, "fired-1")
    after = changed.case
    assert after.lead == GRID and after.state is State.ASSIGNED and after.progress.escalations == 0
    assert after.supervision.supervisor == COMMUNITY and after.supervision.misses == 1
    assert [e.action for e in entries(changed)] == ["supervise", "supervise_order"]
    supervise, issued = entries(changed)
    assert supervise.detail["supervisor"] == COMMUNITY and supervise.detail["take_over_after"] == 3
    (order,) = after.supervision.orders
    assert (order.colour, order.by, order.to) == (OrderColour.YELLOW, COMMUNITY, GRID)
    assert order.reply_by == h(3) + timedelta(hours=24)  # the catalog's reply_within_hours
    assert issued.detail["order_id"] == order.order_id and issued.detail["automatic"] is True
    running = open_deadlines(after)
    assert str(running[(DueKind.ORDER_REPLY, GRID)].deadline_id) == order.order_id
    fresh = running[(DueKind.ACCEPT, GRID)]  # the missed one gives way to one of the same length
    assert fresh.due_at - fresh.starts_at == first.due_at - first.starts_at and after.accept_by == fresh.due_at
    assert next(d for d in after.deadlines if d.deadline_id == first.deadline_id).status is VOID
    told = {(n.assignee, n.role) for n in notices(changed)}
    assert told == {(COMMUNITY, "supervisor"), (GRID, "supervision_order_yellow")}
    assert COMMUNITY in after.scope_keys


def test_the_catalogs_count_of_misses_takes_the_case_over() -> None:
    case = opened(SUPERVISED).case
    for n in (1, 2):
        case = missed(case, DueKind.ACCEPT, 3 * n, f"fired-{n}").case
        assert case.lead == GRID and case.supervision.misses == n and len(case.supervision.orders) == n
    third = missed(case, DueKind.ACCEPT, 9, "fired-3")
    after = third.case
    assert after.lead == COMMUNITY and after.progress.escalations == 1  # 提级, as before supervision
    assert after.supervision.supervisor is None and after.supervision.orders == ()  # a new lead starts afresh
    assert [e.action for e in entries(third)] == ["escalate", "assign"]
    assert not [d for d in after.open_deadlines() if d.kind is DueKind.ORDER_REPLY]


def test_the_take_over_policy_climbs_at_the_first_miss() -> None:
    case = opened("sanitation").case
    changed = missed(case, DueKind.ACCEPT, 3, "fired-1")
    assert [e.action for e in entries(changed)] == ["escalate", "assign"]
    assert changed.case.lead == GRID and changed.case.supervision.orders == ()


def test_the_lead_replies_to_an_order_in_time_or_late() -> None:
    case = missed(opened(SUPERVISED).case, DueKind.ACCEPT, 3, "fired-1").case
    (order,) = case.supervision.orders
    replied = ask(
        case, "reply_order", lead(case), 4, "reply-1", text="已联系养犬人整改", payload={"order_id": order.order_id}
    )
    assert not refusals(replied)
    (entry,) = entries(replied)
    assert (
        entry.action == "reply_order" and entry.detail["late"] is False and entry.detail["reply"] == "已联系养犬人整改"
    )
    assert replied.case.supervision.orders == () and replied.case.lead == GRID
    met = next(d for d in replied.case.deadlines if str(d.deadline_id) == order.order_id)
    assert met.status.value == "met"
    assert {(n.assignee, n.role) for n in notices(replied)} == {(COMMUNITY, "order_replied")}
    late = ask(case, "reply_order", lead(case), 40, "reply-2", text="已整改", payload={"order_id": order.order_id})
    assert entries(late)[0].detail["late"] is True


def test_a_reply_to_an_order_of_another_unit_or_to_no_order_is_refused() -> None:
    case = missed(opened(SUPERVISED).case, DueKind.ACCEPT, 3, "fired-1").case
    (order,) = case.supervision.orders
    other = ask(case, "reply_order", Who("w-9", "assignee", "unit:610199001001002"), 4, "r1", text="x",
                payload={"order_id": order.order_id})  # fmt: skip
    assert [r.code for r in refusals(other)] == ["illegal_transition"]  # not the lead it is addressed to
    unknown = ask(case, "reply_order", lead(case), 4, "r2", text="x", payload={"order_id": "nope"})
    assert [r.code for r in refusals(unknown)] == ["unknown_order"]
    assert other.case.supervision.orders == unknown.case.supervision.orders == (order,)
    assert [e.action for e in entries(unknown)] == ["rejected"]


def test_a_supervisor_issues_an_order_by_hand_and_someone_below_the_supervising_level_may_not() -> None:
    case = opened(SUPERVISED).case
    due = h(30)
    issued = ask(case, "supervise_order", BY_STREET, 1, "order-1", text="群众反映强烈，限期处理",
                 payload={"colour": "red", "reply_by": due.isoformat()})  # fmt: skip
    assert not refusals(issued)
    (order,) = issued.case.supervision.orders
    assert (order.colour, order.by, order.to, order.reply_by) == (OrderColour.RED, STREET, GRID, due)
    assert entries(issued)[0].actor == BY_STREET and entries(issued)[0].detail["automatic"] is False
    assert {(n.assignee, n.role) for n in notices(issued)} == {(GRID, "supervision_order_red")}
    below = ask(case, "supervise_order", Who("g-1", "supervisor", GRID), 1, "order-2", text="督办")
    assert [r.code for r in refusals(below)] == ["not_supervising"] and below.case.supervision.orders == ()
    past = ask(case, "supervise_order", BY_COMMUNITY, 1, "order-3", text="督办", payload={"reply_by": h(0).isoformat()})
    assert [r.code for r in refusals(past)] == ["bad_reply_by"]


def test_an_urge_is_recorded_and_tells_the_lead() -> None:
    case = opened(SUPERVISED).case
    urged = ask(case, "urge", BY_COMMUNITY, 1, "urge-1", text="请尽快签收")
    (entry,) = entries(urged)
    assert entry.action == "urge" and entry.detail["reason"] == "请尽快签收" and entry.detail["to"] == GRID
    assert {(n.assignee, n.role) for n in notices(urged)} == {(GRID, "urged")}
    elsewhere = ask(case, "urge", Who("x-1", "supervisor", "unit:610199002"), 1, "urge-2", text="催办")
    assert [r.code for r in refusals(elsewhere)] == ["not_supervising"]


def test_an_unanswered_yellow_order_becomes_red_from_the_rung_above_and_an_unanswered_red_one_takes_over() -> None:
    case = missed(opened(SUPERVISED).case, DueKind.ACCEPT, 3, "fired-1").case
    (yellow,) = case.supervision.orders
    red_changed = order_fired(case, yellow.order_id, 28, "order-fired-1")
    assert red_changed is not None
    assert [e.action for e in entries(red_changed)] == ["order_unanswered", "supervise_order"]
    (red,) = red_changed.case.supervision.orders
    assert (red.colour, red.by, red.to) == (OrderColour.RED, STREET, GRID)
    assert entries(red_changed)[1].detail["escalated_from"] == yellow.order_id
    assert red_changed.case.lead == GRID
    again = Fired(yellow.order_id, DueKind.ORDER_REPLY, Tier.ESCALATE, yellow.reply_by, GRID)
    assert fire(red_changed.case, again, RULES, h(29), cause="again") is None  # no longer open: nothing
    took = order_fired(red_changed.case, red.order_id, 60, "order-fired-2")
    assert took is not None
    assert [e.action for e in entries(took)] == ["order_unanswered", "escalate", "assign"]
    assert took.case.lead == COMMUNITY and took.case.supervision.orders == ()


def test_an_answered_order_is_not_escalated() -> None:
    case = missed(opened(SUPERVISED).case, DueKind.ACCEPT, 3, "fired-1").case
    (order,) = case.supervision.orders
    replied = ask(case, "reply_order", lead(case), 4, "reply-1", text="已处理", payload={"order_id": order.order_id})
    assert order_fired(case, order.order_id, 28, "f") is not None
    d = order.reply_by
    fired = Fired(order.order_id, DueKind.ORDER_REPLY, Tier.ESCALATE, d, GRID)
    assert fire(replied.case, fired, RULES, h(28), cause="f") is None
