"""One message in, its effects out: decode, dedupe, one transaction, publish; poison to the dead-letter topic.

Infrastructure failures (database or broker down, no registry yet) are retried in place, so the partition
waits rather than skipping; anything that can never be processed goes to the dead-letter topic with the
reason and the original bytes, and the partition moves on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Histogram

from services.dispatch.batch import Dead, Item, apply_batch, dead_of
from services.dispatch.batch import prepared as prepared_item
from services.dispatch.context import Context, DuplicatePolicy
from services.dispatch.people_holder import PeopleHolder
from services.dispatch.registry_holder import RegistryHolder
from services.dispatch.unit_of_work import UnitOfWork
from shared import outbox
from shared.db import close_pool, create_pool
from shared.domain.calendar import NO_LOCAL_DAYS, parse_local_days
from shared.domain.case import Rules
from shared.domain.routing import DEFAULT_POLICY, Policy
from shared.errors import ConfigurationError, InvalidInput
from shared.events import decode
from shared.kafka import ensure_topics, kafka_producer
from shared.logging import bind_context, get_logger
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from shared.people.duty import PeopleSnapshot
from shared.registry_files.load import LoadedRegistry
from shared.retention.pruner import Pruner, supervise_retention
from shared.retriable import RETRIABLE_PUBLISHING, is_retriable
from shared.settings import (
    DatabaseSettings,
    DispatchSettings,
    DistrictSettings,
    KafkaSettings,
    RetentionSettings,
    SupervisorSettings,
)
from shared.supervisor import Supervisor
from shared.topics import Topics

log = get_logger(__name__)
MAX_BACKOFF_S = 10.0
STOP_PUBLISH_S = 5.0
PUBLISH_AHEAD = 4  # committed batches waiting to be published before the next batch waits for them
BATCH_SIZE = Histogram(
    "griddispatch_dispatch_batch_events",
    "Events per dispatch transaction (a micro-batch; 1 when nothing is queued)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as the broker delivered it."""

    topic: str
    value: bytes | None
    key: bytes | None
    partition: int
    offset: int


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


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch decoded and routed, ready for its transaction (with the rules it was routed by)."""

    ctx: Context
    items: list[tuple[Inbound, Item]]
    undecodable: list[tuple[Inbound, Dead]]


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
        clock: Callable[[], datetime] | None = None,
        retention: RetentionSettings | None = None,
    ) -> None:
        self.kafka = kafka
        # the registry listener runs here; faust's agent and timers report each run to it (app.py)
        self.supervisor = Supervisor("dispatch", supervision)
        knobs = dispatch or DispatchSettings()
        self.deadline_scale = knobs.deadline_scale
        self.batch_max, self.batch_wait_ms = knobs.batch_max, knobs.batch_wait_ms
        self.policy = district_policy(district or DistrictSettings())
        self.duplicates = duplicates or DuplicatePolicy()
        self.database = database
        self.clock = clock or _utc_now  # what "now" is for every command (tests move it across a shift boundary)
        self.topics = Topics(kafka.topic_prefix)
        self._retention = retention or RetentionSettings()
        self.retention: Pruner | None = None
        self.ready = asyncio.Event()
        # outbox ids of committed batches, published in commit order while the next batch is applied
        self._committed: asyncio.Queue[list[outbox.OutboxRow]] = asyncio.Queue(maxsize=PUBLISH_AHEAD)
        self._stack = AsyncExitStack()
        self.pool: asyncpg.Pool
        self.producer: AIOKafkaProducer
        self.registry: RegistryHolder
        self.people: PeopleHolder

    async def start(self) -> None:
        self.pool = await create_pool(self.database)
        self._stack.push_async_callback(close_pool, self.pool)
        self.producer = await self._stack.enter_async_context(kafka_producer(self.kafka))
        self.registry = RegistryHolder(self.pool, on_loaded=self.ensure_department_topics)
        await self.registry.start()
        self._stack.push_async_callback(self.registry.stop)
        self.supervisor.start("registry-listener", self.registry.run)
        self.people = PeopleHolder(self.pool, PeopleSnapshot(calendar=self.policy.local_days, tz=self.policy.tz))
        await self.people.start()
        self._stack.push_async_callback(self.people.stop)
        self.supervisor.start("people-listener", self.people.run)
        self.supervisor.start("outbox-publisher", self._publish_committed)
        self.retention = supervise_retention(self.supervisor, self.pool, "dispatch", self.topics, self._retention)
        self._stack.push_async_callback(self.supervisor.stop, 0)  # its only loop waits: nothing to finish
        self.ready.set()

    async def stop(self) -> None:
        self.ready.clear()
        try:  # what was committed goes out now rather than at the next start's sweep
            await asyncio.wait_for(self.published(), STOP_PUBLISH_S)
        except TimeoutError:
            log.warning("stopped_before_publishing", waiting=self._committed.qsize())
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
        rules = Rules(
            loaded.registry,
            loaded.catalog,
            loaded.version,
            policy=self.policy,
            duplicates=self.duplicates,
            deadline_scale=self.deadline_scale,
            people=self.people.snapshot,
        )
        return Context(rules, self.topics, clock=self.clock)

    async def process(self, topic: str, value: bytes | None, key: bytes | None, partition: int, offset: int) -> None:
        """One message: a batch of one, and what it caused published (or deferred to the sweeper) on return."""
        await self.process_batch([Inbound(topic, value, key, partition, offset)])
        await self.published()

    async def published(self) -> None:
        """Until every committed batch has been published (or left to the sweeper by an outage)."""
        await self._committed.join()

    async def process_batch(self, messages: Sequence[Inbound]) -> None:
        """Messages in arrival order: applied in one transaction, published after it. What cannot be decoded or
        applied goes to the dead-letter topic with its reason; the rest of the batch is not held up by it."""
        await self.apply_prepared(self.prepare_batch(messages))

    def prepare_batch(self, messages: Sequence[Inbound]) -> Prepared:
        """What needs no database (decoding, routing), done ahead: pure CPU, so the batch loop does it for the
        next batch while the database writes the current one."""
        ctx = self.context()
        prepared = Prepared(ctx, [], [])
        for msg in messages:
            try:
                event = decode(msg.value)
            except InvalidInput as exc:
                prepared.undecodable.append((msg, Dead(str(exc.detail.get("reason")), exc.message)))
                continue
            prepared.items.append((msg, prepared_item(ctx, Item(event, msg.value or b""))))
        return prepared

    async def apply_prepared(self, prepared: Prepared) -> None:
        for msg, dead in prepared.undecodable:
            await self.dead_letter(msg, dead.reason, dead.detail)
        if prepared.items:
            await self._apply(prepared.items, prepared.ctx)

    async def _apply(self, items: Sequence[tuple[Inbound, Item]], ctx: Context) -> None:
        """Retry in place while the database or the broker is away; when the database refuses the batch's
        writes, halve it until the event it refuses is alone, and dead-letter that one."""
        delay = 0.5
        while True:
            try:
                async with UnitOfWork(self.pool, ctx) as uow:
                    result = await apply_batch(uow, uow.ctx, [item for _, item in items])
                break
            except Exception as exc:  # noqa: BLE001 - a bug must not stall the partition: park it, keep its bytes
                if is_retriable(exc):  # a passing outage: the same events again, in place
                    log.warning("retrying", error=str(exc), delay_s=delay, events=len(items))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF_S)
                    continue
                if len(items) > 1:
                    half = len(items) // 2
                    log.warning("batch_split", error=repr(exc), events=len(items))
                    await self._apply(items[:half], ctx)
                    await self._apply(items[half:], ctx)
                    return
                msg, item = items[0]
                dead = dead_of(exc)
                with bind_context(case_id=item.event.subject, event_id=item.event.id):
                    await self.dead_letter(msg, dead.reason, dead.detail)
                return
        BATCH_SIZE.observe(len(items))
        for (msg, item), outcome in zip(items, result.outcomes, strict=True):
            if isinstance(outcome, Dead):
                with bind_context(case_id=item.event.subject, event_id=item.event.id):
                    await self.dead_letter(msg, outcome.reason, outcome.detail)
            else:
                EVENTS_CONSUMED.labels(msg.topic, item.event.type.value, outcome).inc()
        if result.staged:  # published while the next batch is applied, in commit order
            await self._committed.put(list(result.staged))

    async def _publish_committed(self) -> None:
        """The outbox rows of each committed batch, in order. A row the broker refuses is logged, counted and
        left to the sweeper, the others are not resent; an outage leaves them all to it (they are committed)."""
        while True:
            rows = await self._committed.get()
            try:
                await outbox.publish_staged(self.pool, self.producer, rows, create_topic=self.create_topic)
            except RETRIABLE_PUBLISHING as exc:
                log.warning("publish_deferred", error=str(exc))
            finally:
                self._committed.task_done()

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

    async def dead_letter(self, msg: Inbound, reason: str, detail: str) -> None:
        """The original bytes, unchanged, with the reason in headers; retried until the broker takes it."""
        source = f"{msg.topic}:{msg.partition}:{msg.offset}"
        headers = [
            ("dlq_reason", reason.encode()),
            ("dlq_detail", detail[:2000].encode()),
            ("dlq_source", source.encode()),
            ("dlq_consumer", b"dispatch"),
        ]
        log.warning("dead_lettered", reason=reason, detail=detail[:500], source=source)
        while True:
            try:
                await self.producer.send_and_wait(
                    self.topics.dead_letter, msg.value or b"", key=msg.key, headers=headers
                )
                DEAD_LETTERS.labels(reason).inc()
                return
            except KafkaError as exc:  # the broker is down: the partition must not move on without the letter
                log.warning("dead_letter_retry", error=repr(exc))
                await asyncio.sleep(1.0)
