"""Duty rosters (值班表) of a unit: GET/PUT /v1/units/{unit}/roster, POST .../roster/swaps, GET .../on-duty; and
GET /v1/duty/uncovered: the units of the caller's area with nobody on duty now (the console flags them).

A command centre (supervise scope) or an administrator sets the rosters of the units in its area; anyone who reads
the unit's cases reads its roster and who is on duty. A unit outside the caller's area is 404, as a case is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query
from prometheus_client import Counter, Gauge

from services.intake.area import holds_unit
from services.intake.deps import Client, Res, require
from services.intake.schemas import problems
from shared.api_clients import ApiClient, Scope
from shared.domain.calendar import NO_LOCAL_DAYS
from shared.errors import InvalidInput, NotFound
from shared.logging import get_logger
from shared.people import roster_store
from shared.people.duty import PeopleSnapshot, Roster, build_snapshot, responsible_for
from shared.people.roster_schema import RosterIn, SwapIn, roster_out
from shared.queries import rosters
from shared.registry_store.reach import keys_within

log = get_logger(__name__)
ROSTER_CHANGES = Counter("griddispatch_roster_changes_total", "Roster changes through the API", ["kind"])
UNCOVERED = Gauge(
    "griddispatch_units_uncovered",
    "Units (above the micro-grids, departments, branches) with nobody on duty, as last asked by a district-wide caller",
)
router = APIRouter(prefix="/v1", tags=["rosters"], responses=problems(401, 403, 404, 422, 429))
UnitKey = Annotated[
    str,
    Path(
        pattern=r"^(unit|department|branch):[A-Za-z0-9_.\-]{1,64}$",
        description="unit:<code>, department:<code> or branch:<code>",
        examples=["unit:610199001001"],
    ),
]


def actor_of(client: ApiClient) -> str:
    """Who made a change, for the roster's `updated_by` / `created_by`."""
    return f"person:{client.person.id}" if client.person is not None else f"client:{client.id}"


async def _in_area(conn: asyncpg.Connection, client: ApiClient, unit: str) -> None:
    await roster_store.check_unit(conn, unit)
    if not await holds_unit(conn, client, unit):
        raise NotFound(f"no unit, department or branch {unit!r} in this client's area", field="unit")


def _moment(at: datetime | None) -> datetime:
    """The time asked about: `at` (which must say its offset), or now."""
    if at is not None and at.tzinfo is None:
        raise InvalidInput("at needs a time zone offset", field="at")
    return at or datetime.now(UTC)


def _snapshot(staff: Sequence[Mapping[str, Any]], unit_rosters: Iterable[Roster], tz: str) -> PeopleSnapshot:
    """Who is on duty, from staff rows (person_id, role, unit, status) and rosters; the national calendar only
    (intake does not load the district's local days)."""
    return build_snapshot(
        {r["person_id"] for r in staff if r["status"] == "active"},
        [(r["person_id"], r["role"], r["unit"]) for r in staff],
        unit_rosters,
        calendar=NO_LOCAL_DAYS,
        tz=tz,
    )


@router.get("/units/{unit}/roster", summary="The unit's duty roster: weekly shifts and swaps")
async def get_roster(unit: UnitKey, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.READ, Scope.SUPERVISE, Scope.ADMIN)
    async with res.pool.acquire() as conn:
        await _in_area(conn, client, unit)
        return roster_out(await rosters.roster(conn, unit))


@router.put(
    "/units/{unit}/roster",
    summary="Set the unit's weekly shifts (they replace the ones it had; swaps stay)",
    responses=problems(400, 413, 415),  # what a body can be refused for before it is read
    description=(
        "Each shift: `start`/`end` local times (an end not after the start runs past midnight; equal: 24 hours), "
        "`days` working / rest / every (the district's working-day calendar), `weekdays` 0 (Monday)..6 (Sunday), "
        "`persons` who must each hold a role in the unit (422 `unknown_person` / `not_in_unit`)."
    ),
)
async def put_roster(unit: UnitKey, body: RosterIn, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.SUPERVISE, Scope.ADMIN)
    async with res.pool.acquire() as conn:
        await _in_area(conn, client, unit)
        roster = await roster_store.set_roster(conn, unit, body, actor_of(client))
    ROSTER_CHANGES.labels("shifts").inc()
    log.info("roster_set", unit=unit, shifts=len(roster.shifts), by=actor_of(client))
    return roster_out(roster)


