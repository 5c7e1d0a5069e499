"""The retention task on the real PostgreSQL: exactly what the rules let go is deleted, in batches, children
with their rows, locked rows skipped without waiting, the streams' mark recorded and told to a late resume;
and the services run it under their supervisors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.db import create_pool
from shared.db.migrate import migrate
from shared.retention.policy import STREAM_RULE, rules_for
from shared.retention.pruner import Pruner, read_mark
from shared.settings import DatabaseSettings, RetentionSettings
from shared.topics import Topics
from tests.integration.test_notify_streams import EVENT_TYPE, insert, key_for, serve, stream

pytestmark = pytest.mark.infra

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SETTINGS = RetentionSettings(batch_rows=3, pause_s=0)  # small batches: every rule takes several


@pytest.fixture
async def pool(empty_database: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    """A migrated database of this test's own (the streams' mark is global to a database)."""
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(empty_database)
    yield pool
    await pool.close()


def pruner(pool: asyncpg.Pool, service: str, settings: RetentionSettings = SETTINGS) -> Pruner:
    return Pruner(pool, rules_for(service, settings, Topics("t")), settings, clock=lambda: NOW)  # type: ignore[arg-type]


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


async def seen(pool: asyncpg.Pool, consumer: str, at: datetime, n: int) -> set[str]:
    ids = {f"{consumer}-{uuid.uuid4()}" for _ in range(n)}
    await pool.executemany(
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)",
        [(consumer, i, at) for i in ids],
    )
    return ids


async def test_seen_event_ids_outlive_the_topics_their_consumer_reads(pool: asyncpg.Pool) -> None:
    # dispatch reads reports, actions, deadlines (7 days) and keeps a day more; notify reads case-events (90 days)
    old_dispatch = await seen(pool, "dispatch", ago(days=8, minutes=1), 7)
    kept_dispatch = await seen(pool, "dispatch", ago(days=7, hours=23), 2)
    old_notify = await seen(pool, "notify", ago(days=91, minutes=1), 4)
    kept_notify = await seen(pool, "notify", ago(days=8, minutes=1), 2)  # as old as dispatch's deleted ones
    other = await seen(pool, "someone-else", ago(days=400), 2)  # no rule names it

    assert (await pruner(pool, "dispatch").prune())["processed_events.dispatch"] == len(old_dispatch)
    assert (await pruner(pool, "notify").prune())["processed_events.notify"] == len(old_notify)

    left = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM processed_events")}
    assert left == kept_dispatch | kept_notify | other


async def test_only_published_outbox_rows_go(pool: asyncpg.Pool) -> None:
    async def row(created: datetime, published: datetime | None) -> str:
        event_id = str(uuid.uuid4())
        await pool.execute(
            """INSERT INTO outbox (event_id, topic, key, value, headers, created_at, published_at)
               VALUES ($1, 't', 'k', '\\x00', '[]', $2, $3)""",
            event_id,
            created,
            published,
        )
        return event_id

    gone = {await row(ago(days=9), ago(days=8)) for _ in range(5)}
    never_published = await row(ago(days=30), None)  # still owed to Kafka: never deleted
    recent = await row(ago(days=9), ago(days=6))
    assert (await pruner(pool, "dispatch").prune())["outbox"] == len(gone)
    assert {r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox")} == {never_published, recent}


async def test_deliveries_go_with_their_attempts_and_pending_ones_stay(pool: asyncpg.Pool) -> None:
    async def delivery(status: str, created: datetime, attempts: int = 2) -> int:
        delivery_id: int = await pool.fetchval(
            """INSERT INTO deliveries (event_id, event_type, recipient, channel, target, payload, status, created_at)
               VALUES ($1, 'e', 'person:p', 'sms', '13800000000', '\\x00', $2, $3) RETURNING id""",
            str(uuid.uuid4()),
            status,
            created,
        )
        await pool.executemany(
            "INSERT INTO delivery_attempts (delivery_id, attempt, outcome) VALUES ($1, $2, 'retry')",
            [(delivery_id, n) for n in range(1, attempts + 1)],
        )
        return delivery_id

    finished = [await delivery(s, ago(days=31)) for s in ("delivered", "grouped", "suppressed", "delivered")]
    dead_old = await delivery("dead", ago(days=91))
    kept = {
        await delivery("dead", ago(days=31)),  # dead ones stay 90 days, for the operator
        await delivery("pending", ago(days=200)),  # still being tried: never deleted
        await delivery("delivered", ago(days=29)),
    }
    deleted = await pruner(pool, "notify").prune()
    assert deleted["deliveries.finished"] == len(finished) and deleted["deliveries.dead"] == 1
    assert {r["id"] for r in await pool.fetch("SELECT id FROM deliveries")} == kept
    orphans = await pool.fetchval(
        "SELECT count(*) FROM delivery_attempts WHERE delivery_id = ANY($1::bigint[])", [*finished, dead_old]
    )
    assert orphans == 0
    assert await pool.fetchval("SELECT count(*) FROM delivery_attempts") == 2 * len(kept)


async def test_a_locked_row_is_skipped_without_waiting_and_taken_next_pass(pool: asyncpg.Pool) -> None:
    ids = sorted(await seen(pool, "dispatch", ago(days=9), 5))
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM processed_events WHERE event_id = $1 FOR UPDATE", ids[0])
        deleted = await asyncio.wait_for(pruner(pool, "dispatch").prune(), 10)  # would hang if it waited
        assert deleted["processed_events.dispatch"] == 4
        assert await pool.fetchval("SELECT array_agg(event_id) FROM processed_events") == [ids[0]]
    assert (await pruner(pool, "dispatch").prune())["processed_events.dispatch"] == 1


async def test_ended_sign_in_rows_go(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO persons (id, name) VALUES ('p1', '张三')")

    async def session(expires: datetime, revoked: datetime | None = None) -> uuid.UUID:
        sid = uuid.uuid4()
        await pool.execute(
            """INSERT INTO person_sessions (id, person_id, method, created_at, expires_at, last_used_at,
                                            refresh_hash, revoked_at)
               VALUES ($1, 'p1', 'password', $2, $2, $2, $3, $4)""",
            sid,
            expires,
            uuid.uuid4().hex,
            revoked,
        )
        await pool.execute(
            "INSERT INTO person_session_spent_refresh (token_hash, session_id, spent_at) VALUES ($1, $2, $3)",
            uuid.uuid4().hex,
            sid,
            expires,
        )
        return sid

    gone = {await session(ago(days=31)), await session(NOW + timedelta(days=1), revoked=ago(days=31))}
    kept = {await session(ago(days=29)), await session(NOW + timedelta(days=1))}
    deleted = await pruner(pool, "intake").prune()
    assert deleted["person_sessions"] == len(gone)
    assert {r["id"] for r in await pool.fetch("SELECT id FROM person_sessions")} == kept
    assert {r["session_id"] for r in await pool.fetch("SELECT session_id FROM person_session_spent_refresh")} == kept


async def test_a_resume_from_before_the_deleted_stream_events_is_told(empty_database: DatabaseSettings) -> None:
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    async with serve(empty_database) as served:
        unit = f"unit:t{uuid.uuid4().hex[:12]}"
        key = await key_for(served, unit)
        old = await insert(served.pool, unit, 4)
        await served.pool.execute("UPDATE stream_events SET at = $1 WHERE id = ANY($2::bigint[])", ago(days=8), old)
        new = await insert(served.pool, unit, 2)
        deleted = await pruner(served.pool, "notify").prune()
        assert deleted[STREAM_RULE] == 4
        assert await read_mark(served.pool, STREAM_RULE) == old[-1]

        async with stream(served, unit, key, headers={"Last-Event-ID": str(old[1])}) as sse:
            told = await sse.next(within=10)
            assert told.event == "expired" and told.id is None
            assert told.body == {"resume_after": old[1], "deleted_up_to": old[-1]}
            assert [(await sse.next()).id for _ in new] == new  # then what is kept, as always
        async with stream(served, unit, key, headers={"Last-Event-ID": str(old[-1])}) as sse:
            first = await sse.next(within=10)  # resumed from the newest deleted id: nothing was missed
            assert first.event == EVENT_TYPE and first.id == new[0]


def test_a_horizon_shorter_than_what_depends_on_it_is_refused() -> None:
    from shared.retention.policy import RetentionTooShort

    with pytest.raises(RetentionTooShort, match="stream_events"):
        rules_for("notify", RetentionSettings(stream_hours=0.5), Topics("t"))
    with pytest.raises(RetentionTooShort, match="deliveries"):
        rules_for("notify", RetentionSettings(deliveries_days=0.5), Topics("t"))
