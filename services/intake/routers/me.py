"""GET /v1/me: who the API key belongs to, what it may do and which area it sees (the console signs in with it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.intake.deps import Client, Res
from services.intake.schemas import problems

router = APIRouter(prefix="/v1", tags=["console"], responses=problems(401, 429))


@router.get("/me", summary="This API key's client: name, scopes, units (its area) with their names and levels")
async def get_me(client: Client, res: Res) -> dict[str, Any]:
    codes = sorted(u.partition(":")[2] for u in client.units if u.startswith("unit:"))
    rows = await res.pool.fetch(
        """SELECT code, name, level FROM registry_units
           WHERE version_id = (SELECT version_id FROM registry_active) AND code = ANY($1::text[])""",
        codes,
    )
    named = {r["code"]: {"name": r["name"], "level": r["level"]} for r in rows}
    area = []
    for unit in sorted(client.units):
        kind, _, code = unit.partition(":")
        area.append({"unit": unit, "kind": kind, "code": code or None, **named.get(code, {})})
    return {
        "id": str(client.id),
        "name": client.name,
        "scopes": sorted(client.scopes),
        "units": sorted(client.units),
        "area": area,  # the units with their registry names and levels (branch: and department: have none here)
        "sees_all": client.sees_all,
        "source": client.source,
    }
