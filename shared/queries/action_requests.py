"""SQL on `action_requests`: the actions intake accepted (one row per event id, for idempotent retries)."""

from __future__ import annotations

import uuid

import asyncpg

# An accepted action dispatch has not yet applied or refused: no history entry carries its event id.
NOT_APPLIED = "NOT EXISTS (SELECT 1 FROM case_events e WHERE e.event_id = a.event_id::text)"  # `a`: action_requests


async def body_hash(conn: asyncpg.Connection, event_id: uuid.UUID) -> str | None:
    """The hash of the body first accepted under this event id; None when none was."""
    found: str | None = await conn.fetchval("SELECT body_hash FROM action_requests WHERE event_id = $1", event_id)
    return found


async def insert(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    client_id: uuid.UUID,
    idempotency_key: str | None,
    case_id: uuid.UUID,
    action: str,
    digest: str,
) -> bool:
    """Record an accepted action; False when the event id was recorded already (a concurrent retry)."""
    inserted = await conn.fetchval(
        """INSERT INTO action_requests (event_id, client_id, idempotency_key, case_id, action, body_hash)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING event_id""",
        event_id,
        client_id,
        idempotency_key,
        case_id,
        action,
        digest,
    )
    return inserted is not None
