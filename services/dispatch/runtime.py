"""One message in, its effects out: decode, dedupe, one transaction, publish; poison to the dead-letter topic.

Infrastructure failures (database or broker down, no registry yet) are retried in place, so the partition
waits rather than skipping; anything that can never be processed goes to the dead-letter topic with the
reason and the original bytes, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.dispatch import case_store
from services.dispatch.actions import apply_action, handle_action
from services.dispatch.context import Context, DuplicatePolicy
from services.dispatch.escalations import handle_deadline
from services.dispatch.registry_holder import RegistryHolder
from services.dispatch.reports import handle_report
from shared import outbox
from shared.db import create_pool
from shared.domain.calendar import NO_LOCAL_DAYS, parse_local_days
from shared.domain.routing import DEFAULT_POLICY, Policy
from shared.errors import ConfigurationError, GridDispatchError, InvalidInput
from shared.events import CloudEvent, EventType, decode
from shared.kafka import ensure_topics, kafka_producer
from shared.logging import bind_context, get_logger
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from shared.registry_files.load import LoadedRegistry
from shared.retriable import RETRIABLE_PUBLISHING, is_retriable
from shared.settings import DatabaseSettings, DispatchSettings, DistrictSettings, KafkaSettings, SupervisorSettings
from shared.supervisor import Supervisor
from shared.topics import Topics

log = get_logger(__name__)
MAX_BACKOFF_S = 10.0


def district_policy(district: DistrictSettings) -> Policy:
    """Routing's policy in the district's time zone, with its local holidays and working days."""
    local = NO_LOCAL_DAYS
    if district.local_days_file is not None:
        try:
            text = district.local_days_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read GRIDDISPATCH_DISTRICT_LOCAL_DAYS_FILE {district.local_days_file}: {exc}"
            ) from exc
        local = parse_local_days(text, str(district.local_days_file))
    return replace(DEFAULT_POLICY, tz=district.timezone, local_days=local)


class Runtime:
    """The resources of one dispatch worker and the processing of one message."""

    def __init__(
        self,
        kafka: KafkaSettings,
        database: DatabaseSettings,
        duplicates: DuplicatePolicy | None = None,
        district: DistrictSettings | None = None,
        dispatch: DispatchSettings | None = None,
        supervision: SupervisorSettings | None = None,
    ) -> None:
        self.kafka = kafka
        # the registry listener runs here; faust's agent and timers report each run to it (app.py)
        self.supervisor = Supervisor("dispatch", supervision)
        self.deadline_scale = (dispatch or DispatchSettings()).deadline_scale
        self.policy = district_policy(district or DistrictSettings())
        self.duplicates = duplicates or DuplicatePolicy()
        self.database = database
        self.topics = Topics(kafka.topic_prefix)
        self.ready = asyncio.Event()
        self._stack = AsyncExitStack()
        self.pool: asyncpg.Pool
        self.producer: AIOKafkaProducer
        self.registry: RegistryHolder

    async def start(self) -> None:
        self.pool = await create_pool(self.database)
        self._stack.push_async_callback(self.pool.close)
        self.producer = await self._stack.enter_async_context(kafka_producer(self.kafka))
        self.registry = RegistryHolder(self.pool, on_loaded=self.ensure_department_topics)
        await self.registry.start()
        self._stack.push_async_callback(self.registry.stop)
        self.supervisor.start("registry-listener", self.registry.run)
        self._stack.push_async_callback(self.supervisor.stop, 0)  # its only loop waits: nothing to finish
        self.ready.set()

    async def stop(self) -> None:
        self.ready.clear()
        await self._stack.aclose()

    async def ensure_department_topics(self, loaded: LoadedRegistry) -> None:
        """Before a registry version is used: the topic of each of its departments (a department new in this
        version included), so no assignment waits for a topic nobody created."""
        specs = [self.topics.department_spec(d) for d in loaded.registry.departments]
        try:
            created = await ensure_topics(self.kafka, specs)
        except RETRIABLE_PUBLISHING as exc:  # publishing creates a missing one
            log.warning("department_topics_not_ensured", version=loaded.version, error=repr(exc))
            return
        if created:
            log.info("department_topics_created", version=loaded.version, topics=created)

    async def create_topic(self, topic: str) -> bool:
        """Create a department topic the broker does not know yet (the outbox asks); False for any other."""
        head, tail = f"{self.topics.prefix}.department.", ".assignments"
        if not (topic.startswith(head) and topic.endswith(tail)):
            return False
        try:
            await ensure_topics(self.kafka, [self.topics.department_spec(topic[len(head) : -len(tail)])])
        except RETRIABLE_PUBLISHING as exc:
            log.warning("department_topic_not_created", topic=topic, error=repr(exc))
            return False
        log.warning("department_topic_created_late", topic=topic)
        return True

    def outbox_topics(self) -> list[str]:
        """The topics dispatch publishes to, as LIKE patterns: its sweeper sweeps these rows, not others'."""
        prefix = outbox.like_exactly(self.topics.prefix)
        return [f"{prefix}.case-events", f"{prefix}.assignments", f"{prefix}.department.%.assignments"]

    def context(self) -> Context:
        loaded = self.registry.loaded
        return Context(
            loaded.registry,
            loaded.catalog,
            loaded.version,
            self.topics,
            policy=self.policy,
            duplicates=self.duplicates,
            deadline_scale=self.deadline_scale,
        )

    async def process(self, topic: str, value: bytes | None, key: bytes | None, partition: int, offset: int) -> None:
        try:
            event = decode(value)
        except InvalidInput as exc:
            await self.dead_letter(topic, value, key, partition, offset, str(exc.detail.get("reason")), exc.message)
            return
        with bind_context(case_id=event.subject, event_id=event.id, event_type=event.type.value):
            await self._process(topic, event, value or b"", key, partition, offset)

    async def _process(
        self, topic: str, event: CloudEvent[Any], raw: bytes, key: bytes | None, partition: int, offset: int
    ) -> None:
        delay = 0.5
        while True:
            try:
                ids = await self._transaction(event, raw)
                EVENTS_CONSUMED.labels(topic, event.type.value, "applied" if ids else "no_change").inc()
                break
            except Exception as exc:  # noqa: BLE001 - a bug must not stall the partition: park it, keep its bytes
                if is_retriable(exc):  # a passing outage: the same event again, in place
                    log.warning("retrying", error=str(exc), delay_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF_S)
                    continue
                if isinstance(exc, GridDispatchError | ValueError):
                    reason = "invalid_event"
                    if isinstance(exc, GridDispatchError):
                        reason = str(exc.detail.get("reason") or exc.code)
                    await self.dead_letter(topic, raw, key, partition, offset, reason, str(exc))
                    return
                log.error("processing_failed", error=repr(exc), trace=traceback.format_exc())
                await self.dead_letter(topic, raw, key, partition, offset, "processing_error", repr(exc))
                return
        try:  # a row the broker refuses is logged, counted and left to the sweeper; the others are not resent
            await outbox.publish(self.pool, self.producer, ids, create_topic=self.create_topic)
        except RETRIABLE_PUBLISHING as exc:  # committed: the sweeper publishes it when broker and database are back
            log.warning("publish_deferred", error=str(exc))

    async def sweep_outbox(self) -> int:
        """Publish what a crash or an outage left in the outbox; an outage only defers it to the next sweep
        (an exception here would stop faust's timer, and with it the whole worker, for good)."""
        try:
            result = await outbox.sweep(
                self.pool, self.producer, topics=self.outbox_topics(), create_topic=self.create_topic
            )
        except RETRIABLE_PUBLISHING as exc:
            log.warning("outbox_sweep_deferred", error=str(exc))
            return 0
        return result.sent

    async def _transaction(self, event: CloudEvent[Any], raw: bytes) -> list[int]:
        ctx = self.context()
        async with self.pool.acquire() as conn, conn.transaction():
            if not await case_store.claim(conn, event.id):
                return []  # seen before: redelivered after a crash or a rebalance
            if event.type is EventType.REPORT_SUBMITTED:
                ids = await handle_report(conn, ctx, event)
                for pending in await case_store.take_pending(conn, uuid.UUID(event.subject)):
                    waiting = decode(pending)
                    row = await case_store.lock_case(conn, uuid.UUID(event.subject))
                    if row is not None:
                        ids += await apply_action(conn, ctx, waiting, dict(row))
                return ids
            if event.type is EventType.ACTION_REQUESTED:
                return await handle_action(conn, ctx, event, raw)
            if event.type is EventType.DEADLINE_FIRED:
                return await handle_deadline(conn, ctx, event)
            raise InvalidInput(f"dispatch does not consume {event.type.value}", reason="unexpected_type")

    async def dead_letter(
        self, topic: str, value: bytes | None, key: bytes | None, partition: int, offset: int, reason: str, detail: str
    ) -> None:
        """The original bytes, unchanged, with the reason in headers; retried until the broker takes it."""
        headers = [
            ("dlq_reason", reason.encode()),
            ("dlq_detail", detail[:2000].encode()),
            ("dlq_source", f"{topic}:{partition}:{offset}".encode()),
            ("dlq_consumer", b"dispatch"),
        ]
        log.warning("dead_lettered", reason=reason, detail=detail[:500], source=f"{topic}:{partition}:{offset}")
        while True:
            try:
                await self.producer.send_and_wait(self.topics.dead_letter, value or b"", key=key, headers=headers)
                DEAD_LETTERS.labels(reason).inc()
                return
            except KafkaError as exc:  # the broker is down: the partition must not move on without the letter
                log.warning("dead_letter_retry", error=repr(exc))
                await asyncio.sleep(1.0)
