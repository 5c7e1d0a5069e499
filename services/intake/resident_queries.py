"""SQL of the residents' self-service: a case by its number with its reporters' phones, who handles it, and
the history entries a resident reads. Photos after come from the attachments (none until they land)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from services.intake.resident_view import RESIDENT_ACTIONS

_ACTIVE = "(SELECT version_id FROM registry_active)"

# The case, its lead's name (a unit, a department or a branch), the responsible person's name, and every phone
# it was reported from (its own reporter's and those of reports merged into it).
CASE_BY_NUMBER = f"""
    SELECT c.case_id, c.case_number, c.state, c.title, c.lead, c.resolve_by, c.accept_by,
           coalesce(u.name, d.name, b.name) AS lead_name, p.name AS person_name,
           (SELECT m.case_number FROM cases m WHERE m.case_id = c.merged_into) AS merged_into,
           ARRAY(SELECT r.reporter->>'phone' FROM cases r
                 WHERE (r.case_id = c.case_id OR r.merged_into = c.case_id) AND r.reporter->>'phone' IS NOT NULL)
               AS phones
    FROM cases c
    LEFT JOIN registry_units u ON u.version_id = {_ACTIVE} AND c.lead = 'unit:' || u.code
    LEFT JOIN registry_departments d ON d.version_id = {_ACTIVE} AND c.lead = 'department:' || d.code
    LEFT JOIN registry_branches b ON b.version_id = {_ACTIVE} AND c.lead = 'branch:' || b.code
    LEFT JOIN persons p ON p.id = c.lead_person
    WHERE c.case_number = $1"""

HISTORY = """SELECT action, detail, at FROM case_events WHERE case_id = $1 AND action = ANY($2::text[]) ORDER BY seq"""

CASE_BY_ID = "SELECT case_id, case_number, state, title FROM cases WHERE case_id = $1"


async def case_by_number(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(CASE_BY_NUMBER, number)
    return row


async def case_by_id(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(CASE_BY_ID, case_id)
    return row


async def history(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[tuple[str, dict[str, Any], Any]]:
    rows = await conn.fetch(HISTORY, case_id, sorted(RESIDENT_ACTIONS))
    return [(r["action"], json.loads(r["detail"]) if r["detail"] else {}, r["at"]) for r in rows]


async def link_used(conn: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM rating_links_used WHERE token_id = $1", token_id))


async def use_link(
    conn: asyncpg.Connection, token_id: uuid.UUID, case_id: uuid.UUID, level: str, event_id: uuid.UUID
) -> bool:
    """Mark the link used; False when it already was (a concurrent answer won)."""
    used = await conn.fetchval(
        """INSERT INTO rating_links_used (token_id, case_id, level, event_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (token_id) DO NOTHING RETURNING true""",
        token_id,
        case_id,
        level,
        event_id,
    )
    return bool(used)