@router.post(
    "/units/{unit}/roster/swaps",
    status_code=201,
    summary="A one-off swap: a person replaced by another on the shifts starting in a date range",
    responses=problems(400, 413, 415),  # what a body can be refused for before it is read
)
async def post_swap(unit: UnitKey, body: SwapIn, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.SUPERVISE, Scope.ADMIN)
    async with res.pool.acquire() as conn:
        await _in_area(conn, client, unit)
        roster = await roster_store.add_swap(conn, unit, body, actor_of(client))
    ROSTER_CHANGES.labels("swap").inc()
    log.info("roster_swap_added", unit=unit, replaced=body.replaced, by_person=body.by, by=actor_of(client))
    return roster_out(roster)


@router.get(
    "/units/{unit}/on-duty",
    summary="Who is on duty in the unit at a time (default now), and who a case of the unit would go to",
    description=(
        "`on_duty`: the active persons on the roster's shifts at `at`; `responsible`: who a case assigned to the "
        "unit then gets (on duty; for a micro-grid its grid worker, then its micro-grid head; else the unit's head), "
        "null when nobody; `why`: on_duty, worker, head or nobody."
    ),
)
async def get_on_duty(
    unit: UnitKey,
    client: Client,
    res: Res,
    at: Annotated[datetime | None, Query(description="RFC 3339 with offset; default now")] = None,
) -> dict[str, Any]:
    require(client, Scope.READ, Scope.SUPERVISE, Scope.ADMIN)
    moment = _moment(at)
    async with res.pool.acquire() as conn:
        await _in_area(conn, client, unit)
        roster = await rosters.roster(conn, unit)
        staff = await rosters.unit_staff(conn, unit)
        level = await rosters.unit_level(conn, unit)
    snapshot = _snapshot([{**r, "unit": unit} for r in staff], [roster], res.settings.district_timezone)
    on = snapshot.on_duty(unit, moment)
    who = responsible_for(unit, moment, snapshot, level=level)
    why = "on_duty" if who in on else "nobody" if who is None else "head" if snapshot.is_head(who, unit) else "worker"
    names = {r["person_id"]: r["name"] for r in staff}
    return {
        "unit": unit,
        "at": moment.isoformat(),
        "on_duty": [{"id": p, "name": names.get(p)} for p in on],
        "responsible": {"id": who, "name": names.get(who)} if who else None,
        "why": why,
    }


@router.get(
    "/duty/uncovered",
    summary="Units of my area with nobody on duty at a time (default now), and who answers for their cases instead",
    description=(
        "Every unit above the micro-grids, department and branch in the caller's area whose roster has nobody on "
        "duty at `at` (a unit without a roster included). `answered_by`: the person a new case of the unit then "
        "goes to (its head), or null; `why`: `head` or `nobody`. `count` counts them. The console flags these "
        "units; a micro-grid is never listed (its own grid worker answers for it)."
    ),
)
async def get_uncovered(
    client: Client,
    res: Res,
    at: Annotated[datetime | None, Query(description="RFC 3339 with offset; default now")] = None,
) -> dict[str, Any]:
    require(client, Scope.READ, Scope.SUPERVISE, Scope.ADMIN)
    moment = _moment(at)
    async with res.pool.acquire() as conn:
        within = await keys_within(conn, client.units)
        units = [u for u in await rosters.units_to_cover(conn) if within is None or u["unit"] in within]
        keys = [u["unit"] for u in units]
        staff = await rosters.staff_of(conn, keys)
        unit_rosters = await rosters.rosters_of(conn, keys)
    snapshot = _snapshot(staff, unit_rosters, res.settings.district_timezone)
    names = {r["person_id"]: r["name"] for r in staff}
    items = []
    for u in units:
        if snapshot.on_duty(u["unit"], moment):
            continue
        who = responsible_for(u["unit"], moment, snapshot, level=u["level"])
        items.append(
            {
                "unit": u["unit"],
                "name": u["name"],
                "level": u["level"],
                "answered_by": {"id": who, "name": names.get(who)} if who else None,
                "why": "head" if who else "nobody",
            }
        )
    if client.sees_all:
        UNCOVERED.set(len(items))
    return {"at": moment.isoformat(), "items": items, "count": len(items)}
