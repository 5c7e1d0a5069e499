"""Setting and reading a unit's roster, with the checks both the API and the CLI make: the unit is in the active
registry, every person exists and holds a role in that unit (whoever is on duty must be able to take its cases).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shared.errors import InvalidInput, NotFound
from shared.people.duty import Roster, check_roster
from shared.people.roster_schema import RosterIn, SwapIn
from shared.queries import rosters

_ACTIVE = "(SELECT version_id FROM registry_active)"
_KNOWN = {
    "unit": f"SELECT 1 FROM registry_units WHERE version_id = {_ACTIVE} AND code = $1",
    "department": f"SELECT 1 FROM registry_departments WHERE version_id = {_ACTIVE} AND code = $1",
    "branch": f"SELECT 1 FROM registry_branches WHERE version_id = {_ACTIVE} AND code = $1",
}


class UnknownPerson(InvalidInput):
    code = "unknown_person"


class NotInUnit(InvalidInput):
    code = "not_in_unit"


async def check_unit(conn: asyncpg.Connection, unit: str) -> str:
    """The unit key if the active registry has it (unit:<code>, department:<code>, branch:<code>), else NotFound."""
    kind, _, code = unit.partition(":")
    if kind not in _KNOWN or not code or not await conn.fetchval(_KNOWN[kind], code):
        raise NotFound(f"no unit, department or branch {unit!r} in the active registry", field="unit")
    return unit


async def _check_persons(conn: asyncpg.Connection, unit: str, persons: Sequence[str], field: str) -> None:
    unknown = await rosters.unknown_persons(conn, persons)
    if unknown:
        raise UnknownPerson(f"no person {', '.join(unknown)}", field=field, persons=unknown)
    held = {r["person_id"] for r in await conn.fetch(
        "SELECT DISTINCT person_id FROM person_roles WHERE unit = $1 AND person_id = ANY($2::text[])", unit,
        list(persons),
    )}  # fmt: skip
    outside = [p for p in dict.fromkeys(persons) if p not in held]
    if outside:
        raise NotInUnit(f"{', '.join(outside)} hold(s) no role in {unit}", field=field, persons=outside)


async def set_roster(conn: asyncpg.Connection, unit: str, body: RosterIn, by: str) -> Roster:
    """Replace the unit's weekly shifts (its swaps stay); returns the roster as it now is."""
    await check_unit(conn, unit)
    shifts = tuple(s.shift() for s in body.shifts)
    check_roster(Roster(unit, shifts))
    await _check_persons(conn, unit, [p for s in shifts for p in s.persons], "shifts.persons")
    async with conn.transaction():
        await rosters.replace_shifts(conn, unit, shifts, by)
    return await rosters.roster(conn, unit)


async def add_swap(conn: asyncpg.Connection, unit: str, body: SwapIn, by: str) -> Roster:
    await check_unit(conn, unit)
    swap = body.swap()
    await _check_persons(conn, unit, [swap.by], "by")
    unknown = await rosters.unknown_persons(conn, [swap.replaced])
    if unknown:
        raise UnknownPerson(f"no person {swap.replaced}", field="replaced", persons=unknown)
    await rosters.add_swap(conn, unit, swap, by)
    return await rosters.roster(conn, unit)


async def show(conn: asyncpg.Connection, unit: str) -> Roster:
    await check_unit(conn, unit)
    return await rosters.roster(conn, unit)
