"""A client's area on the map and in statistics: the units it holds and everything under them."""

from __future__ import annotations

import asyncpg

from services.intake.act import unit_chain
from shared.api_clients import ApiClient
from shared.errors import NotFound

ACTIVE = "(SELECT version_id FROM registry_active)"


async def district_code(conn: asyncpg.Connection) -> str | None:
    code: str | None = await conn.fetchval(
        f"SELECT code FROM registry_units WHERE version_id = {ACTIVE} AND level = 'district' ORDER BY code LIMIT 1"
    )
    return code


def own_units(client: ApiClient) -> list[str]:
    return sorted(u.partition(":")[2] for u in client.units if u.startswith("unit:"))


async def area_roots(conn: asyncpg.Connection, client: ApiClient, unit: str | None) -> list[str]:
    """Unit codes to draw or count under: `unit` if the client sees it, else the client's own units.

    `*` clients and clients holding only departments or branches (whose cases lie anywhere) start at the
    district; what they count is still only the cases they may see.
    """
    code = unit.removeprefix("unit:") if unit else None
    mine = own_units(client)
    if code is None:
        if mine and not client.sees_all:
            return mine
        district = await district_code(conn)
        return [district] if district else []
    exists = await conn.fetchval(f"SELECT 1 FROM registry_units WHERE version_id = {ACTIVE} AND code = $1", code)
    visible = client.sees_all or not mine or bool(await unit_chain(conn, f"unit:{code}") & client.units)
    if not exists or not visible:
        # The same answer for a unit that does not exist and one outside the client's area.
        raise NotFound(f"no unit {code!r} in this client's area", field="unit")
    return [code]


async def holds_unit(conn: asyncpg.Connection, client: ApiClient, unit: str) -> bool:
    """Whether `unit` (unit:, department: or branch:<code>) lies in the client's area: one of its units, below one
    of them, or a branch of one of its departments."""
    if client.sees_all or unit in client.units:
        return True
    kind, _, code = unit.partition(":")
    if kind == "unit":
        return bool(await unit_chain(conn, unit) & client.units)
    if kind == "branch":
        department = await conn.fetchval(
            f"SELECT department FROM registry_branches WHERE version_id = {ACTIVE} AND code = $1", code
        )
        return department is not None and f"department:{department}" in client.units
    return False
