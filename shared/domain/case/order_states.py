"""A case's supervision orders (督办单) and urges as its history records them, each order with its state. Pure.

    orders_of(history, open_ids)  # [{"order_id", "colour", "state", "reply", ...}], oldest first

States: `open` (owed, its reply-by running), `answered` (replied by the reply-by), `answered_late` (replied after
it, escalated or not), `escalated` (its reply-by passed unanswered: a red order or a take-over followed), `void`
(no longer owed unanswered: a new lead took the case, or the case ended).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from typing import Any

from shared.domain.lifecycle import Action

UNANSWERED = "order_unanswered"


class OrderState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ANSWERED_LATE = "answered_late"
    ESCALATED = "escalated"
    VOID = "void"


def _detail(entry: Mapping[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail") or {}
    return dict(detail)


def orders_of(history: Iterable[Mapping[str, Any]], open_ids: Collection[str]) -> list[dict[str, Any]]:
    """Every order issued on the case, oldest first: what it asked, who answered what and when, its state.

    `history`: entries with `action`, `actor`, `detail`, `at` (case_events rows); `open_ids`: the orders still
    open on the case (its `supervision` column)."""
    orders: dict[str, dict[str, Any]] = {}
    for entry in history:
        action, detail = entry.get("action"), _detail(entry)
        order_id = str(detail.get("order_id", ""))
        if action == Action.SUPERVISE_ORDER.value:
            orders[order_id] = {
                "order_id": order_id,
                "colour": detail.get("colour"),
                "reason": detail.get("reason", ""),
                "by": detail.get("by"),
                "to": detail.get("to"),
                "to_person": detail.get("to_person"),
                "automatic": bool(detail.get("automatic")),
                "escalated_from": detail.get("escalated_from"),
                "issued_at": entry.get("at"),
                "issued_by": entry.get("actor"),
                "reply_by": detail.get("reply_by"),
                "replied_at": None,
                "reply": None,
                "replied_by": None,
                "late": None,
                "escalated_at": None,
                "escalated_to": None,
            }
            source = orders.get(str(detail.get("escalated_from", "")))
            if source is not None:
                source["escalated_to"] = order_id
        elif action == Action.REPLY_ORDER.value and order_id in orders:
            orders[order_id].update(
                replied_at=entry.get("at"), reply=detail.get("reply"), replied_by=entry.get("actor"),
                late=bool(detail.get("late")),
            )  # fmt: skip
        elif action == UNANSWERED and order_id in orders:
            orders[order_id]["escalated_at"] = entry.get("at")
    for order in orders.values():
        order["state"] = state_of(order, open_ids).value
    return list(orders.values())


def state_of(order: Mapping[str, Any], open_ids: Collection[str]) -> OrderState:
    if order.get("replied_at") is not None:
        return OrderState.ANSWERED_LATE if order.get("late") else OrderState.ANSWERED
    if order.get("escalated_at") is not None:
        return OrderState.ESCALATED
    return OrderState.OPEN if order.get("order_id") in open_ids else OrderState.VOID


def urges_of(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every urge (催办) of the case, oldest first: when, by whom, why, to whom."""
    return [
        {
            "at": e.get("at"),
            "by": e.get("actor"),
            "reason": _detail(e).get("reason"),
            "to": _detail(e).get("to"),
            "to_person": _detail(e).get("to_person"),
        }
        for e in history
        if e.get("action") == Action.URGE.value
    ]
