"""GET /v1/map: the grids of the caller's area as GeoJSON, each with its open and overdue cases."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.intake.area import area_roots
from services.intake.console_metrics import CONSOLE_QUERY_SECONDS
from services.intake.deps import Client, Res, require
from services.intake.map_queries import map_features
from services.intake.schemas import problems
from shared.api_clients import Scope
from shared.queries.visibility import visibility_of

router = APIRouter(prefix="/v1", tags=["console"], responses=problems(401, 403, 422, 429))


@router.get(
    "/map",
    summary="GeoJSON of the grids under a unit (default: the caller's area), each with the open cases lying in it",
    description=(
        "A case lies where it happened (its micro-grid, or the smallest unit holding its place), whoever leads it "
        "now. Per unit: `open`, cases not yet resolved (reported, assigned, accepted, in progress, returned, "
        "escalated, reopened) lying in it or inside it; `overdue`, those whose accept-by (before acceptance) or "
        "resolve-by has passed; `escalated`, those that were ever moved up the ladder. `totals` (a member of the "
        "collection) counts the open cases of the whole area once: `outside_units_shown` lie in the area but in "
        "none of the units drawn (placed only at a larger unit), `led_above_level` are led by a unit above the "
        "level drawn, `led_by_departments` by a department or one of its branches. `GET /v1/cases?place=` lists "
        "the cases a unit counts. Only the cases this client may see are counted. `level=micro_grid` draws "
        "micro-grids instead."
    ),
    responses=problems(404, _404="no such unit in this client's area"),
)
async def get_map(
    client: Client,
    res: Res,
    unit: Annotated[
        str | None, Query(max_length=80, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$", description="unit code")
    ] = None,
    level: Annotated[Literal["street", "community", "grid", "micro_grid"], Query()] = "grid",
) -> dict[str, Any]:
    require(client, Scope.READ)
    async with res.pool.acquire() as conn:
        roots = await area_roots(conn, client, unit)
        with CONSOLE_QUERY_SECONDS.labels("map").time():
            return await map_features(conn, roots, level, visibility_of(client))
