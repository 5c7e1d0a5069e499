"""dispatch under faults, on the real broker and database: backends terminated, a run that raises, Kafka cut.

The runtime (what the faust worker runs per message, and its registry listener) on a database of its own, fed
reports directly; the faust agent's and timers' wrappers (services/dispatch/app.py) are called as faust calls
them. Each report must become one case whose assignment reaches the assignments topic once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from services.dispatch.app import process_until_done
from services.dispatch.context import DuplicatePolicy
from services.dispatch.runtime import Inbound, Runtime
from shared.db import migrate
from shared.events import CloudEvent, decode, encode
from shared.health import tasks_part
from shared.kafka import ensure_topics, kafka_consumer
from shared.registry_store import import_directory
from shared.registry_store.store import NOTIFY_CHANNEL, activate
from shared.settings import DatabaseSettings, KafkaSettings, SupervisorSettings
from tests.dispatch_fixtures import SAMPLE, DispatchUnderTest
from tests.supervision_faults import kafka_cut, listening, raise_once, restarts, terminate_backends, until


@pytest.fixture
async def dispatch(kafka_settings: KafkaSettings, empty_database: DatabaseSettings) -> AsyncIterator[DispatchUnderTest]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-z{uuid.uuid4().hex[:6]}"})
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
        await import_directory(conn, SAMPLE, imported_by="tests")
    finally:
        await conn.close()
    runtime = Runtime(
        kafka, empty_database, DuplicatePolicy(radius_m=0), supervision=SupervisorSettings(backoff_initial_s=0.5)
    )
    await ensure_topics(kafka, runtime.topics.core_specs())
    await runtime.start()
    try:
        yield DispatchUnderTest(runtime, runtime.pool, kafka)
    finally:
        await runtime.stop()


async def _reports(d: DispatchUnderTest, n: int) -> list[CloudEvent[Any]]:
    return [await d.report() for _ in range(n)]


async def _assignments_per_case(d: DispatchUnderTest, case_ids: list[str]) -> dict[str, int]:
    """How many events each case has on the assignments topic (read until 2 s pass with nothing), after
    asserting that no event id appears twice there: nothing doubled."""
    ids: Counter[str] = Counter()
    per_case: Counter[str] = Counter()
    async with kafka_consumer(d.kafka, d.runtime.topics.assignments, group_id=None) as consumer:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                for record in records:
                    event = decode(record.value)
                    ids[event.id] += 1
                    per_case[event.subject] += 1
    assert [i for i, n in ids.items() if n > 1] == []
    return {c: per_case[c] for c in case_ids}


PER_REPORT = 5  # the events one report of the sample district puts on the assignments topic (lead, assisting)


async def _all_published(d: DispatchUnderTest) -> bool:
    return bool(await d.pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))


async def _registry_listens(d: DispatchUnderTest, database: DatabaseSettings) -> bool:
    return await listening(database, NOTIFY_CHANNEL) == 1


async def test_terminated_backends_reports_are_dispatched_once_and_the_registry_listener_returns(
    dispatch: DispatchUnderTest, empty_database: DatabaseSettings
) -> None:
    d = dispatch
    reloads = []
    original = d.runtime.registry.reload

    async def counted() -> None:
        reloads.append(1)
        await original()

    d.runtime.registry.reload = counted  # type: ignore[method-assign]
    events = await _reports(d, 10)
    for event in events[:5]:
        await d.feed(event)
    assert await terminate_backends(empty_database) >= 1  # the registry's LISTEN connection among them
    for event in events[5:]:
        await d.feed(event)
    await until(lambda: _registry_listens(d, empty_database), 30, "the registry listener LISTENs again")
    await until(lambda: _async(bool(reloads)), 30, "a reload after the LISTEN connection was lost")
    before = len(reloads)
    async with d.pool.acquire() as conn:  # an activation now reaches the new connection
        await activate(conn, d.runtime.registry.loaded.version, switched_by="tests")
    await until(lambda: _async(len(reloads) > before), 10, "the reload on activation")
    await until(lambda: _all_published(d), 30, "every staged event published")
    case_ids = [e.subject for e in events]
    assert await d.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = ANY($1::uuid[])", case_ids) == 10
    assert await _assignments_per_case(d, case_ids) == dict.fromkeys(case_ids, PER_REPORT)
    assert tasks_part(d.runtime.supervisor)[0]


async def _async(value: bool) -> bool:
    return value


async def test_a_message_whose_processing_raises_is_logged_counted_shown_and_retried(
    dispatch: DispatchUnderTest,
) -> None:
    d = dispatch
    before = restarts("dispatch-agent")
    (event,) = await _reports(d, 1)
    raise_once(d.runtime, "process_batch", RuntimeError("injected fault in process"))
    encoded = encode(event)
    seen: list[dict[str, Any]] = []
    original = d.runtime.supervisor._failed

    def spy(state: Any, exc: BaseException, restart_in_s: float | None = None) -> None:
        original(state, exc, restart_in_s)
        seen.append(tasks_part(d.runtime.supervisor)[1]["dispatch-agent"])

    d.runtime.supervisor._failed = spy  # type: ignore[method-assign]
    with capture_logs() as logs:
        await process_until_done(d.runtime, [Inbound(d.runtime.topics.reports, encoded.value, encoded.key, 0, 0)])
    assert seen and seen[0]["ok"] is False and "injected fault" in seen[0]["error"]  # /readyz's view while down
    failed = [e for e in logs if e["event"] == "task_failed"]
    assert failed[0]["task"] == "dispatch-agent" and failed[0]["log_level"] == "error"
    assert restarts("dispatch-agent") - before == 1
    assert tasks_part(d.runtime.supervisor)[0]  # the retry succeeded: ready again
    await until(lambda: _all_published(d), 30, "published")
    assert await _assignments_per_case(d, [event.subject]) == {event.subject: PER_REPORT}


async def test_an_outbox_sweep_that_raises_is_recorded_and_the_next_one_publishes(dispatch: DispatchUnderTest) -> None:
    d = dispatch
    before = restarts("outbox-sweeper")
    raise_once(d.runtime, "sweep_outbox", RuntimeError("injected fault in the sweeper"))
    with capture_logs() as logs:
        assert await d.runtime.supervisor.run_once("outbox-sweeper", d.runtime.sweep_outbox) is None
    ready, tasks = tasks_part(d.runtime.supervisor)
    assert not ready and tasks["outbox-sweeper"]["ok"] is False
    assert [e["task"] for e in logs if e["event"] == "task_failed"] == ["outbox-sweeper"]
    assert restarts("outbox-sweeper") - before == 1
    assert await d.runtime.supervisor.run_once("outbox-sweeper", d.runtime.sweep_outbox) is not None
    assert tasks_part(d.runtime.supervisor)[0]


async def test_kafka_cut_reports_are_dispatched_once_when_it_is_back(dispatch: DispatchUnderTest) -> None:
    d = dispatch
    events = await _reports(d, 10)
    async with kafka_cut(d.runtime.producer.client):
        for event in events:
            await d.feed(event)  # committed; publishing waits or is deferred to the sweeper

    async def swept() -> bool:  # the sweeper's timer, as faust runs it
        await d.runtime.supervisor.run_once("outbox-sweeper", d.runtime.sweep_outbox)
        return await _all_published(d)

    await until(swept, 60, "every staged event published once Kafka is back")
    case_ids = [e.subject for e in events]
    assert await _assignments_per_case(d, case_ids) == dict.fromkeys(case_ids, PER_REPORT)
