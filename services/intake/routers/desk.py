"""GET /v1/supervision/desk: the supervision desk (督办台), the open cases of an area the most overdue first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.intake.area import area_roots
from services.intake.console_metrics import CONSOLE_QUERY_SECONDS
from services.intake.deps import Client, Res, require
from services.intake.desk_queries import DeskQuery, desk
from services.intake.schemas import problems
from shared.api_clients import Scope

router = APIRouter(prefix="/v1", tags=["supervision"], responses=problems(401, 403, 422, 429))

Filter = Literal["overdue", "escalated", "waiting_department", "summoned_pending"]


@router.get(
    "/supervision/desk",
    summary="The supervision desk (督办台): the area's open cases, the most overdue first, with filters and counts",
    description=(
        "Every unresolved case this client may see that happened in `place` (or below it; default: all it sees), "
        "whoever leads it now. Sorted: overdue ones first, the longest overdue first; then by urgency "
        "(emergency, high, normal, low), the number of escalations (most first) and the next due time. Each item: "
        "`due_kind`/`due_at` (the accept-by until accepted, then the resolve-by), `overdue_s` (seconds past it; "
        "negative: left), `escalations` (take-overs), `ever_escalated`, `waiting_department` (a department or its "
        "branch leads), `summoned_pending` (departments or branches that owe their part), `orders` (supervision "
        "orders issued), `supervisor`. `filter` (repeatable, all must hold): `overdue` (now), `escalated` "
        "(ever), `waiting_department`, `summoned_pending` (summoned and not reported in). `counts`: how many "
        "cases of the area each filter holds alone, and `all`; `total`: how many the chosen filters hold."
    ),
    responses=problems(404),
)
async def get_desk(
    client: Client,
    res: Res,
    place: Annotated[
        str | None,
        Query(max_length=80, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$", description="unit:<code> (or the code)"),
    ] = None,
    filters: Annotated[
        list[Filter] | None, Query(alias="filter", description="narrow to cases that are all of these")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    require(client, Scope.READ)
    code = place.removeprefix("unit:") if place else None
    query = DeskQuery(code, tuple(dict.fromkeys(filters or ())), limit, offset)
    async with res.pool.acquire() as conn:
        if code is not None:
            await area_roots(conn, client, code)  # 404 for a unit that does not exist or lies outside the area
        with CONSOLE_QUERY_SECONDS.labels("desk").time():
            found = await desk(conn, client, query)
    now = datetime.now(UTC)
    for item in found["items"]:
        due = item.get("due_at")
        item["overdue_s"] = int((now - datetime.fromisoformat(due)).total_seconds()) if due else None
    return {**found, "filters": list(query.filters), "place": f"unit:{query.place}" if query.place else None}
