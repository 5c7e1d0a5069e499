"""SQL on `roster_shifts` and `roster_swaps` (0011), and the read of persons and roles a people snapshot is made of.

Persons and their roles are written by shared/people (the administrator's and the registry's import); this module
only reads them, for the snapshot dispatch assigns responsible persons from (shared/people/duty.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from shared.people.duty import DayKind, Roster, Shift, Swap

CHANNEL = "griddispatch_people"  # 0011's triggers: persons' status, person_roles, roster_shifts, roster_swaps


def _shift(row: asyncpg.Record) -> Shift:
    return Shift(
        start=row["start_time"],
        end=row["end_time"],
        persons=tuple(row["persons"]),
        days=DayKind(row["days"]),
        weekdays=frozenset(row["weekdays"]),
        name=row["name"],
    )


def _swap(row: asyncpg.Record) -> Swap:
    return Swap(row["first_day"], row["last_day"], row["replaced"], row["by_person"], row["reason"])


def _rosters(shifts: Sequence[asyncpg.Record], swaps: Sequence[asyncpg.Record]) -> dict[str, Roster]:
    units: dict[str, tuple[list[Shift], list[Swap]]] = {}
    for r in shifts:
        units.setdefault(r["unit"], ([], []))[0].append(_shift(r))
    for r in swaps:
        units.setdefault(r["unit"], ([], []))[1].append(_swap(r))
    return {u: Roster(u, tuple(sh), tuple(sw)) for u, (sh, sw) in units.items()}


_SHIFTS = "SELECT * FROM roster_shifts {where} ORDER BY unit, position"
_SWAPS = "SELECT * FROM roster_swaps {where} ORDER BY unit, created_at, id"


async def roster(conn: asyncpg.Connection | asyncpg.Pool, unit: str) -> Roster:
    """The unit's roster (no shifts and no swaps when it has none)."""
    shifts = await conn.fetch(_SHIFTS.format(where="WHERE unit = $1"), unit)
    swaps = await conn.fetch(_SWAPS.format(where="WHERE unit = $1"), unit)
    return _rosters(shifts, swaps).get(unit, Roster(unit))


async def all_rosters(conn: asyncpg.Connection, since: date | None = None) -> list[Roster]:
    """Every unit's roster; swaps that ended before `since` are left out (they can no longer apply)."""
    shifts = await conn.fetch(_SHIFTS.format(where=""))
    swaps = await conn.fetch(_SWAPS.format(where="WHERE $1::date IS NULL OR last_day >= $1"), since)
    return list(_rosters(shifts, swaps).values())


async def rosters_of(conn: asyncpg.Connection, units: Sequence[str]) -> list[Roster]:
    """The rosters of these units (those with shifts or swaps): two statements, whatever the number of units."""
    shifts = await conn.fetch(_SHIFTS.format(where="WHERE unit = ANY($1::text[])"), list(units))
    swaps = await conn.fetch(_SWAPS.format(where="WHERE unit = ANY($1::text[])"), list(units))
    return list(_rosters(shifts, swaps).values())


async def replace_shifts(conn: asyncpg.Connection, unit: str, shifts: Sequence[Shift], by: str) -> None:
    """The unit's weekly shifts become `shifts` (its swaps stay); in the caller's transaction."""
    await conn.execute("DELETE FROM roster_shifts WHERE unit = $1", unit)
    if not shifts:
        return
    await conn.executemany(
        """INSERT INTO roster_shifts (unit, position, name, start_time, end_time, days, weekdays, persons, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        [
            (unit, i, s.name, s.start, s.end, s.days.value, sorted(s.weekdays), list(s.persons), by)
            for i, s in enumerate(shifts)
        ],
    )


async def add_swap(conn: asyncpg.Connection, unit: str, swap: Swap, by: str) -> int:
    swap_id: int = await conn.fetchval(
        """INSERT INTO roster_swaps (unit, first_day, last_day, replaced, by_person, reason, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        unit,
        swap.first,
        swap.last,
        swap.replaced,
        swap.by,
        swap.reason,
        by,
    )
    return swap_id


async def unknown_persons(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[str]) -> list[str]:
    """Of these person ids, those that are no person (in order)."""
    known = {r["id"] for r in await conn.fetch("SELECT id FROM persons WHERE id = ANY($1::text[])", list(ids))}
    return [i for i in dict.fromkeys(ids) if i not in known]


async def active_persons(conn: asyncpg.Connection) -> list[str]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM persons WHERE status = 'active'")]


async def role_rows(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    """(person, role, unit) of every role held."""
    rows = await conn.fetch("SELECT person_id, role, unit FROM person_roles")
    return [(r["person_id"], r["role"], r["unit"]) for r in rows]


async def contacts_of(
    conn: asyncpg.Connection, units: Sequence[str], persons: Sequence[str] = ()
) -> list[asyncpg.Record]:
    """(person_id, status, phone, role, unit) of everyone holding a role in one of `units`, and (role and unit NULL)
    of the persons named: one statement, for notify's paging (the phone is as stored: full, or masked by the
    registry)."""
    return list(
        await conn.fetch(
            """SELECT p.id AS person_id, p.status, p.phone, r.role, r.unit
                 FROM person_roles r JOIN persons p ON p.id = r.person_id WHERE r.unit = ANY($1::text[])
               UNION ALL
               SELECT p.id, p.status, p.phone, NULL, NULL FROM persons p WHERE p.id = ANY($2::text[])""",
            list(units),
            list(persons),
        )
    )


async def unit_staff(conn: asyncpg.Connection, unit: str) -> list[asyncpg.Record]:
    """(person_id, role, name, status) of everyone holding a role in the unit."""
    return list(
        await conn.fetch(
            """SELECT r.person_id, r.role, p.name, p.status FROM person_roles r JOIN persons p ON p.id = r.person_id
               WHERE r.unit = $1 ORDER BY r.person_id, r.role""",
            unit,
        )
    )


async def unit_level(conn: asyncpg.Connection, unit: str) -> str | None:
    """The level of a unit:<code> in the active registry (None for a department or branch)."""
    kind, _, code = unit.partition(":")
    if kind != "unit":
        return None
    level: str | None = await conn.fetchval(
        "SELECT level FROM registry_units WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1",
        code,
    )
    return level


async def units_to_cover(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """(unit, name, level) of every unit of the active registry above the micro-grids (a micro-grid's own worker
    answers for it), every department and every branch: the units a roster is meant to keep staffed."""
    return list(
        await conn.fetch(
            """SELECT 'unit:' || code AS unit, name, level FROM registry_units
               WHERE version_id = (SELECT version_id FROM registry_active) AND level <> 'micro_grid'
               UNION ALL SELECT 'department:' || code, name, 'department' FROM registry_departments
               WHERE version_id = (SELECT version_id FROM registry_active)
               UNION ALL SELECT 'branch:' || code, name, 'branch' FROM registry_branches
               WHERE version_id = (SELECT version_id FROM registry_active)
               ORDER BY 1"""
        )
    )


async def staff_of(conn: asyncpg.Connection, units: Sequence[str]) -> list[asyncpg.Record]:
    """(person_id, role, unit, name, status) of everyone holding a role in one of the units: one statement."""
    return list(
        await conn.fetch(
            """SELECT r.person_id, r.role, r.unit, p.name, p.status FROM person_roles r
               JOIN persons p ON p.id = r.person_id WHERE r.unit = ANY($1::text[]) ORDER BY r.person_id, r.role""",
            list(units),
        )
    )
