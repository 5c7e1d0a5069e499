"""SQL on `processed_events`: which event ids a consumer has applied (its idempotence by event id)."""

from __future__ import annotations

import asyncpg

CLAIM = "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1"


async def claim(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record the event as processed by `consumer`; False if it already was (a redelivery). Blocks while another
    transaction holds the same claim."""
    return await conn.fetchval(CLAIM, consumer, event_id) is not None


async def processed_by(conn: asyncpg.Connection, consumer: str) -> set[str]:
    """Every event id the consumer has claimed."""
    return {
        r["event_id"] for r in await conn.fetch("SELECT event_id FROM processed_events WHERE consumer = $1", consumer)
    }
