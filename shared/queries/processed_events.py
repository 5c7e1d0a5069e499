"""SQL on `processed_events`: which event ids a consumer has applied (its idempotence by event id)."""

from __future__ import annotations

from collections.abc import Iterable

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


async def claim_many(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record the events as processed; returns those not processed before. Claimed in id order, so two
    transactions claiming the same events wait for each other rather than deadlock."""
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        """INSERT INTO processed_events (consumer, event_id)
           SELECT $1, id FROM unnest($2::text[]) AS id ORDER BY id
           ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer,
        ids,
    )
    return {r["event_id"] for r in rows}


async def unclaim(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[str]) -> None:
    """Forget that the events were processed (a redelivery processes them again)."""
    ids = list(event_ids)
    if ids:
        await conn.execute(
            "DELETE FROM processed_events WHERE consumer = $1 AND event_id = ANY($2::text[])", consumer, ids
        )
