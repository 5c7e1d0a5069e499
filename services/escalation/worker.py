"""The deadline worker: claim what is due, fire it once, sleep until the next due time or a new deadline.

Several workers may run: each claims rows with FOR UPDATE SKIP LOCKED, so no row is fired by two. Firing
is staged in the outbox in the claiming transaction: a worker killed mid-batch rolls back and another
fires the batch; a worker killed after commit leaves only publishing, which the sweeper finishes. The cost
of a tick grows with what is due, not with what is open (an index on next_fire_at of open rows).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Histogram

from services.escalation.clock import Clock
from services.escalation.tiers import Firing, plan
from shared import outbox
from shared.db.listen import PoolListener
from shared.domain.lifecycle import Tier
from shared.errors import BrokerUnavailable
from shared.events import CloudEvent
from shared.events.envelope import trusted_event
from shared.events.types import DeadlineFired
from shared.logging import get_logger
from shared.queries import deadlines
from shared.retriable import RETRIABLE_PUBLISHING
from shared.settings import EscalationSettings
from shared.supervisor import wait_any
from shared.topics import Topics
from shared.tracing import current_fields, producing

log = get_logger(__name__)
NOTIFY_CHANNEL = deadlines.NOTIFY_CHANNEL
SOURCE = "/griddispatch/escalation"
_NAMESPACE = uuid.UUID("a4c1d6e2-93b5-4c1f-8e07-2b9f5d3c7a18")

FIRED = Counter("griddispatch_deadlines_fired_total", "Deadline tiers fired", ["tier"])
LAG = Histogram(
    "griddispatch_deadline_fire_lag_seconds",
    "From a tier's scheduled time to its firing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
_FIRED = {tier: FIRED.labels(tier) for tier in Tier}  # each tier's child, looked up once
TICK = Histogram("griddispatch_escalation_tick_seconds", "Database time of one claim-and-fire transaction")
NOTIFIES = Counter(
    "griddispatch_escalation_notifies_total",
    "New-deadline notifications received: woke (due before the planned wake) or ignored (due at or after it)",
    ["outcome"],
)


def event_id(deadline_id: uuid.UUID, firing: Firing) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{deadline_id}/{firing.tier}/{firing.index}"))


class DeadlineWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topics: Topics,
        clock: Clock,
        settings: EscalationSettings,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.topics = topics
        self.clock = clock
        self.settings = settings
        self.realert_every = timedelta(minutes=settings.realert_minutes)
        self.wake = asyncio.Event()
        self.planned_wake: datetime | None = None  # when the current sleep ends; None while looking: any NOTIFY wakes

    async def tick(self) -> int:
        """Fire what is due now; returns how many deadlines were claimed."""
        now = self.clock.now()
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await deadlines.claim(conn, now, self.settings.batch)
            events: list[tuple[str, CloudEvent[Any]]] = []
            updates = []
            logger = log.bind()  # the configured logger resolved once per tick, not once per line
            for row in rows:
                p = plan(list(row["warn_times"]), row["due_at"], row["fired"], now, self.realert_every)
                events += [(self.topics.deadlines, self._event(row, firing, logger)) for firing in p.fire]
                updates.append((row["deadline_id"], p.fired, p.next_fire_at))
            staged = await deadlines.fire(conn, events, updates)  # staging and firing: one statement for the batch
        TICK.observe(time.perf_counter() - started)
        await outbox.publish_staged(self.pool, self.producer, staged)
        return len(rows)

    def _event(self, row: asyncpg.Record, firing: Firing, logger: Any = log) -> CloudEvent[DeadlineFired]:
        data = DeadlineFired(
            case_id=str(row["case_id"]),
            deadline_id=str(row["deadline_id"]),
            kind=row["kind"],
            tier=firing.tier,
            due_at=row["due_at"],
            assignee=row["party"],
            scheduled_at=firing.scheduled_at,
        )
        with producing("deadline fired"):  # a trace of its own: no request caused it
            # built from the row just read and the pure plan: no validation again (trusted_event, as dispatch does)
            event = trusted_event(
                data,
                source=SOURCE,
                subject=data.case_id,
                event_id=event_id(row["deadline_id"], firing),
                time=datetime.now(UTC),
                trace=current_fields(),
            )
        # the case and event ids as fields of this line alone (what bind_context gives it, a third cheaper)
        logger.info(
            "deadline_fired",
            case_id=data.case_id,
            event_id=event.id,
            tier=firing.tier,
            kind=data.kind,
            party=data.assignee,
        )
        _FIRED[firing.tier].inc()
        LAG.observe(max((event.time - firing.scheduled_at).total_seconds(), 0.0))
        return event

    async def seconds_until_next(self) -> float:
        next_at = await deadlines.next_fire_at(self.pool)
        if next_at is None:
            return self.settings.max_sleep_s
        wait: float = (next_at - self.clock.now()).total_seconds()
        return min(max(wait, 0.0), self.settings.max_sleep_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: fire what is due (oldest first), then sleep until the next due time or a NOTIFY.

        The LISTEN connection is taken again whenever it is lost (its loss wakes the loop: NOTIFYs may have been
        missed meanwhile). Anything else that escapes ends the run for the supervisor to log and restart."""
        listener = PoolListener(self.pool, NOTIFY_CHANNEL, self._on_notify, on_lost=self.wake.set)
        delay = 0.5
        try:
            while not stop.is_set():
                self.wake.clear()  # before looking: a NOTIFY that lands while we look must wake the next sleep
                self.planned_wake = None
                try:
                    await listener.ensure()
                    if await self.tick() >= self.settings.batch:
                        continue  # more is due right now
                    # its own rows only: another service's row for a topic not created yet must not hold this loop
                    await outbox.sweep(self.pool, self.producer, topics=[outbox.like_exactly(self.topics.deadlines)])
                    sleep = await self.seconds_until_next()
                    delay = 0.5
                except RETRIABLE_PUBLISHING as exc:
                    # any KafkaError too: aiokafka's send() itself raises (KafkaTimeoutError: a full batch not drained
                    # within the request timeout, metadata not fetched) before the outbox wraps the delivery's errors;
                    # it ended the loop (issue 13)
                    if not isinstance(exc, KafkaError | BrokerUnavailable):
                        listener.lost()  # the database went away: the LISTEN connection likely with it
                    log.warning("escalation_retrying", error=str(exc) or type(exc).__name__, delay_s=delay)
                    sleep, delay = delay, min(delay * 2, 10.0)
                self.planned_wake = self.clock.now() + timedelta(seconds=sleep)
                await wait_any(sleep, self.wake, stop)
        finally:
            await listener.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """Wake for a new deadline only if it is due before the planned wake (or its due time is not known).

        Skipping a later one is safe: the sleep ends at its planned time, at the latest after max_sleep_s, and
        the next look (tick, then the earliest next_fire_at) sees every deadline committed before it."""
        if self.wakes_for(payload):
            NOTIFIES.labels("woke").inc()
            self.wake.set()
        else:
            NOTIFIES.labels("ignored").inc()

    def wakes_for(self, payload: str) -> bool:
        planned = self.planned_wake
        if planned is None:  # looking right now: the look may have missed it, so the next sleep must not wait
            return True
        try:
            due = datetime.fromtimestamp(float(payload), UTC)
        except (ValueError, OverflowError, OSError):  # an empty payload (the trigger before 0008) wakes as it did
            return True
        return due < planned
