"""GET /v1/units and GET /v1/matter-types: the active registry version, as stored in PostgreSQL."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.intake.deps import Client, Res
from services.intake.schemas import problems

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
