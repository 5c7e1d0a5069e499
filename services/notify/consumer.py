"""Reading the events notify acts on, in a consumer group of its own, committing only what is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from services.notify.fanout import FanOut
from shared.errors import InvalidInput
from shared.events import decode
from shared.kafka import kafka_consumer
from shared.logging import bind_context, get_logger
from shared.metrics import EVENTS_CONSUMED
from shared.retriable import RETRIABLE
from shared.settings import KafkaSettings
from shared.topics import Topics
from shared.tracing import consuming

log = get_logger(__name__)


async def consume(
    kafka: KafkaSettings,
    pool: asyncpg.Pool,
    fanout: FanOut,
    stop: asyncio.Event,
    on_delivery: Callable[[], None] = lambda: None,
) -> None:
    """Until `stop`: fan out every case event, assignment and fired deadline; commit offsets after recording."""
    topics = Topics(kafka.topic_prefix)
    async with kafka_consumer(
        kafka, topics.case_events, topics.assignments, topics.deadlines, group_id=f"{kafka.topic_prefix}-notify"
    ) as consumer:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, records in batch.items():
                for record in records:
                    await _one(pool, fanout, tp.topic, record.value)
            if batch:
                await consumer.commit()  # after the rows are written: a crash before this only redelivers
                on_delivery()


async def _one(pool: asyncpg.Pool, fanout: FanOut, topic: str, value: bytes | None) -> None:
    try:
        event = decode(value)
    except InvalidInput as exc:  # our own services wrote these topics; a bad one is logged, not retried forever
        log.error("undecodable_event", topic=topic, reason=exc.detail.get("reason"), detail=exc.message)
        EVENTS_CONSUMED.labels(topic, "unknown", "invalid").inc()
        return
    with bind_context(case_id=event.subject, event_id=event.id), consuming(event, f"notify {event.type.value}"):
        delay = 0.5
        while True:
            try:
                async with pool.acquire() as conn:
                    audience = await fanout.handle(conn, event, datetime.now(UTC))
                break
            except RETRIABLE as exc:  # a passing outage: the same event again (fan-out is idempotent)
                log.warning("notify_retrying", error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        outcome = "duplicate" if audience is None else "fanned_out"
        EVENTS_CONSUMED.labels(topic, event.type.value, outcome).inc()
