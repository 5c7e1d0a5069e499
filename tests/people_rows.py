"""Persons for tests, written with plain SQL (the people store has its own tests): a unique id each time; rosters
too, and a wait for dispatch's people snapshot to show them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import time as clock_time

import asyncpg

from shared.people.duty import PeopleSnapshot
from shared.people.passwords import hash_password

PASSWORD = "Correct-horse-42"


async def insert_person(
    conn: asyncpg.Connection,
    *,
    roles: Iterable[tuple[str, str]] = (("grid_worker", "unit:610199004001001006"),),
    name: str = "张网格",
    password: str | None = PASSWORD,
    phone: str | None = None,
    status: str = "active",
    password_hash: str | None = None,
) -> tuple[str, str]:
    """A person with the roles (role, unit); returns (id, username)."""
    person_id = f"p-{uuid.uuid4().hex[:10]}"
    username = f"u{uuid.uuid4().hex[:10]}"
    await conn.execute(
        """INSERT INTO persons (id, name, username, phone, status, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        person_id,
        name,
        username,
        phone,
        status,
        password_hash or (hash_password(password) if password is not None else None),
    )
    for role, unit in roles:
        await conn.execute(
            "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, $2, $3, 'tests')",
            person_id,
            role,
            unit,
        )
    return person_id, username


@dataclass
class People:
    """What a test added: removed again at its end (each test owns its data)."""

    pool: asyncpg.Pool
    persons: list[str] = field(default_factory=list)
    units: set[str] = field(default_factory=set)

    def new_id(self, label: str) -> str:
        return f"{label}-{uuid.uuid4().hex[:8]}"

    async def add(self, label: str, *roles: tuple[str, str], status: str = "active") -> str:
        person = self.new_id(label)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO persons (id, name, status) VALUES ($1, $2, $3)", person, f"测试{label}", status
            )
            await conn.executemany(
                "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, $2, $3, 'tests')",
                [(person, role, unit) for role, unit in roles],
            )
        self.persons.append(person)
        return person

    async def roster(self, unit: str, *shifts: tuple[clock_time, clock_time, Iterable[str]]) -> None:
        self.units.add(unit)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM roster_shifts WHERE unit = $1", unit)
            await conn.executemany(
                """INSERT INTO roster_shifts (unit, position, start_time, end_time, persons, updated_by)
                   VALUES ($1, $2, $3, $4, $5, 'tests')""",
                [(unit, i, start, end, list(persons)) for i, (start, end, persons) in enumerate(shifts)],
            )

    async def clean(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM roster_shifts WHERE unit = ANY($1::text[])", sorted(self.units))
            await conn.execute("DELETE FROM persons WHERE id = ANY($1::text[])", self.persons)


async def until_snapshot(
    current: Callable[[], PeopleSnapshot], holds: Callable[[PeopleSnapshot], bool], timeout_s: float = 15.0
) -> PeopleSnapshot:
    """Wait for dispatch's people snapshot to show what was written (its NOTIFY-driven reload)."""
    deadline = time.monotonic() + timeout_s
    while not holds(current()):
        assert time.monotonic() < deadline, "dispatch never reloaded its people snapshot"
        await asyncio.sleep(0.05)
    return current()
