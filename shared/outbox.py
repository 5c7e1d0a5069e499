"""The transactional outbox: events are staged in the same transaction as the change, published after commit.

One row per (event, topic). The publish right after a commit sends the rows it staged from memory
(`publish_staged`); the sweeper takes only rows older than its grace period and locks what it sends (`FOR UPDATE
SKIP LOCKED`, so two sweepers never send the same row). Either marks published exactly the rows the broker
acknowledged: a topic that refuses a row (not created yet, say) leaves that row alone for the next sweep, never the
rows of other topics, which are not sent again. Every failed row is logged with its topic, event id and cause, and
counted. Whatever a crash leaves unpublished is swept up later (several workers may sweep at once: SKIP LOCKED
gives each its own rows). Event ids never change, so a republished event is recognised by every consumer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError
from prometheus_client import Counter

from shared.events import CloudEvent, EncodedEvent, encode
from shared.logging import get_logger
from shared.metrics import EVENTS_PUBLISHED
from shared.topics import topic_kind

log = get_logger(__name__)
PUBLISH_FAILURES = Counter(
    "griddispatch_outbox_publish_failures_total",
    "Outbox rows the broker did not take (left for the next sweep), by kind of topic and cause",
    ["topic_kind", "reason"],
)
# Creates a topic the broker does not know (returns True when it now exists); dispatch's for department topics.
CreateTopic = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One staged (event, topic), as stored: what a publish sends."""

    id: int
    event_id: str
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: asyncpg.Record) -> OutboxRow:
        headers = tuple((k, v.encode()) for k, v in json.loads(record["headers"]))
        return cls(record["id"], record["event_id"], record["topic"], record["key"], record["value"], headers)


@dataclass(frozen=True, slots=True)
class Published:
    """What one publish or sweep did: rows acknowledged and marked, rows left unpublished."""

    sent: int = 0
    failed: int = 0


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


# Stages the five arrays of `Staging.args` (event ids, topics, keys, values, headers); returns the rows staged now.
STAGE_MANY = """INSERT INTO outbox (event_id, topic, key, value, headers)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[])
           ON CONFLICT (event_id, topic) DO NOTHING RETURNING id, event_id, topic"""


@dataclass(frozen=True, slots=True)
class Staging:
    """(topic, event) pairs encoded once, for STAGE_MANY on its own or inside a larger statement (escalation's
    tick stages and fires in one: shared/queries/deadlines.py)."""

    encoded: list[tuple[str, CloudEvent[Any], EncodedEvent]]

    @classmethod
    def of(cls, items: Sequence[tuple[str, CloudEvent[Any]]]) -> Staging:
        return cls([(topic, event, encode(event)) for topic, event in items])

    @property
    def args(self) -> tuple[list[str], list[str], list[str], list[bytes], list[str]]:
        return (
            [e.id for _, e, _ in self.encoded],
            [t for t, _, _ in self.encoded],
            [e.subject for _, e, _ in self.encoded],
            [x.value for _, _, x in self.encoded],
            [json.dumps([[k, v.decode()] for k, v in x.headers]) for _, _, x in self.encoded],
        )

    def staged(self, returned: Sequence[asyncpg.Record]) -> list[OutboxRow]:
        """The rows STAGE_MANY returned (those not staged before), in id order, as publish_staged sends them."""
        ids = {(r["event_id"], r["topic"]): r["id"] for r in returned}
        staged = [
            OutboxRow(ids[(e.id, t)], e.id, t, e.subject, x.value, tuple(x.headers))
            for t, e, x in self.encoded
            if (e.id, t) in ids
        ]
        return sorted(staged, key=lambda r: r.id)


async def stage_many(conn: asyncpg.Connection, items: list[tuple[str, CloudEvent[Any]]]) -> list[OutboxRow]:
    """Stage many (topic, event) pairs in one statement; returns the rows of those not staged before, in the
    order given (the publish that follows the commit sends them from here, without reading them back)."""
    if not items:
        return []
    staging = Staging.of(items)
    return staging.staged(await conn.fetch(STAGE_MANY, *staging.args))


def _failed(row: OutboxRow, exc: BaseException) -> None:
    reason = type(exc).__name__
    PUBLISH_FAILURES.labels(topic_kind(row.topic), reason).inc()
    log.warning(
        "outbox_publish_failed",
        topic=row.topic,
        event_id=row.event_id,
        case_id=row.key,
        reason=reason,
        error=str(exc) or reason,
        message="left unpublished for the next sweep; the other topics' rows are not sent again",
    )


async def _enqueue(producer: AIOKafkaProducer, row: OutboxRow, create_topic: CreateTopic | None) -> asyncio.Future[Any]:
    async def send() -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await producer.send(
            row.topic, row.value, key=row.key.encode(), headers=list(row.headers)
        )
        return future

    try:
        return await send()
    except UnknownTopicOrPartitionError:
        if create_topic is None or not await create_topic(row.topic):
            raise
        return await send()  # created just now: the metadata wait finds it


async def _send(
    producer: AIOKafkaProducer, rows: Sequence[OutboxRow], create_topic: CreateTopic | None
) -> tuple[list[int], int]:
    """Send rows in id order (one case's events leave in the order they were written); the ids acknowledged.

    After a row fails, the later rows of its topic are held back this time, so each topic keeps its order."""
    pending: list[tuple[OutboxRow, asyncio.Future[Any]]] = []
    blocked: set[str] = set()
    failed = 0
    for row in rows:
        if row.topic in blocked:
            failed += 1
            continue
        try:
            pending.append((row, await _enqueue(producer, row, create_topic)))
        except KafkaError as exc:
            _failed(row, exc)
            blocked.add(row.topic)
            failed += 1
    done: list[int] = []
    for row, future in pending:
        try:
            await future
        except KafkaError as exc:
            _failed(row, exc)
            failed += 1
            continue
        EVENTS_PUBLISHED.labels(row.topic, "outbox").inc()
        done.append(row.id)
    return done, failed


async def _mark(conn: asyncpg.Connection, ids: list[int]) -> None:
    if ids:
        await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1)", ids)


async def publish_staged(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    rows: Sequence[OutboxRow],
    *,
    create_topic: CreateTopic | None = None,
) -> Published:
    """Publish rows just committed, as `stage_many` returned them (not read back, not locked: the sweeper only
    takes rows older than its grace period, and a row it sends again keeps its event id), then mark the ones
    the broker took."""
    if not rows:
        return Published()
    done, failed = await _send(producer, rows, create_topic)
    if done:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")  # a lost mark: sent again, same id
            await _mark(conn, done)
    return Published(len(done), failed)


async def sweep(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    older_than_s: float = 5.0,
    batch: int = 500,
    *,
    topics: Sequence[str] | None = None,
    create_topic: CreateTopic | None = None,
) -> Published:
    """Publish rows a crash or a refusal left behind: those of `topics` (LIKE patterns), or of every topic."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT * FROM outbox WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1)
               AND ($3::text[] IS NULL OR topic LIKE ANY($3))
               ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",
            older_than_s,
            batch,
            list(topics) if topics is not None else None,
        )
        if not rows:
            return Published()
        done, failed = await _send(producer, [OutboxRow.of(r) for r in rows], create_topic)
        await _mark(conn, done)
    return Published(len(done), failed)


def like_exactly(name: str) -> str:
    """`name` as a LIKE pattern matching only itself (a prefix may hold `_`)."""
    return name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
