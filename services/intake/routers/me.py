"""GET /v1/me: who is calling (the API key's client, or the signed-in person with their roles), what it may do
and which area it sees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.intake.deps import Client, Res
from services.intake.schemas import problems
from shared.api_clients import ApiClient

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


@router.get(
    "/me",
    summary="Who is calling: name, scopes, units (the area) with their names and levels; `person` when signed in",
    description=(
        "With a person's access token `person` holds their id, name, login name and roles, each role with the "
        "name and level of the unit it is held in; `source` is then `person`. With an API key `person` is null."
    ),
)
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
        "person": _person(client, named),
    }


def _person(client: ApiClient, named: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    person = client.person
    if person is None:
        return None
    roles = [{"role": g.role.value, "unit": g.unit, **named.get(g.unit, {})} for g in sorted(person.roles)]
    return {"id": person.id, "name": person.name, "username": person.username, "roles": roles}
