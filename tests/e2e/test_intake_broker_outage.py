"""Kafka stopped: intake answers 503, and nothing appears after Kafka returns unless the client retries.

The broker here is a private one, on its own ports and directory (the jars come from the session's cache),
so stopping it disturbs nothing else; the module always stops it. Intake is the real app, run through its
lifespan, on that broker and on the session's migrated PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from griddispatch.infra import kafka as local_kafka
from griddispatch.infra.processes import Processes
from services.intake.main import create_app
from services.intake.submit import derive_case_id
from shared.api_clients import create_client
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, IntakeSettings, KafkaSettings, LocalInfraSettings, ServiceSettings
from shared.topics import Topics
from tests.intake_fixtures import events_for

PORTS = {"kafka": 29292, "controller": 29293}  # below 32768: no client socket can hold them
ANSWER_WITHIN_S = 10.0  # "a few seconds": the producer's delivery deadline plus slack for a busy machine
REPORT: dict[str, Any] = {
    "title": "小区门口垃圾没人清运",
    "location": {"lon": 108.9352, "lat": 34.2721},
    "urgency": "normal",
}


@dataclass
class PrivateBroker:
    local: LocalInfraSettings
    processes: Processes

    @property
    def bootstrap_servers(self) -> str:
        return local_kafka.bootstrap_of(self.local)

    async def start(self) -> None:
        await asyncio.to_thread(local_kafka.start, self.local, self.processes)  # formats storage on first start
        await local_kafka.wait_ready(self.local, self.processes)

    async def stop(self) -> None:
        await asyncio.to_thread(self.processes.stop, local_kafka.NAME)
        assert self.processes.running(local_kafka.NAME) is None


@pytest.fixture(scope="module")
async def broker(
    tmp_path_factory: pytest.TempPathFactory, local_infra: LocalInfraSettings
) -> AsyncIterator[PrivateBroker]:
    local_dir: Path = tmp_path_factory.mktemp("outage") / ".local"
    local = LocalInfraSettings(
        dir=local_dir,
        cache_dir=local_infra.cache_dir,  # the jars the session already has: no download
        kafka_port=PORTS["kafka"],
        kafka_controller_port=PORTS["controller"],
    )
    private = PrivateBroker(local, Processes(local_dir))
    try:
        await private.start()
        yield private
    finally:
        private.processes.stop(local_kafka.NAME)  # whatever happened, our broker does not outlive the module


async def test_kafka_stopped_503_and_nothing_appears_unless_the_client_retries(
    broker: PrivateBroker, database_settings: DatabaseSettings
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        topic_prefix=f"outage-{uuid.uuid4().hex[:8]}",
        client_id="griddispatch-outage-test",
    )
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    app = create_app(kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://intake.test"))
    async with app.router.lifespan_context(app):
        pool = app.state.resources.pool
        async with pool.acquire() as conn:
            client, key = await create_client(
                conn, name="outage hotline", scopes=["submit"], units=["*"], source="hotline", rate_per_min=10_000
            )
        auth = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test", timeout=60) as http:
            before = await http.post("/v1/reports", json=REPORT, headers=auth)
            assert before.status_code == 202, before.text

            await broker.stop()
            idempotency_key = f"outage-{uuid.uuid4()}"
            with_key = {**auth, "Idempotency-Key": idempotency_key}
            case_id = str(derive_case_id(client, idempotency_key, "hotline", None))
            started = time.monotonic()
            answer = asyncio.create_task(http.post("/v1/reports", json=REPORT, headers=with_key))
            done, _ = await asyncio.wait({answer}, timeout=3 * ANSWER_WITHIN_S)
            if not done:  # hanging: bring Kafka back so the app can finish, and say what it did then
                await broker.start()
                late = await answer
                pytest.fail(
                    f"no answer in {3 * ANSWER_WITHIN_S:.0f}s while Kafka was down; once it returned: "
                    f"{late.status_code} {late.text}"
                )
            refused = answer.result()
            took = time.monotonic() - started
            print(f"503 after {took:.1f}s with Kafka stopped")
            assert refused.status_code == 503, refused.text
            assert took < ANSWER_WITHIN_S, f"503 only after {took:.1f}s"
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/broker_unavailable")
            assert int(refused.headers["Retry-After"]) >= 1
            async with pool.acquire() as conn:  # nothing half-accepted: no submission row for it
                kept = await conn.fetchval(
                    "SELECT count(*) FROM submissions WHERE case_id = $1 OR (client_id = $2 AND idempotency_key = $3)",
                    uuid.UUID(case_id),
                    client.id,
                    idempotency_key,
                )
            assert kept == 0

            await broker.start()  # the same data directory: the earlier events are still there
            # A later report goes through the same producer: by the time it is acknowledged, anything the
            # producer still held from the outage would have been delivered as well.
            after = await http.post("/v1/reports", json={**REPORT, "title": "路灯不亮"}, headers=auth)
            assert after.status_code == 202, after.text
            assert len(await events_for(kafka, topics.reports, before.json()["case_id"])) == 1
            assert len(await events_for(kafka, topics.reports, after.json()["case_id"])) == 1
            assert await events_for(kafka, topics.reports, case_id, settle_s=3.0) == []

            retried = await http.post("/v1/reports", json=REPORT, headers=with_key)
            assert retried.status_code == 202, retried.text
            assert retried.json()["case_id"] == case_id and retried.json()["replayed"] is False
            events = await events_for(kafka, topics.reports, case_id)
            assert len(events) == 1
            assert events[0].data.case_number == retried.json()["case_number"]
