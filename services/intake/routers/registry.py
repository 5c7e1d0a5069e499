"""GET /v1/units, GET /v1/matter-types, GET /v1/departments: the active registry version, as stored in
PostgreSQL; GET /v1/locate: where a point (a phone's position) lies in it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.intake.deps import Client, Res
from services.intake.locator import Locator, Place, unit_view
from services.intake.schemas import problems
from shared.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["registry"], responses=problems(401, 422, 429))

ACTIVE = "(SELECT version_id FROM registry_active)"


@router.get("/units", summary="Units of the active registry: district, streets, communities, grids, micro-grids")
async def get_units(
    client: Client,
    res: Res,
    level: Annotated[str | None, Query(pattern="^(district|street|community|grid|micro_grid)$")] = None,
    parent: Annotated[str | None, Query(max_length=64)] = None,
    geometry: Annotated[bool, Query(description="include the GeoJSON boundary")] = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    rows = await res.pool.fetch(
        f"""SELECT code, name, level, parent, boundary, people FROM registry_units
            WHERE version_id = {ACTIVE} AND ($1::text IS NULL OR level = $1) AND ($2::text IS NULL OR parent = $2)
            ORDER BY code LIMIT $3 OFFSET $4""",
        level,
        parent,
        limit,
        offset,
    )
    items = []
    for r in rows:
        unit = {"code": r["code"], "name": r["name"], "level": r["level"], "parent": r["parent"]}
        unit["people"] = [{"name": p.get("name"), "role": p.get("role")} for p in json.loads(r["people"])]
        if geometry:
            unit["boundary"] = json.loads(r["boundary"]) if r["boundary"] else None
        items.append(unit)
    return {"items": items, "offset": offset, "limit": limit}


@router.get("/matter-types", summary="The matter catalog (事项清单) of the active registry")
async def get_matter_types(client: Client, res: Res) -> dict[str, Any]:
    rows = await res.pool.fetch(
        f"SELECT definition FROM matter_types WHERE version_id = {ACTIVE} ORDER BY code",
    )
    return {"items": [json.loads(r["definition"]) for r in rows]}


@router.get(
    "/departments",
    summary="Line departments of the active registry with their branches (the units a case names as department: "
    "and branch:)",
)
async def get_departments(client: Client, res: Res) -> dict[str, Any]:
    departments = await res.pool.fetch(
        f"SELECT code, name, name_en FROM registry_departments WHERE version_id = {ACTIVE} ORDER BY code"
    )
    branches = await res.pool.fetch(
        f"SELECT code, department, name, covers FROM registry_branches WHERE version_id = {ACTIVE} ORDER BY code"
    )
    by_department: dict[str, list[dict[str, Any]]] = {}
    for b in branches:
        by_department.setdefault(b["department"], []).append(
            {"code": b["code"], "name": b["name"], "covers": list(b["covers"])}
        )
    return {
        "items": [
            {
                "code": d["code"],
                "name": d["name"],
                "name_en": d["name_en"],
                "branches": by_department.get(d["code"], []),
            }
            for d in departments
        ]
    }


def _locator(request: Request) -> Locator:
    """One per app, made on the first look-up (it holds the registry in memory)."""
    state = request.app.state
    if getattr(state, "locator", None) is None:
        state.locator = Locator()
    locator: Locator = state.locator
    return locator


@router.get(
    "/locate",
    summary="Where a point lies: its micro-grid (point in polygon) and the units above it, as dispatch locates it",
    description=(
        "`lon` and `lat` (WGS84), or `unit` (a unit code) for a known place. `located` is true when a micro-grid "
        "holds the point (`method` `point`); otherwise `unit` is the smallest unit whose boundary covers it "
        "(`method` `containing_area`), or null outside the district. `chain`: the unit, then its ancestors up to "
        "the district; `grid`: the grid among them. With `boundary=true` the unit and the grid carry their GeoJSON "
        "outlines (the field app draws the spot on them)."
    ),
    responses=problems(404, _404="no registry version is active, or no such unit"),
)
async def locate(
    request: Request,
    client: Client,
    res: Res,
    lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False)] = None,
    unit: Annotated[str | None, Query(max_length=64, pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$")] = None,
    boundary: Annotated[bool, Query(description="include the GeoJSON outlines of the unit and its grid")] = False,
) -> dict[str, Any]:
    if (lon is None) != (lat is None):
        raise InvalidInput("send both lon and lat", field="lat" if lat is None else "lon")
    if lon is None and unit is None:
        raise InvalidInput("send lon and lat, or unit", field="lon")
    locator = _locator(request)
    async with res.pool.acquire() as conn:
        if lon is not None and lat is not None:
            place = await locator.locate(conn, lon, lat)
        else:
            place = await locator.place_of(conn, (unit or "").removeprefix("unit:"))
    return _place_view(place, boundary)


def _place_view(place: Place, boundary: bool) -> dict[str, Any]:
    grid = next((u for u in place.chain if u.level.value == "grid"), None)
    return {
        "located": place.method in ("point", "unit") and place.unit is not None,
        "method": place.method,
        "unit": unit_view(place.unit, boundary=boundary) if place.unit is not None else None,
        "grid": unit_view(grid, boundary=boundary) if grid is not None else None,
        "chain": [unit_view(u, boundary=False) for u in place.chain],
    }
