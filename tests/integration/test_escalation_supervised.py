"""escalation under faults, on the real broker and database: backends terminated, a tick that raises, Kafka cut.

Each test runs the service in-process (its lifespan: the supervisor, the deadline loop) on a database of its own,
so terminating "its" backends touches nothing else. Deadlines must fire, each tier exactly once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from services.escalation.main import create_app
from services.escalation.worker import NOTIFY_CHANNEL
from shared.db import migrate
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, EscalationSettings, KafkaSettings, ServiceSettings, SupervisorSettings
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.intake_fixtures import events_for
from tests.supervision_faults import kafka_cut, listening, raise_once, restarts, terminate_backends, until


@dataclass
class Escalation:
    app: FastAPI
    http: httpx.AsyncClient
    database: DatabaseSettings
    kafka: KafkaSettings
    topics: Topics
    pool: asyncpg.Pool

    async def due_now(self) -> tuple[str, uuid.UUID]:
        """A case whose accept deadline is due now: it fires overdue and escalate."""
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            case_id = await insert_case(conn)
            deadline_id = uuid.uuid4()
            await conn.execute(
                """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at)
                   VALUES ($1, $2, 'accept', 'unit:610199004001', $3, $4, $4)""",
                deadline_id,
                case_id,
                now - timedelta(hours=2),
                now,
            )
        return str(case_id), deadline_id

    async def fired(self, deadline_id: uuid.UUID) -> list[str]:
        """The tiers staged for this deadline, and whether each was published."""
        rows = await self.pool.fetch(
            """SELECT value, published_at IS NOT NULL AS published FROM outbox
               WHERE topic = $1 AND convert_from(value, 'UTF8') LIKE $2 ORDER BY id""",
            self.topics.deadlines,
            f"%{deadline_id}%",
        )
        return [json.loads(bytes(r["value"]))["data"]["tier"] + ("" if r["published"] else "?") for r in rows]


@pytest.fixture
async def escalation(kafka_settings: KafkaSettings, empty_database: DatabaseSettings) -> AsyncIterator[Escalation]:
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-x{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    # max_sleep_s long: a deadline firing within seconds was woken by its NOTIFY, so the LISTEN works
    app = create_app(
        kafka,
        empty_database,
        ServiceSettings(),
        EscalationSettings(max_sleep_s=120, case_gauges_s=120),
        supervision=SupervisorSettings(backoff_initial_s=1.5, backoff_max_s=3),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://e.test") as http,
    ):
        await until(lambda: _listens(empty_database), 30, "the deadline loop LISTENs")
        yield Escalation(app, http, empty_database, kafka, topics, app.state.worker.pool)


async def _listens(database: DatabaseSettings) -> bool:
    return await listening(database, NOTIFY_CHANNEL) == 1


async def _published(e: Escalation, deadline_id: uuid.UUID) -> bool:
    return await e.fired(deadline_id) == ["overdue", "escalate"]


async def _kafka_tiers(e: Escalation, case_id: str) -> list[str]:
    events = await events_for(e.kafka, e.topics.deadlines, case_id)
    return [ev.data.tier for ev in events]  # type: ignore[attr-defined]


async def test_terminated_backends_the_loop_listens_again_and_deadlines_fire_once(escalation: Escalation) -> None:
    e = escalation
    with capture_logs() as logs:
        assert await terminate_backends(e.database) >= 1  # the LISTEN connection among them
        await until(lambda: _listens(e.database), 30, "a new LISTEN connection")
    assert any(entry["event"] == "listen_connection_reacquired" for entry in logs)
    case_id, deadline_id = await e.due_now()  # its NOTIFY reaches the new connection: fired within seconds
    await until(lambda: _published(e, deadline_id), 20, "the deadline fired after the backends were terminated")
    assert await _kafka_tiers(e, case_id) == ["overdue", "escalate"]
    assert (await e.http.get("/readyz")).status_code == 200


async def test_a_tick_that_raises_is_logged_counted_shown_and_the_loop_restarts(escalation: Escalation) -> None:
    e = escalation
    before = restarts("deadline-loop")
    calls = raise_once(e.app.state.worker, "tick", RuntimeError("injected fault in tick"))
    with capture_logs() as logs:
        case_id, deadline_id = await e.due_now()  # wakes the loop, whose tick raises
        await until(lambda: _down(e), 20, "/readyz naming the deadline loop")
        ready = await e.http.get("/readyz")
        assert ready.status_code == 503
        task = ready.json()["tasks"]["deadline-loop"]
        assert task["ok"] is False and "injected fault in tick" in task["error"] and task["restarts"] >= 1
        await until(lambda: _published(e, deadline_id), 30, "the deadline fired after the restart")
    failed = [entry for entry in logs if entry["event"] == "task_failed"]
    assert failed and failed[0]["log_level"] == "error" and failed[0]["task"] == "deadline-loop"
    assert isinstance(failed[0]["exc_info"], RuntimeError)
    assert restarts("deadline-loop") - before == 1
    assert len(calls) >= 2
    assert await _kafka_tiers(e, case_id) == ["overdue", "escalate"]
    assert (await e.http.get("/readyz")).status_code == 200
    assert (await e.http.get("/healthz")).status_code == 200


async def _down(e: Escalation) -> bool:
    return (await e.http.get("/readyz")).status_code == 503


async def test_kafka_cut_while_firing_every_tier_reaches_the_topic_once(escalation: Escalation) -> None:
    e = escalation
    producer = e.app.state.worker.producer
    async with kafka_cut(producer.client):
        due = [await e.due_now() for _ in range(20)]
        await until(lambda: _all_staged(e, [d for _, d in due]), 30, "the tiers staged while Kafka is cut")
    for _, deadline_id in due:
        await until(lambda d=deadline_id: _published(e, d), 60, "published once Kafka is back")  # type: ignore[misc]
    for case_id, _ in due:
        assert await _kafka_tiers(e, case_id) == ["overdue", "escalate"], case_id
    assert (await e.http.get("/readyz")).json()["tasks"]["deadline-loop"]["ok"] is True


async def _all_staged(e: Escalation, ids: list[uuid.UUID]) -> bool:
    n = await e.pool.fetchval("SELECT count(*) FROM deadlines WHERE deadline_id = ANY($1) AND fired > 0", ids)
    return bool(n == len(ids))
