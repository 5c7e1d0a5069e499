"""The outbox on the real broker and database: one event staged for two topics, one of them not created yet.

The failure the issue saw: a case's assignment went to the assignments topic four times in 127 s and reached
its department's topic only with the fourth copy. The department's topic did not exist; each attempt sent
every row of the event again, waited the producer's request timeout for the missing topic, and marked none.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from shared import outbox
from shared.events import CloudEvent, new_event
from shared.events.types import CaseAssigned
from shared.kafka import ensure_topics, kafka_producer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.intake_fixtures import events_for


@pytest.fixture
async def topics(kafka_settings: KafkaSettings) -> Topics:
    mine = Topics(f"{kafka_settings.topic_prefix}-ob{uuid.uuid4().hex[:6]}")
    await ensure_topics(kafka_settings, [s for s in mine.core_specs() if s.name == mine.assignments])
    return mine


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    # A missing topic costs one metadata wait of request_timeout_ms per attempt: 15 s by default, 2 s here.
    async with kafka_producer(kafka_settings, request_timeout_ms=2000) as p:
        yield p


def _assignment(department: str) -> CloudEvent[CaseAssigned]:
    case_id = str(uuid.uuid4())
    data = CaseAssigned(
        case_id=case_id,
        case_number=f"GD-OB-{case_id[:6]}",
        assignee=f"department:{department}",
        role="lead",
        matter_code=None,
        level="district",
        title="燃气泄漏",
    )
    return new_event(data, source="/tests", subject=case_id)


async def _stage(pool: asyncpg.Pool, event: CloudEvent[CaseAssigned], names: list[str]) -> list[outbox.OutboxRow]:
    async with pool.acquire() as conn, conn.transaction():
        return await outbox.stage_many(conn, [(name, event) for name in names])


def _failures(reason: str) -> float:
    labels = {"topic_kind": "department", "reason": reason}
    return REGISTRY.get_sample_value("griddispatch_outbox_publish_failures_total", labels) or 0.0


async def test_a_topic_not_created_yet_delays_only_its_own_copy_and_every_topic_gets_one(
    db_pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka_settings: KafkaSettings, topics: Topics
) -> None:
    department = f"new{uuid.uuid4().hex[:6]}"
    event = _assignment(department)
    missing = topics.department_assignments(department)
    staged = await _stage(db_pool, event, [topics.assignments, missing])
    ids = [row.id for row in staged]
    before = _failures("UnknownTopicOrPartitionError")
    mine = [outbox.like_exactly(topics.prefix) + ".%"]

    with capture_logs() as logs:
        first = await outbox.publish_staged(db_pool, producer, staged)
        swept = [await outbox.sweep(db_pool, producer, older_than_s=0, topics=mine) for _ in range(2)]
    assert first == outbox.Published(sent=1, failed=1)
    assert swept == [outbox.Published(sent=0, failed=1)] * 2  # only the refused row is tried again
    assert _failures("UnknownTopicOrPartitionError") == before + 3
    failed = [e for e in logs if e["event"] == "outbox_publish_failed"]
    assert len(failed) == 3 and all(e["log_level"] == "warning" for e in failed)
    assert {(e["topic"], e["event_id"], e["reason"]) for e in failed} == {
        (missing, event.id, "UnknownTopicOrPartitionError")
    }

    await ensure_topics(kafka_settings, [topics.department_spec(department)])  # the topic, late
    assert await outbox.sweep(db_pool, producer, older_than_s=0, topics=mine) == outbox.Published(sent=1)
    on_assignments = await events_for(kafka_settings, topics.assignments, event.subject)
    on_department = await events_for(kafka_settings, missing, event.subject)
    assert [e.id for e in on_assignments] == [event.id]  # once, not once per attempt
    assert [e.id for e in on_department] == [event.id]
    unpublished = await db_pool.fetchval("SELECT count(*) FROM outbox WHERE id = ANY($1) AND published_at IS NULL", ids)
    assert unpublished == 0


async def test_a_missing_topic_the_publisher_can_create_is_created_and_sent_at_once(
    db_pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka_settings: KafkaSettings, topics: Topics
) -> None:
    department = f"new{uuid.uuid4().hex[:6]}"
    event = _assignment(department)
    missing = topics.department_assignments(department)
    staged = await _stage(db_pool, event, [topics.assignments, missing])
    asked: list[str] = []

    async def create(topic: str) -> bool:
        asked.append(topic)
        await ensure_topics(kafka_settings, [topics.department_spec(department)])
        return True

    assert await outbox.publish_staged(db_pool, producer, staged, create_topic=create) == outbox.Published(sent=2)
    assert asked == [missing]
    assert [e.id for e in await events_for(kafka_settings, missing, event.subject)] == [event.id]
    assert [e.id for e in await events_for(kafka_settings, topics.assignments, event.subject)] == [event.id]


async def test_a_sweep_while_another_holds_the_rows_sends_nothing_twice(
    db_pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka_settings: KafkaSettings, topics: Topics
) -> None:
    event = _assignment("city_management")
    staged = await _stage(db_pool, event, [topics.assignments])
    ids = [row.id for row in staged]
    mine = [outbox.like_exactly(topics.prefix) + ".%"]
    async with db_pool.acquire() as conn, conn.transaction():  # as another sweep in flight holds them
        await conn.fetch("SELECT id FROM outbox WHERE id = ANY($1) FOR UPDATE", ids)
        assert await outbox.sweep(db_pool, producer, older_than_s=0, topics=mine) == outbox.Published()
    assert await outbox.publish_staged(db_pool, producer, staged) == outbox.Published(sent=1)
    assert await outbox.sweep(db_pool, producer, older_than_s=0, topics=mine) == outbox.Published()
    assert [e.id for e in await events_for(kafka_settings, topics.assignments, event.subject)] == [event.id]
