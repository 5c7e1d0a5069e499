"""The deadline worker on the real database and broker, with time moved by an injected clock."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.escalation.worker import DeadlineWorker
from shared.db import create_pool
from shared.db.statements import sent as statements_sent
from shared.domain.calendar import deadline
from shared.domain.model import ClockKind
from shared.kafka import ensure_topics, kafka_producer
from shared.queries import deadlines
from shared.settings import DatabaseSettings, EscalationSettings, KafkaSettings
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.intake_fixtures import events_for


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@dataclass
class Harness:
    pool: asyncpg.Pool
    kafka: KafkaSettings
    topics: Topics
    producer: object

    def worker(self, clock: FakeClock | None = None, batch: int = 500) -> DeadlineWorker:
        return DeadlineWorker(
            self.pool,
            self.producer,
            self.topics,
            clock or FakeClock(datetime.now(UTC)),  # type: ignore[arg-type]
            EscalationSettings(batch=batch, realert_minutes=30, max_sleep_s=30),
        )

    async def deadline(
        self, due: datetime, warn: list[datetime] | None = None, kind: str = "accept"
    ) -> tuple[str, uuid.UUID]:
        async with self.pool.acquire() as conn:
            case_id = await insert_case(conn)
            deadline_id = uuid.uuid4()
            await conn.execute(
                """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at)
                   VALUES ($1, $2, $3, 'unit:610199004001', $4, $5, $6, $7)""",
                deadline_id,
                case_id,
                kind,
                due - timedelta(hours=10),
                due,
                warn or [],
                min([*(warn or []), due]),
            )
        return str(case_id), deadline_id

    async def fired(self, deadline_id: uuid.UUID) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT value FROM outbox WHERE topic = $1 AND convert_from(value, 'UTF8') LIKE $2 ORDER BY id",
            self.topics.deadlines,
            f"%{deadline_id}%",
        )
        return [json.loads(bytes(r["value"]))["data"]["tier"] for r in rows]


@pytest.fixture(scope="module")
async def harness(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[Harness]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-e{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    pool = await create_pool(database_settings)
    try:
        async with kafka_producer(kafka) as producer:
            yield Harness(pool, kafka, topics, producer)
    finally:
        await pool.close()


async def _only_these_due(harness: Harness, ids: list[uuid.UUID]) -> None:
    """Void every other open deadline so a tick sees only this test's."""
    await harness.pool.execute(
        "UPDATE deadlines SET status = 'void' WHERE status = 'open' AND NOT deadline_id = ANY($1)", ids
    )


async def test_each_tier_fires_at_its_time_and_reaches_the_topic(harness: Harness) -> None:
    now = datetime.now(UTC)
    due = now + timedelta(hours=10)
    case_id, deadline_id = await harness.deadline(due, [now + timedelta(hours=5), now + timedelta(hours=8)])
    await _only_these_due(harness, [deadline_id])
    clock = FakeClock(now)
    worker = harness.worker(clock)
    expected: list[str] = []
    for at, tiers in [
        (now + timedelta(hours=1), []),
        (now + timedelta(hours=5), ["warning"]),
        (now + timedelta(hours=6), []),
        (now + timedelta(hours=8, seconds=1), ["warning"]),
        (due, ["overdue", "escalate"]),
        (due + timedelta(minutes=10), []),
        (due + timedelta(minutes=30), ["realert"]),
    ]:
        clock.current = at
        await worker.tick()
        expected += tiers
        assert await harness.fired(deadline_id) == expected, at
    events = await events_for(harness.kafka, harness.topics.deadlines, case_id)
    assert [e.data.tier for e in events] == expected
    assert all(e.data.deadline_id == str(deadline_id) and e.data.assignee == "unit:610199004001" for e in events)
    assert len({e.id for e in events}) == len(events)


