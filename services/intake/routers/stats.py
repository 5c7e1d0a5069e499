"""GET /v1/stats and GET /v1/stats/monthly.csv: per unit (or department) and period, for command centres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.intake.area import ACTIVE, area_roots
from services.intake.console_metrics import CONSOLE_QUERY_SECONDS, EXPORTS
from services.intake.deps import Client, Res, require
from services.intake.schemas import in_range, problems
from services.intake.stats import Stats, tally
from services.intake.stats_csv import attachment, monthly_csv
from services.intake.stats_queries import By, buckets, case_facts
from shared.api_clients import ApiClient, Scope
from shared.errors import InvalidInput
from shared.logging import get_logger
from shared.queries.visibility import visibility_of

log = get_logger(__name__)
router = APIRouter(prefix="/v1/stats", tags=["console"], responses=problems(401, 403, 404, 422, 429))

LEVELS = ("district", "street", "community", "grid", "micro_grid")
DEFINITIONS = (
    "Cases received in [from, to) (merged duplicates excluded) that lie in the unit's area and the key may see; "
    "the other figures say what has happened to those cases so far. accepted_in_time: an accept-by deadline was "
    "met before it was due; resolved_in_time: a resolve-by deadline was met before it was due; overdue: an "
    "accept-by, resolve-by or report-in deadline ran past its due time; escalated / returned: at least once; "
    "rated / satisfied: the residents' ratings (each counts); satisfaction_rate = satisfied / rated; "
    "urged, orders_issued, extensions_approved, suspensions, reported_up: the steps of supervision (催办, 督办单), "
    "the clock (延期, 挂起) and report-up (上报) on those cases, each counted; suspended_hours: the time they stood "
    "suspended (still suspended: until now). "
    "by=street|community|grid: rows by where the case lies; by=department: by its lead's department."
)
_BELOW: dict[str, By] = {
    "district": "street",
    "street": "community",
    "community": "grid",
    "grid": "grid",
    "micro_grid": "grid",
}
UnitParam = Annotated[
    str | None,
    Query(max_length=80, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$", description="default: the caller's area"),
]
ByParam = Annotated[By | None, Query(description="rows per: default, the level below the unit")]


def _month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, mon = int(month[:4]), int(month[5:7])
    if not 1900 <= year < 2200:
        raise InvalidInput("a month between 1900 and 2199, please", field="month")
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def _checked_time(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone offset", field=name)
    try:
        return in_range(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}", field=name) from exc


async def _levels(conn: asyncpg.Connection, roots: list[str]) -> list[str]:
    rows = await conn.fetch(
        f"SELECT level FROM registry_units WHERE version_id = {ACTIVE} AND code = ANY($1::text[])", roots
    )
    return [r["level"] for r in rows]


def _by(levels: list[str], by: By | None) -> By:
    deepest = max((LEVELS.index(level) for level in levels), default=0)
    if by is None:
        return _BELOW[LEVELS[deepest]]
    if by != "department" and LEVELS.index(by) < deepest:
        raise InvalidInput(f"by={by} is above the unit asked for; choose a finer level", field="by")
    return by


async def _stats(
    res: Res, client: ApiClient, unit: str | None, by: By | None, start: datetime, end: datetime
) -> tuple[Stats, list[str], By]:
    async with res.pool.acquire() as conn:
        roots = await area_roots(conn, client, unit)
        chosen = _by(await _levels(conn, roots), by)
        with CONSOLE_QUERY_SECONDS.labels("stats").time():
            rows = await buckets(conn, roots, chosen)
            facts = await case_facts(conn, roots, chosen, start, end, visibility_of(client))
    return tally(rows, facts), roots, chosen


@router.get(
    "",
    summary="Statistics per unit (or department) and period: received, accepted and resolved in time, overdue, "
    "escalated, returned, ratings and satisfaction",
    description=DEFINITIONS,
)
async def get_stats(
    client: Client,
    res: Res,
    unit: UnitParam = None,
    by: ByParam = None,
    start: Annotated[datetime | None, Query(alias="from", description="default: the month's start")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
) -> dict[str, Any]:
    require(client, Scope.READ)
    tz = ZoneInfo(res.settings.district_timezone)
    start, end = _checked_time("from", start), _checked_time("to", end)
    now = datetime.now(UTC)
    end = end or now
    start = start or now.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start >= end:
        raise InvalidInput("from must be before to", field="from")
    stats, roots, chosen = await _stats(res, client, unit, by, start, end)
    return {
        "units": roots,
        "by": chosen,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rows": [r.as_dict() for r in stats.rows],
        "totals": stats.totals.as_dict(),
    }


@router.get(
    "/monthly.csv",
    summary="The monthly report (月度统计报表) as CSV with Chinese headers (UTF-8 with a BOM, for Excel)",
    description="The same figures as /v1/stats for one calendar month on the district's clock, a line per unit "
    "and a 合计 line. " + DEFINITIONS,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the report, as an attachment"}},
)
async def get_monthly_csv(
    client: Client,
    res: Res,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; default: this month")
    ] = None,
    unit: UnitParam = None,
    by: ByParam = None,
) -> Response:
    require(client, Scope.READ)
    tz = ZoneInfo(res.settings.district_timezone)
    month = month or datetime.now(tz).strftime("%Y-%m")
    start, end = _month_bounds(month, tz)
    stats, roots, chosen = await _stats(res, client, unit, by, start, end)
    names = await res.pool.fetch(
        f"SELECT name FROM registry_units WHERE version_id = {ACTIVE} AND code = ANY($1::text[]) ORDER BY code", roots
    )
    EXPORTS.inc()
    log.info("monthly_report_exported", month=month, units=roots, by=chosen, rows=len(stats.rows))
    return Response(
        monthly_csv(stats).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": attachment(month, "+".join(roots), "、".join(r["name"] for r in names)),
        },
    )
