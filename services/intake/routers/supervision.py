"""Supervision (督办) to read: a case's supervision orders with their state and its urges, and the open orders
of the caller's area (the console's list). Issuing, urging and replying are actions (POST /v1/cases/{id}/actions).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.intake.deps import Client, Res, require
from services.intake.schemas import problems
from services.intake.supervise import open_orders
from shared.api_clients import Scope
from shared.domain.case.order_states import orders_of, urges_of
from shared.errors import NotFound
from shared.queries import case_events, cases
from shared.queries.visibility import visibility_of, visible

router = APIRouter(prefix="/v1", tags=["supervision"], responses=problems(401, 403, 422, 429))

_OPEN_ORDERS = f"""
    SELECT c.case_id, c.case_number, c.title, c.state, c.lead, c.lead_person, c.matter_code,
           c.supervision->>'supervisor' AS supervisor, o AS ord
    FROM cases c, jsonb_array_elements(coalesce(c.supervision->'orders', '[]')) o
    WHERE jsonb_array_length(coalesce(c.supervision->'orders', '[]')) > 0 AND {visible("$1", "c.scope_keys")}
      AND ($2::text IS NULL OR o->>'by' = $2 OR o->>'to' = $2)
    ORDER BY o->>'reply_by', c.case_id
    LIMIT $3"""


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@router.get(
    "/cases/{case_id}/supervision",
    summary="A case's supervision (督办): its supervisor, its supervision orders with their state, its urges",
    description=(
        "`orders`: every supervision order (督办单) issued on the case, oldest first, each with `state`: `open` "
        "(owed, its reply-by running), `answered` (replied by its reply-by), `answered_late`, `escalated` (its "
        "reply-by passed unanswered: a red order from the rung above, or a take-over, followed: `escalated_to`), "
        "`void` (a new lead took the case, or it ended). `urges`: every urge (催办). `supervisor`: the rung a "
        "missed deadline put on the case (policy `supervise`); `misses`: the deadlines its lead missed."
    ),
    responses=problems(404),
)
async def get_supervision(case_id: uuid.UUID, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.READ)
    async with res.pool.acquire() as conn:
        row = await cases.visible_case(conn, visibility_of(client), case_id)
        if row is None:
            raise NotFound(f"no case {case_id} that this client may see", case_id=str(case_id))
        events = await case_events.history(conn, case_id)
    history = [
        {"action": e["action"], "actor": _json(e["actor"]), "detail": _json(e["detail"]), "at": e["at"]} for e in events
    ]
    supervision = _json(row["supervision"]) or {}
    running = {str(o["order_id"]) for o in open_orders(row)}
    orders = orders_of(history, running)
    for order in orders:
        order["issued_at"], order["replied_at"] = _time(order["issued_at"]), _time(order["replied_at"])
        order["escalated_at"] = _time(order["escalated_at"])
    urges = [{**u, "at": _time(u["at"])} for u in urges_of(history)]
    return {
        "case_id": str(case_id),
        "lead": row["lead"],
        "supervisor": supervision.get("supervisor"),
        "misses": supervision.get("misses", 0),
        "orders": orders,
        "urges": urges,
    }


@router.get(
    "/supervision/orders",
    summary="The open supervision orders of the cases this client may see, the most pressing reply-by first",
    description=(
        "For a supervising level's console: each open order with its case. `unit` narrows it to the orders a unit "
        "issued or must answer (unit:<code>, department:<code>, branch:<code>)."
    ),
)
async def get_open_orders(
    client: Client,
    res: Res,
    unit: Annotated[
        str | None, Query(max_length=80, pattern=r"^(unit|branch|department):[A-Za-z0-9_.\-]{1,64}$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    require(client, Scope.READ)
    async with res.pool.acquire() as conn:
        rows = await conn.fetch(_OPEN_ORDERS, visibility_of(client), unit, limit)
    items = []
    for r in rows:
        order = _json(r["ord"])
        items.append(
            {
                **order,
                "state": "open",
                "case_id": str(r["case_id"]),
                "case_number": r["case_number"],
                "title": r["title"],
                "case_state": r["state"],
                "lead": r["lead"],
                "lead_person": r["lead_person"],
                "supervisor": r["supervisor"],
            }
        )
    return {"items": items}