async def test_met_or_void_deadlines_fire_nothing(harness: Harness) -> None:
    now = datetime.now(UTC)
    _, met = await harness.deadline(now - timedelta(minutes=1))
    _, void = await harness.deadline(now - timedelta(minutes=1))
    await harness.pool.execute("UPDATE deadlines SET status = 'met' WHERE deadline_id = $1", met)
    await harness.pool.execute("UPDATE deadlines SET status = 'void' WHERE deadline_id = $1", void)
    await harness.worker(FakeClock(now)).tick()
    assert await harness.fired(met) == [] and await harness.fired(void) == []


async def test_two_workers_never_fire_the_same_tier_twice(harness: Harness) -> None:
    now = datetime.now(UTC)
    async with harness.pool.acquire() as conn:
        case_id = await insert_case(conn)
        rows = [(uuid.uuid4(), case_id, now - timedelta(seconds=i)) for i in range(2000)]
        await conn.executemany(
            """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at)
               VALUES ($1, $2, 'resolve', 'unit:610199004001', $3::timestamptz - interval '1 hour', $3, $3)""",
            rows,
        )
    ids = [r[0] for r in rows]
    await _only_these_due(harness, ids)
    workers = [harness.worker(FakeClock(now), batch=150), harness.worker(FakeClock(now), batch=150)]

    async def drain(worker: DeadlineWorker) -> int:
        total = 0
        while claimed := await worker.tick():
            total += claimed
        return total

    claimed = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(claimed) == 2000 and min(claimed) > 0  # both took part, and every deadline was claimed once
    counts = await harness.pool.fetch(
        """SELECT (convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'deadline_id') AS d, count(*) AS n
           FROM outbox WHERE topic = $1 GROUP BY 1 HAVING count(*) <> 2""",
        harness.topics.deadlines,
    )
    assert [c for c in counts if c["d"] in {str(i) for i in ids}] == []  # overdue + escalate, once each


async def test_deadlines_missed_while_down_fire_oldest_first(harness: Harness) -> None:
    now = datetime.now(UTC)
    created = [await harness.deadline(now - timedelta(hours=h)) for h in (1, 30, 5, 12)]
    await _only_these_due(harness, [d for _, d in created])
    await harness.worker(FakeClock(now)).tick()
    rows = await harness.pool.fetch(
        """SELECT convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'due_at' AS due FROM outbox
           WHERE topic = $1 AND convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'tier' = 'overdue'
             AND convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'deadline_id' = ANY($2) ORDER BY id""",
        harness.topics.deadlines,
        [str(d) for _, d in created],
    )
    dues = [datetime.fromisoformat(r["due"]) for r in rows]
    assert len(dues) == 4 and dues == sorted(dues)


