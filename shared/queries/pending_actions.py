"""SQL on `pending_actions`: actions that reached dispatch before their case's report, waiting for it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg


async def waiting(conn: asyncpg.Connection, case_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The actions (case_id, event_id, value) waiting for these cases, in arrival order, locked."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT case_id, event_id, value FROM pending_actions WHERE case_id = ANY($1::uuid[])
           ORDER BY received_at, event_id FOR UPDATE""",
        list(case_ids),
    )
    return rows


async def park(conn: asyncpg.Connection, rows: Sequence[tuple[str, uuid.UUID, bytes]]) -> None:
    """Actions (event id, case id, bytes) to wait for their case's report (one parked before stays)."""
    await conn.execute(
        """INSERT INTO pending_actions (event_id, case_id, value)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::bytea[]) ON CONFLICT DO NOTHING""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def stop_waiting(conn: asyncpg.Connection, event_ids: Sequence[str]) -> None:
    """Waiting actions that have been applied."""
    await conn.execute("DELETE FROM pending_actions WHERE event_id = ANY($1::text[])", list(event_ids))
