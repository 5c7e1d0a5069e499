"""The transactional outbox: events are staged in the same transaction as the change, published after commit.

Publishing marks rows published; whatever a crash leaves unpublished is swept up later (several workers may
sweep at once: SKIP LOCKED gives each its own rows). Event ids never change, so a republished event is
recognised by every consumer.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.errors import BrokerUnavailable
from shared.events import CloudEvent, encode
from shared.metrics import EVENTS_PUBLISHED


async def stage(conn: asyncpg.Connection, topic: str, event: CloudEvent[Any]) -> int | None:
    """Stage one event for `topic`; returns its outbox id (None when this event was staged before)."""
    encoded = encode(event)
    row_id: int | None = await conn.fetchval(
        """INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (event_id, topic) DO NOTHING RETURNING id""",
        event.id,
        topic,
        event.subject,
        encoded.value,
        json.dumps([[k, v.decode()] for k, v in encoded.headers]),
    )
    return row_id


async def stage_many(conn: asyncpg.Connection, items: list[tuple[str, CloudEvent[Any]]]) -> list[int]:
    """Stage many (topic, event) pairs in one statement; returns the outbox ids of those not staged before."""
    if not items:
        return []
    encoded = [(topic, event, encode(event)) for topic, event in items]
    rows = await conn.fetch(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[])
           ON CONFLICT (event_id, topic) DO NOTHING RETURNING id""",
        [e.id for _, e, _ in encoded],
        [t for t, _, _ in encoded],
        [e.subject for _, e, _ in encoded],
        [x.value for _, _, x in encoded],
        [json.dumps([[k, v.decode()] for k, v in x.headers]) for _, _, x in encoded],
    )
    return sorted(r["id"] for r in rows)


async def _send(producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> None:
    futures = []
    for row in rows:  # in id order: one case's events leave in the order they were written
        headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
        futures.append(await producer.send(row["topic"], row["value"], key=row["key"].encode(), headers=headers))
    try:
        for future, row in zip(futures, rows, strict=True):
            await future
            EVENTS_PUBLISHED.labels(row["topic"], "outbox").inc()
    except KafkaError as exc:
        raise BrokerUnavailable(f"publishing from the outbox failed: {exc!r}") from exc


async def publish(pool: asyncpg.Pool, producer: AIOKafkaProducer, ids: list[int]) -> None:
    """Publish the rows just committed, then mark them published."""
    if not ids:
        return
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM outbox WHERE id = ANY($1) AND published_at IS NULL ORDER BY id", ids)
        await _send(producer, list(rows))
        async with conn.transaction():
            # The mark need not survive a crash: a lost one only makes the sweeper publish an event again, under
            # the id its consumers have already seen. Not waiting for the WAL flush saves a durable commit.
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1)", [r["id"] for r in rows])


async def sweep(pool: asyncpg.Pool, producer: AIOKafkaProducer, older_than_s: float = 5.0, batch: int = 500) -> int:
    """Publish rows a crash left behind; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT * FROM outbox WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1)
               ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",
            older_than_s,
            batch,
        )
        if not rows:
            return 0
        await _send(producer, list(rows))
        await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1)", [r["id"] for r in rows])
        return len(rows)
