"""Assessment (考核): ranking tables per street, community, grid, department, branch or person for a month or a
quarter, as JSON, as the monthly report's CSV and as a printable page; and the score's weights (admin).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.intake.area import ACTIVE, area_roots
from services.intake.assessment_queries import TERRITORIAL, Level, figures
from services.intake.assessment_report import LEVEL_NAMES, attachment, report_csv, report_html
from services.intake.console_metrics import ASSESSMENT_REPORTS, ASSESSMENT_WEIGHT_CHANGES, CONSOLE_QUERY_SECONDS
from services.intake.deps import Client, Res, require
from services.intake.schemas import problems
from shared.api_clients import ApiClient, Scope
from shared.domain.assessment import Period, Ranked, Weights, parse_period, rank, total
from shared.errors import InvalidInput
from shared.logging import get_logger
from shared.people.model import RoleName
from shared.queries import assessment_weights
from shared.queries.visibility import visibility_of

log = get_logger(__name__)
router = APIRouter(tags=["assessment"], responses=problems(401, 403, 404, 422, 429))

LEVELS = ("district", "street", "community", "grid", "micro_grid")
_BELOW: dict[str, Level] = {
    "district": "street",
    "street": "community",
    "community": "grid",
    "grid": "grid",
    "micro_grid": "grid",
}
DEFINITIONS = (
    "The cases counted are those received in the period (a month YYYY-MM or a quarter YYYY-Qn on the district's "
    "clock; merged duplicates excluded) that the caller may see. Units, departments and branches: received = "
    "cases it owed an accept-by for; accepted_on_time / resolved_on_time = its accept-by / resolve-by met by the "
    "due time; overdue = any of its accept-by, resolve-by or report-in deadlines past due; escalated = escalated "
    "away from it; returned / wrongly_returned = returned by it / then re-dispatched by hand back to it; urged = "
    "urges (催办) naming it, and comments with reason_code `urge` while it owed the case; orders_issued / "
    "orders_answered / orders_answered_in_time = supervision orders (督办单) issued to it / it replied to / replied "
    "to by the reply-by; extensions_asked / extensions_approved / suspensions / suspended_hours = the clock (延期, "
    "挂起) it asked for as the lead / approved / suspensions approved / hours suspended; reported_up = report-ups "
    "(上报) it made as the lead; rated / satisfied = ratings after its resolve; "
    "avg_accept_hours / avg_resolve_hours from the deadline's start. Streets, communities and grids add up "
    "every unit below them (a case once). Persons: from the actions they took as the lead "
    "(docs/people.md#assessment-考核); a person received the cases they were named responsible for, "
    "accepted or resolved. score = 100 × (weighted mean of the good rates − weighted sum of the bad "
    "rates), 0..100; rank: equal scores share a rank."
)

PeriodParam = Annotated[
    str | None, Query(max_length=16, description="YYYY-MM (2026-11) or YYYY-Qn (2026-Q4); default: this month")
]
LevelParam = Annotated[Level | None, Query(description="rows per: default, the level below the unit")]
RoleParam = Annotated[
    RoleName | None,
    Query(description="level=person only: persons holding this role (grid_worker: the 网格员 ranking)"),
]
UnitParam = Annotated[
    str | None,
    Query(max_length=80, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$", description="default: the caller's area"),
]


def _period(res: Res, text: str | None) -> Period:
    tz = ZoneInfo(res.settings.district_timezone)
    return parse_period(text or datetime.now(tz).strftime("%Y-%m"), tz)


def _level(levels: list[str], level: Level | None) -> Level:
    deepest = max((LEVELS.index(found) for found in levels), default=0)
    if level is None:
        return _BELOW[LEVELS[deepest]]
    if level in TERRITORIAL and LEVELS.index(level) < deepest:
        raise InvalidInput(f"level={level} is above the unit asked for; choose a finer level", field="level")
    return level


async def _area(conn: asyncpg.Connection, roots: list[str]) -> tuple[list[str], str]:
    rows = await conn.fetch(
        f"SELECT level, name FROM registry_units WHERE version_id = {ACTIVE} AND code = ANY($1::text[]) ORDER BY code",
        roots,
    )
    return [r["level"] for r in rows], "、".join(r["name"] for r in rows)


class Table(BaseModel):
    period: str
    start: datetime
    end: datetime
    level: Level
    units: list[str]
    area: str
    weights: dict[str, float]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


async def _table(
    res: Res, client: ApiClient, text: str | None, level: Level | None, unit: str | None, role: RoleName | None
) -> tuple[Period, Level, list[str], str, Weights, list[Ranked], dict[str, Any]]:
    require(client, Scope.READ)
    period = _period(res, text)
    if role is not None and level != "person":
        raise InvalidInput("role narrows the persons: use it with level=person", field="role")
    async with res.pool.acquire() as conn:
        roots = await area_roots(conn, client, unit)
        levels, area = await _area(conn, roots)
        chosen = _level(levels, level)
        weights, _ = await assessment_weights.current(conn)
        with CONSOLE_QUERY_SECONDS.labels("assessment").time():
            subjects = await figures(
                conn, roots, chosen, period.start, period.end, visibility_of(client), role.value if role else None
            )
    ranked = rank(subjects, weights)
    totals = total(subjects).as_dict()
    log.info("assessment_read", period=period.text, level=chosen, units=roots, rows=len(ranked))
    return period, chosen, roots, area, weights, ranked, totals


@router.get(
    "/v1/assessment",
    summary="Assessment (考核) for a month or quarter: figures, score and rank per street, community, grid, "
    "department, branch or person",
    description=DEFINITIONS,
    response_model=Table,
)
async def get_assessment(
    client: Client,
    res: Res,
    period: PeriodParam = None,
    level: LevelParam = None,
    unit: UnitParam = None,
    role: RoleParam = None,
) -> Table:
    found, chosen, roots, area, weights, ranked, totals = await _table(res, client, period, level, unit, role)
    return Table(
        period=found.text,
        start=found.start,
        end=found.end,
        level=chosen,
        units=roots,
        area=area,
        weights=weights.as_dict(),
        rows=[r.as_dict() for r in ranked],
        totals=totals,
    )


@router.get(
    "/v1/assessment.csv",
    summary="The assessment report (考核报表) as CSV: Chinese headers, UTF-8 with a BOM for Excel",
    description="The rows of GET /v1/assessment, best first. " + DEFINITIONS,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the report, as an attachment"}},
)
async def get_assessment_csv(
    client: Client,
    res: Res,
    period: PeriodParam = None,
    level: LevelParam = None,
    unit: UnitParam = None,
    role: RoleParam = None,
) -> Response:
    found, chosen, roots, area, _, ranked, _ = await _table(res, client, period, level, unit, role)
    named = role.value if role else chosen
    ASSESSMENT_REPORTS.labels("csv").inc()
    log.info("assessment_report_exported", format="csv", period=found.text, level=chosen, units=roots)
    return Response(
        report_csv(ranked).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(found, named, "+".join(roots), area)},
    )


@router.get(
    "/v1/assessment/report",
    summary="The assessment report as a printable page (A4, Chinese headings, the weights in force)",
    description="The rows of GET /v1/assessment as an HTML page with print CSS. " + DEFINITIONS,
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "the page"}},
)
async def get_assessment_report(
    client: Client,
    res: Res,
    period: PeriodParam = None,
    level: LevelParam = None,
    unit: UnitParam = None,
    role: RoleParam = None,
) -> HTMLResponse:
    found, chosen, roots, area, weights, ranked, _ = await _table(res, client, period, level, unit, role)
    _, row = await assessment_weights.current(res.pool)
    tz = ZoneInfo(res.settings.district_timezone)
    weights_set = (
        "权重为系统默认值。"
        if row is None
        else f"权重由 {row['changed_by']} 于 {row['changed_at'].astimezone(tz):%Y-%m-%d %H:%M} 设定。"
    )
    ASSESSMENT_REPORTS.labels("html").inc()
    log.info("assessment_report_exported", format="html", period=found.text, level=chosen, units=roots)
    page = report_html(
        ranked,
        period=found,
        level=role.value if role else chosen,
        area=area or LEVEL_NAMES.get(chosen, chosen),
        weights=weights,
        weights_set=weights_set,
        generated_at=datetime.now(UTC).astimezone(tz),
    )
    return HTMLResponse(page)


class WeightsChange(BaseModel):
    weights: dict[str, Any] = Field(
        description="weights by name, each 0 to 10; names left out keep their value in force",
        examples=[{"resolved_on_time": 0.5, "overdue": 0.3}],
    )
    note: str = Field("", max_length=500, description="why (kept with the change)")


class WeightsSet(BaseModel):
    weights: dict[str, float]
    defaults: dict[str, float]
    set_by: str | None = Field(None, description="person:<id> or client:<uuid>; null while the defaults apply")
    set_at: datetime | None = None
    history: list[dict[str, Any]] = Field(description="the latest changes, newest first")


def _changer(client: ApiClient) -> str:
    return f"person:{client.person.id}" if client.person is not None else f"client:{client.id}"


async def _weights_set(conn: asyncpg.Connection) -> WeightsSet:
    weights, row = await assessment_weights.current(conn)
    history = [
        {
            "id": r["id"],
            "weights": json.loads(r["weights"]),
            "changed_by": r["changed_by"],
            "changed_at": r["changed_at"].isoformat(),
            "note": r["note"],
        }
        for r in await assessment_weights.history(conn)
    ]
    return WeightsSet(
        weights=weights.as_dict(),
        defaults=Weights().as_dict(),
        set_by=row["changed_by"] if row else None,
        set_at=row["changed_at"] if row else None,
        history=history,
    )


@router.get(
    "/v1/assessment/weights",
    summary="The score's weights in force, the defaults, and the latest changes (who, when)",
    response_model=WeightsSet,
)
async def get_weights(client: Client, res: Res) -> WeightsSet:
    require(client, Scope.READ)
    async with res.pool.acquire() as conn:
        return await _weights_set(conn)


@router.put(
    "/v1/assessment/weights",
    summary="Set the score's weights (admin); every change is kept with who made it and when",
    responses=problems(400, 413, 415),  # what a body can be refused for before it is read
    description="Unknown names, values outside 0..10, or no good figure weighted above 0: 422 `bad_weights`.",
    response_model=WeightsSet,
)
async def put_weights(client: Client, res: Res, body: WeightsChange) -> WeightsSet:
    require(client, Scope.ADMIN)
    async with res.pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE assessment_weights IN SHARE ROW EXCLUSIVE MODE")  # one change at a time
        in_force, _ = await assessment_weights.current(conn)
        weights = Weights.of(body.weights, base=in_force)
        by = _changer(client)
        await assessment_weights.record(conn, weights, by, body.note)
        answer = await _weights_set(conn)
    ASSESSMENT_WEIGHT_CHANGES.inc()
    log.info("assessment_weights_changed", by=by, weights=weights.as_dict())
    return answer
