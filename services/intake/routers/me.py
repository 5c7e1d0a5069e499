"""GET /v1/me: who the API key belongs to, what it may do and which area it sees (the console signs in with it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.intake.deps import Client, Res
from services.intake.schemas import problems

router = APIRouter(prefix="/v1", tags=["console"], responses=problems(401, 429))

ACTIVE = "(SELECT version_id FROM registry_active)"
NAMES = f"""
    SELECT 'unit:' || code AS key, name, level FROM registry_units
    WHERE version_id = {ACTIVE} AND 'unit:' || code = ANY($1::text[])
    UNION ALL
    SELECT 'department:' || code, name, 'department' FROM registry_departments
    WHERE version_id = {ACTIVE} AND 'department:' || code = ANY($1::text[])
    UNION ALL
    SELECT 'branch:' || code, name, 'branch' FROM registry_branches
    WHERE version_id = {ACTIVE} AND 'branch:' || code = ANY($1::text[])"""


@router.get("/me", summary="This API key's client: name, scopes, units (its area) with their names and levels")
async def get_me(client: Client, res: Res) -> dict[str, Any]:
    rows = await res.pool.fetch(NAMES, sorted(client.units))
    named = {r["key"]: {"name": r["name"], "level": r["level"]} for r in rows}
    area = []
    for unit in sorted(client.units):
        kind, _, code = unit.partition(":")
        area.append({"unit": unit, "kind": kind, "code": code or None, **named.get(unit, {})})
    return {
        "id": str(client.id),
        "name": client.name,
        "scopes": sorted(client.scopes),
        "units": sorted(client.units),
        "area": area,  # the units with their registry names and levels (a department's level is "department")
        "sees_all": client.sees_all,
        "source": client.source,
    }
