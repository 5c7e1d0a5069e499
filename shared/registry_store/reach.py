"""Unit keys of the active registry version: which exist, and everything at or below some of them.

A unit key is `unit:<code>` (it reaches every unit below it), `department:<code>` (it reaches its branches),
`branch:<code>` or `*`; the same keys API clients and persons' roles are held in.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

ACTIVE = "(SELECT version_id FROM registry_active)"


async def existing_keys(conn: asyncpg.Connection | asyncpg.Pool, keys: Iterable[str]) -> set[str]:
    """The keys (besides `*`) that name a unit, department or branch of the active version."""
    wanted = sorted({k for k in keys if k != "*"})
    rows = await conn.fetch(
        f"""SELECT 'unit:' || code AS key FROM registry_units
            WHERE version_id = {ACTIVE} AND 'unit:' || code = ANY($1::text[])
            UNION ALL SELECT 'department:' || code FROM registry_departments
            WHERE version_id = {ACTIVE} AND 'department:' || code = ANY($1::text[])
            UNION ALL SELECT 'branch:' || code FROM registry_branches
            WHERE version_id = {ACTIVE} AND 'branch:' || code = ANY($1::text[])""",
        wanted,
    )
    return {r["key"] for r in rows}


async def keys_within(conn: asyncpg.Connection | asyncpg.Pool, keys: Iterable[str]) -> frozenset[str] | None:
    """The keys themselves and every unit below a `unit:` one, every branch of a `department:` one; None (no
    bound) when `*` is among them."""
    given = sorted(set(keys))
    if "*" in given:
        return None
    rows = await conn.fetch(
        f"""WITH RECURSIVE below (code) AS (
                SELECT code FROM registry_units WHERE version_id = {ACTIVE} AND 'unit:' || code = ANY($1::text[])
                UNION
                SELECT u.code FROM registry_units u JOIN below b ON u.parent = b.code
                WHERE u.version_id = {ACTIVE})
            SELECT 'unit:' || code AS key FROM below
            UNION SELECT 'branch:' || code FROM registry_branches
            WHERE version_id = {ACTIVE} AND 'department:' || department = ANY($1::text[])""",
        given,
    )
    return frozenset({*given, *(r["key"] for r in rows)})
