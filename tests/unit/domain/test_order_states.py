"""A case's supervision orders (督办单) and urges as its history records them (shared/domain/case/order_states.py).

The histories are the ones the supervision commands write on the sample district (a dog nuisance, supervised, led
by the grid: its missed accept-by issues a yellow order from the community), read back as intake reads
`case_events`; what is checked is the state each order is shown in and what it says: who asked what by when, who
answered what and when, what followed an unanswered one.
"""

from __future__ import annotations

from typing import Any

from shared.domain.case import Changed, Entry
from shared.domain.case.order_states import OrderState, orders_of, state_of, urges_of
from shared.domain.lifecycle import DueKind
from tests.unit.domain.case_helpers import entries
from tests.unit.domain.test_case_commands import COMMUNITY, GRID, STREET, h, lead, opened
from tests.unit.domain.test_supervision import BY_COMMUNITY, SUPERVISED, ask, missed, order_fired


def rows(*changes: Changed | None) -> list[dict[str, Any]]:
    """The history rows of these changes, oldest first, as intake reads them from case_events."""
    out: list[dict[str, Any]] = []
    for changed in changes:
        assert changed is not None
        out += [_row(e) for e in entries(changed)]
    return out


def _row(e: Entry) -> dict[str, Any]:
    return {"action": e.action, "actor": e.actor.as_dict(), "detail": dict(e.detail), "at": e.at}


def supervised() -> tuple[list[Changed], str]:
    """The case opened and its first missed accept-by: one yellow order from the community to the grid."""
    first = opened(SUPERVISED)
    miss = missed(first.case, DueKind.ACCEPT, 3, "fired-1")
    (order,) = miss.case.supervision.orders
    return [first, miss], order.order_id


def open_ids(changed: Changed) -> set[str]:
    return {o.order_id for o in changed.case.supervision.orders}


def test_an_issued_order_is_open_while_the_case_owes_it_and_says_who_asked_what_by_when() -> None:
    history, order_id = supervised()
    (order,) = orders_of(rows(*history), open_ids(history[-1]))
    assert order["state"] == OrderState.OPEN == "open"
    assert (order["order_id"], order["colour"], order["by"], order["to"]) == (order_id, "yellow", COMMUNITY, GRID)
    assert order["automatic"] is True and order["escalated_from"] is None and order["escalated_to"] is None
    assert order["issued_at"] == h(3) and order["reply_by"] == h(27).isoformat()  # the catalog gives 24 h
    assert order["replied_at"] is order["reply"] is order["replied_by"] is order["late"] is None


def test_an_order_answered_by_its_reply_by_is_answered_with_the_reply_and_who_gave_it() -> None:
    history, order_id = supervised()
    worker = lead(history[-1].case)
    replied = ask(history[-1].case, "reply_order", worker, 4, "reply-1", text="已联系养犬人整改",
                  payload={"order_id": order_id})  # fmt: skip
    (order,) = orders_of(rows(*history, replied), open_ids(replied))
    assert order["state"] == OrderState.ANSWERED
    assert (order["reply"], order["replied_at"], order["late"]) == ("已联系养犬人整改", h(4), False)
    assert order["replied_by"] == worker.as_dict()


def test_an_order_answered_after_its_reply_by_is_answered_late_not_answered() -> None:
    history, order_id = supervised()
    reply_by = history[-1].case.supervision.orders[0].reply_by
    assert reply_by < h(40)  # the reply comes after it, before the escalation of the order was run
    replied = ask(history[-1].case, "reply_order", lead(history[-1].case), 40, "reply-1", text="已整改",
                  payload={"order_id": order_id})  # fmt: skip
    (order,) = orders_of(rows(*history, replied), open_ids(replied))
    assert order["state"] == OrderState.ANSWERED_LATE and order["late"] is True and order["replied_at"] == h(40)


