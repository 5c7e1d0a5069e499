"""GET /v1/dashboard: the big screen's figures (大屏) of an area, for the command centre's wall."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from services.intake.area import area_roots
from services.intake.console_metrics import CONSOLE_QUERY_SECONDS
from services.intake.dashboard_queries import DashboardQuery, dashboard
from services.intake.deps import Client, Res, require
from services.intake.schemas import problems
from shared.api_clients import Scope
from shared.queries.visibility import visibility_of

router = APIRouter(prefix="/v1", tags=["console"], responses=problems(401, 403, 404, 422, 429))


@router.get(
    "/dashboard",
    summary="The big screen's figures (大屏): today's reports by channel, open cases, trends, hot spots, escalations",
    description=(
        "For the cases this client may see that happened in `unit` (default: its area), on the district's clock: "
        "`today` (reports received since local midnight, `by_source` channel; cases resolved and closed today), "
        "`open` (unresolved cases now: `open`, `overdue`, ever `escalated`), `trend_days` (received and resolved "
        "per day, the last `days`), `trend_months` (per month, the last `months`), `hotspots` (reports of the "
        "last `days` counted in cells of `cell_degrees`, about 200 m at 0.002, the busiest first) and "
        "`escalations` (the latest of the last week: case, when, from and to whom). Open and overdue per street, "
        "and the rankings, are GET /v1/map and GET /v1/stats."
    ),
)
async def get_dashboard(
    client: Client,
    res: Res,
    unit: Annotated[
        str | None, Query(max_length=80, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$", description="default: the area")
    ] = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    months: Annotated[int, Query(ge=1, le=60)] = 12,
    cell_degrees: Annotated[float, Query(ge=0.0005, le=0.1)] = 0.002,
) -> dict[str, Any]:
    require(client, Scope.READ)
    tz = ZoneInfo(res.settings.district_timezone)
    now = datetime.now(UTC)
    async with res.pool.acquire() as conn:
        roots = await area_roots(conn, client, unit)
        query = DashboardQuery(roots, visibility_of(client), tz, now, days, months, cell_degrees)
        with CONSOLE_QUERY_SECONDS.labels("dashboard").time():
            figures = await dashboard(conn, query)
    return {"units": roots, "generated_at": now.isoformat(), "timezone": str(tz), **figures}
