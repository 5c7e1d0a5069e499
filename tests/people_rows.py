"""Persons for tests, written with plain SQL (the people store has its own tests): a unique id each time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

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