def test_an_unanswered_yellow_order_is_escalated_to_the_red_one_that_followed_and_that_one_is_open() -> None:
    history, yellow_id = supervised()
    red = order_fired(history[-1].case, yellow_id, 28, "order-fired-1")
    assert red is not None
    yellow, second = orders_of(rows(*history, red), open_ids(red))
    assert (yellow["order_id"], yellow["state"]) == (yellow_id, OrderState.ESCALATED)
    assert yellow["escalated_at"] == h(28) and yellow["escalated_to"] == second["order_id"]
    assert (second["colour"], second["by"], second["state"]) == ("red", STREET, OrderState.OPEN)
    assert second["escalated_from"] == yellow_id and second["automatic"] is True


def test_an_unanswered_red_order_that_took_the_case_over_is_escalated_not_void() -> None:
    history, yellow_id = supervised()
    red = order_fired(history[-1].case, yellow_id, 28, "order-fired-1")
    assert red is not None
    (red_order,) = red.case.supervision.orders
    took = order_fired(red.case, red_order.order_id, 60, "order-fired-2")
    assert took is not None and took.case.lead == COMMUNITY and open_ids(took) == set()
    states = [o["state"] for o in orders_of(rows(*history, red, took), open_ids(took))]
    assert states == [OrderState.ESCALATED, OrderState.ESCALATED]


def test_an_order_no_longer_owed_unanswered_is_void() -> None:
    history, _ = supervised()
    case = history[-1].case
    second = missed(case, DueKind.ACCEPT, 6, "fired-2")
    third = missed(second.case, DueKind.ACCEPT, 9, "fired-3")  # the catalog's third miss: the community leads
    assert third.case.lead == COMMUNITY and open_ids(third) == set()
    orders = orders_of(rows(*history, second, third), open_ids(third))
    assert [o["state"] for o in orders] == [OrderState.VOID, OrderState.VOID]


def test_a_reply_wins_over_an_escalation_and_lateness_decides_which_answer() -> None:
    order = {"order_id": "o-1", "replied_at": h(30), "late": True, "escalated_at": h(28)}
    assert state_of(order, set()) is OrderState.ANSWERED_LATE  # replied after it, escalated or not
    assert state_of({**order, "late": False}, set()) is OrderState.ANSWERED
    assert state_of({"order_id": "o-1", "escalated_at": h(28)}, {"o-1"}) is OrderState.ESCALATED
    assert state_of({"order_id": "o-1"}, {"o-1"}) is OrderState.OPEN
    assert state_of({"order_id": "o-1"}, {"o-2"}) is OrderState.VOID


def test_replies_and_escalations_of_orders_not_issued_on_the_case_are_ignored() -> None:
    history, order_id = supervised()
    stray = [
        {"action": "reply_order", "actor": {}, "detail": {"order_id": "elsewhere", "late": False}, "at": h(4)},
        {"action": "order_unanswered", "actor": {}, "detail": {"order_id": "elsewhere"}, "at": h(5)},
        {"action": "comment", "actor": {}, "detail": None, "at": h(6)},
    ]
    (order,) = orders_of(rows(*history) + stray, {order_id})
    assert order["order_id"] == order_id and order["state"] == OrderState.OPEN and order["reply"] is None
    assert orders_of(stray, set()) == []


def test_urges_are_listed_oldest_first_with_who_urged_whom_and_why() -> None:
    history, _ = supervised()
    first = ask(history[-1].case, "urge", BY_COMMUNITY, 4, "urge-1", text="请尽快签收")
    second = ask(first.case, "urge", BY_COMMUNITY, 5, "urge-2", text="再次催办")
    urges = urges_of(rows(*history, first, second))
    assert [(u["at"], u["reason"], u["to"]) for u in urges] == [(h(4), "请尽快签收", GRID), (h(5), "再次催办", GRID)]
    assert urges[0]["by"] == BY_COMMUNITY.as_dict()
    assert orders_of(rows(first), set()) == []  # an urge is no order