async def test_a_new_earlier_deadline_wakes_a_sleeping_worker(harness: Harness) -> None:
    await _only_these_due(harness, [])
    worker = harness.worker()  # real time
    worker.clock = type("Now", (), {"now": staticmethod(lambda: datetime.now(UTC))})()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        started = asyncio.get_running_loop().time()
        while worker.planned_wake is None:  # nothing due: it goes to sleep (up to 30 s) on NOTIFY
            assert asyncio.get_running_loop().time() - started < 60, "the worker never went to sleep"
            await asyncio.sleep(0.05)
        _, deadline_id = await harness.deadline(datetime.now(UTC) + timedelta(seconds=1))
        started = asyncio.get_running_loop().time()
        while not await harness.fired(deadline_id):
            # under its 30 s sleep: only the NOTIFY can have woken it this soon
            assert asyncio.get_running_loop().time() - started < 20, "the worker did not wake for the new deadline"
            await asyncio.sleep(0.1)
        assert await harness.fired(deadline_id) == ["overdue", "escalate"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_deadline_due_after_the_planned_wake_does_not_wake_the_worker(harness: Harness) -> None:
    await _only_these_due(harness, [])
    worker = harness.worker()
    worker.clock = type("Now", (), {"now": staticmethod(lambda: datetime.now(UTC))})()
    ticks = 0
    tick = worker.tick

    async def counted() -> int:
        nonlocal ticks
        ticks += 1
        return await tick()

    worker.tick = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        started = asyncio.get_running_loop().time()
        while worker.planned_wake is None:  # nothing due: it plans to sleep max_sleep_s (30 s)
            assert asyncio.get_running_loop().time() - started < 60, "the worker never went to sleep"
            await asyncio.sleep(0.05)
        assert ticks == 1
        await harness.deadline(datetime.now(UTC) + timedelta(hours=2))  # due long after the planned wake
        await asyncio.sleep(1.0)
        assert ticks == 1, "a deadline due after the planned wake woke the worker"
        _, soon = await harness.deadline(datetime.now(UTC) + timedelta(seconds=1))  # due before it: wakes
        started = asyncio.get_running_loop().time()
        while not await harness.fired(soon):
            assert asyncio.get_running_loop().time() - started < 20, "the worker did not wake for the new deadline"
            await asyncio.sleep(0.1)
        assert ticks >= 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_working_day_deadline_across_the_spring_festival(harness: Harness) -> None:
    # 2026-02-13 (Friday) 10:00 in Xi'an; 2 working days; the Spring Festival holiday runs 15-23 February 2026
    # and Saturday 14 February and Saturday 28 February are make-up working days.
    start = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
    due = deadline(start, 2, ClockKind.WORKING_DAYS).due
    local = due.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.date().isoformat() == "2026-02-24"  # 14 Feb (make-up Saturday) is day 1, 24 Feb day 2
    _, deadline_id = await harness.deadline(due)
    await _only_these_due(harness, [deadline_id])
    clock = FakeClock(datetime(2026, 2, 20, 2, 0, tzinfo=UTC))  # in the middle of the holiday: not yet
    worker = harness.worker(clock)
    await worker.tick()
    assert await harness.fired(deadline_id) == []
    clock.current = due
    await worker.tick()
    assert await harness.fired(deadline_id) == ["overdue", "escalate"]


async def _due_now(harness: Harness, n: int, now: datetime) -> list[uuid.UUID]:
    async with harness.pool.acquire() as conn:
        case_id = await insert_case(conn)
        rows = [(uuid.uuid4(), case_id, now - timedelta(seconds=i + 1)) for i in range(n)]
        await conn.copy_records_to_table(
            "deadlines",
            records=[(d, c, "resolve", "unit:610199004001", at - timedelta(hours=1), at, at) for d, c, at in rows],
            columns=["deadline_id", "case_id", "kind", "party", "starts_at", "due_at", "next_fire_at"],
        )
    return [r[0] for r in rows]


async def _statements_of_one_tick(harness: Harness, ids: list[uuid.UUID], now: datetime) -> tuple[int, int]:
    """(statements the tick sent, deadlines it claimed), with only `ids` open."""
    await _only_these_due(harness, ids)
    before = sum(statements_sent().values())
    claimed = await harness.worker(FakeClock(now), batch=500).tick()
    return sum(statements_sent().values()) - before, claimed


async def test_a_tick_takes_the_same_few_statements_whatever_its_batch_and_fires_each_once(harness: Harness) -> None:
    now = datetime.now(UTC)
    few = await _due_now(harness, 3, now)
    few_statements, few_claimed = await _statements_of_one_tick(harness, few, now)
    many = await _due_now(harness, 400, now)
    many_statements, many_claimed = await _statements_of_one_tick(harness, many, now)
    assert (few_claimed, many_claimed) == (3, 400)
    # claim, stage and fire in one transaction, then mark what the broker took: the same few round trips for 3 or 400
    assert many_statements == few_statements <= 10, (few_statements, many_statements)
    counts = await harness.pool.fetch(
        """SELECT convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'deadline_id' AS d,
                  array_agg(convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'tier' ORDER BY id) AS tiers,
                  count(published_at) AS published
           FROM outbox WHERE topic = $1 AND convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'deadline_id' = ANY($2)
           GROUP BY 1""",
        harness.topics.deadlines,
        [str(d) for d in few + many],
    )
    assert len(counts) == 403
    assert all(list(c["tiers"]) == ["overdue", "escalate"] and c["published"] == 2 for c in counts)
    assert await harness.worker(FakeClock(now)).tick() == 0  # nothing fired is claimed again
    assert await deadlines.not_yet_fired(harness.pool, few + many) == 0  # type: ignore[arg-type]
