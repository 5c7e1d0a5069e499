"""notify under faults, on the real broker and database: backends terminated, a tick that raises, Kafka cut.

The service runs in-process on a database of its own; a local receiver counts every webhook. Each assignment
event must reach the receiver, once per event id, whatever the fault.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from structlog.testing import capture_logs

from services.notify import consumer as notify_consumer
from services.notify.main import create_app
from shared.api_clients import create_client
from shared.db import migrate
from shared.events import new_event
from shared.events.types import CaseAssigned
from shared.kafka import ensure_topics, kafka_producer, publish
from shared.settings import (
    DatabaseSettings,
    KafkaSettings,
    NotifySettings,
    RetentionSettings,
    ServiceSettings,
    SupervisorSettings,
)
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.supervision_faults import kafka_cut, raise_once, restarts, terminate_backends, until


@dataclass
class Hooks:
    ids: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.ids.append(json.loads(await request.read())["id"])
        return web.Response(status=200)


@dataclass
class Notify:
    app: FastAPI
    http: httpx.AsyncClient
    database: DatabaseSettings
    kafka: KafkaSettings
    topics: Topics
    pool: asyncpg.Pool
    hooks: Hooks
    consumers: list[Any]

    async def emit(self, n: int) -> list[str]:
        """n assignments of new cases on the assignments topic; their event ids."""
        ids = []
        async with kafka_producer(self.kafka) as producer:
            for _ in range(n):
                async with self.pool.acquire() as conn:
                    case_id = str(await insert_case(conn))
                data = CaseAssigned(
                    case_id=case_id,
                    case_number="GD-F-1",
                    assignee="unit:610199004001",
                    role="lead",
                    matter_code="sanitation",
                    level="grid",
                    title="垃圾没人清运",
                )
                event = new_event(data, source="/tests", subject=case_id)
                await publish(producer, self.topics.assignments, event)
                ids.append(event.id)
        return ids

    async def delivered(self, ids: list[str]) -> bool:
        return set(ids) <= set(self.hooks.ids)

    def exactly_once(self, ids: list[str]) -> None:
        counts = Counter(self.hooks.ids)
        assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)


@pytest.fixture
async def notify(kafka_settings: KafkaSettings, empty_database: DatabaseSettings) -> AsyncIterator[Notify]:
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-y{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    hooks = Hooks()
    receiver = web.Application()
    receiver.router.add_route("POST", "/{tail:.*}", hooks.handle)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    consumers: list[Any] = []
    original = notify_consumer.kafka_consumer

    @contextlib.asynccontextmanager
    async def recorded(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # the test reaches the consumer's client
        async with original(*args, **kwargs) as consumer:
            consumers.append(consumer)
            yield consumer

    notify_consumer.kafka_consumer = recorded  # type: ignore[assignment]
    settings = NotifySettings(webhook_timeout_s=2.0, backoff_base_s=0.2, backoff_max_s=1.0)
    app = create_app(
        kafka,
        empty_database,
        ServiceSettings(),
        settings,
        SupervisorSettings(backoff_initial_s=1.5),
        retention=RetentionSettings(interval_s=0.3),
    )
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://n") as http,
        ):
            pool = app.state.pool
            async with pool.acquire() as conn:
                _, key = await create_client(conn, name="fault receiver", scopes=["read"], units=["*"])
            body = {"name": "f", "channel": "webhook", "target": url, "event_types": ["case.assigned"]}
            answer = await http.post("/v1/subscriptions", json=body, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 201, answer.text
            n = Notify(app, http, empty_database, kafka, topics, pool, hooks, consumers)
            await until(lambda: _ready(n), 60, "notify ready")
            yield n
    finally:
        notify_consumer.kafka_consumer = original  # type: ignore[assignment]
        await runner.cleanup()


async def _ready(n: Notify) -> bool:
    return (await n.http.get("/readyz")).status_code == 200 and bool(n.consumers)


async def test_terminated_backends_deliveries_go_out_once_and_the_stream_listens_again(notify: Notify) -> None:
    first = await notify.emit(5)
    await until(lambda: notify.delivered(first), 60, "the first deliveries")
    assert await terminate_backends(notify.database) >= 1
    second = await notify.emit(5)
    await until(lambda: notify.delivered(second), 60, "deliveries after the backends were terminated")
    # the hub listens again: its horizon reaches the new stream rows well before its 30 s look without NOTIFY
    await until(lambda: _stream_final(notify), 10, "the live stream's horizon after the termination")
    notify.exactly_once(first + second)
    await until(lambda: _ready(notify), 30, "ready again")


async def _stream_final(n: Notify) -> bool:
    top = await n.pool.fetchval("SELECT max(id) FROM stream_events")
    return bool(top) and n.app.state.stream_hub.horizon == top


async def test_a_delivery_tick_that_raises_is_logged_counted_shown_and_restarted(notify: Notify) -> None:
    before = restarts("delivery-worker")
    raise_once(notify.app.state.worker, "tick", RuntimeError("injected fault in a delivery tick"))
    with capture_logs() as logs:
        notify.app.state.worker.wake.set()
        await until(lambda: _not_ready(notify), 20, "/readyz naming the delivery worker")
        task = (await notify.http.get("/readyz")).json()["tasks"]["delivery-worker"]
        assert task["ok"] is False and "injected fault" in task["error"]
        ids = await notify.emit(3)
        await until(lambda: notify.delivered(ids), 60, "deliveries after the restart")
    failed = [e for e in logs if e["event"] == "task_failed" and e["task"] == "delivery-worker"]
    assert failed and failed[0]["log_level"] == "error" and isinstance(failed[0]["exc_info"], RuntimeError)
    assert restarts("delivery-worker") - before == 1
    notify.exactly_once(ids)
    await until(lambda: _ready(notify), 30, "ready again")


async def test_a_retention_pass_that_raises_is_shown_and_restarted_and_then_prunes(notify: Notify) -> None:
    old = datetime.now(UTC) - timedelta(days=8)
    await notify.pool.execute(
        """INSERT INTO stream_events (unit, event_id, type, body, at) VALUES ('unit:t-old', $1, 'e', '{}', $2)""",
        str(uuid.uuid4()),
        old,
    )
    before = restarts("retention")
    raise_once(notify.app.state.retention, "prune", RuntimeError("injected fault in a retention pass"))
    with capture_logs() as logs:
        await until(lambda: _not_ready(notify), 20, "/readyz naming the retention task")
        task = (await notify.http.get("/readyz")).json()["tasks"]["retention"]
        assert task["ok"] is False and "injected fault" in task["error"]
        await until(lambda: _ready(notify), 30, "ready again")
    failed = [e for e in logs if e["event"] == "task_failed" and e["task"] == "retention"]
    assert failed and failed[0]["log_level"] == "error"
    assert restarts("retention") - before == 1

    async def pruned() -> bool:
        return not await notify.pool.fetchval("SELECT count(*) FROM stream_events WHERE unit = 'unit:t-old'")

    await until(pruned, 20, "the old stream row deleted by the restarted task")


async def _not_ready(n: Notify) -> bool:
    return (await n.http.get("/readyz")).status_code == 503


async def test_kafka_cut_the_fan_out_resumes_and_delivers_each_event_once(notify: Notify) -> None:
    client = notify.consumers[-1]._client
    async with kafka_cut(client):
        ids = await notify.emit(10)  # published by a client of the test's own, read while notify's is cut
    await until(lambda: notify.delivered(ids), 90, "deliveries once Kafka is back")
    notify.exactly_once(ids)
