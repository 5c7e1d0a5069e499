"""The real dispatch worker (faust, `griddispatch serve dispatch`) on the broker that enforces ACLs, signed in
as its own principal: a report intake's principal sends is dispatched, and the department system it went to
reads the assignment from its own topic (which dispatch created), as its own principal.

The secure broker (griddispatch/infra/secure_kafka.py) is this module's own, stopped and removed at the end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from griddispatch.infra import secure_kafka
from griddispatch.infra.secure_kafka import SecureBroker
from griddispatch.kafka_access import broker as kafka_access
from griddispatch.kafka_access.grants import department_grant, service_grant
from shared.events import new_event
from shared.events.types import Location, Reporter, ReportSubmitted
from shared.kafka import ensure_topics, kafka_producer, publish
from shared.registry_files.load import load_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings, LocalInfraSettings
from shared.topics import Topics

pytestmark = pytest.mark.timeout(600)
PORT = 18972  # this test's own
SAMPLE = PROJECT_ROOT / "data" / "sample-district"
POINT = {"lon": 108.9352, "lat": 34.2721}  # inside micro-grid 610199004001001006 of the sample district


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureBroker]:
    the_broker = SecureBroker(LocalInfraSettings(start_timeout_s=180))
    try:
        secure_kafka.start(the_broker)
        asyncio.run(secure_kafka.wait_ready(the_broker))
        yield the_broker
    finally:
        secure_kafka.stop(the_broker, remove_data=True)


def _principal(secure: SecureBroker, topics: Topics, service: str) -> KafkaSettings:
    password = kafka_access.new_password()
    grant = service_grant(service, topics)
    kafka_access.grant(secure.admin_settings(), secure.local, grant, password, secure_kafka.MECHANISM)
    return secure.settings(grant.username, password, client_id=service, topic_prefix=topics.prefix)


async def test_dispatch_signs_in_as_itself_and_the_department_reads_its_assignment(
    secure: SecureBroker, empty_database: DatabaseSettings, tmp_path: Path
) -> None:
    topics = Topics(f"sec-{uuid.uuid4().hex[:6]}")
    await ensure_topics(secure.admin_settings(topic_prefix=topics.prefix), topics.core_specs())
    as_intake = _principal(secure, topics, "intake")
    as_dispatch = _principal(secure, topics, "dispatch")
    password = as_dispatch.sasl_password.get_secret_value() if as_dispatch.sasl_password else ""
    env = {
        **os.environ,
        **secure.service_env(str(as_dispatch.sasl_username), password),
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": topics.prefix,
        "GRIDDISPATCH_DB_URL": empty_database.url,
        "GRIDDISPATCH_LOG_JSON": "true",
        "GRIDDISPATCH_SERVICE_DATA_DIR": str(tmp_path / "data"),
    }
    imported = subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE), "--by", "test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    log_path = tmp_path / "dispatch.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "griddispatch.cli", "serve", "dispatch", "--port", str(PORT)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        case_id = str(uuid.uuid4())
        data = ReportSubmitted(
            case_id=case_id,
            case_number=f"GD-SEC-{case_id[:6]}",
            source="hotline",
            title="路口井盖丢失",
            description="井盖不见了",
            location=Location(**POINT),
            reporter=Reporter(name="王先生", phone="13812345678"),
            received_at=datetime.now(UTC),
        )
        async with kafka_producer(as_intake) as producer:
            await publish(producer, topics.reports, new_event(data, source="/tests", subject=case_id))

        conn = await asyncpg.connect(empty_database.url)
        try:
            deadline = time.monotonic() + 180
            while (
                lead := await conn.fetchval("SELECT lead FROM cases WHERE case_id = $1", uuid.UUID(case_id))
            ) is None:
                assert proc.poll() is None, f"dispatch exited:\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"the report was not dispatched:\n{log_path.read_text()[-3000:]}"
                await asyncio.sleep(0.5)
        finally:
            await conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    registry = load_directory(SAMPLE).registry
    kind, code = lead.split(":", 1)
    assert kind in {"branch", "department"}, lead
    department = registry.branches[code].department if kind == "branch" else code
    grant = department_grant(department, topics)
    department_password = kafka_access.new_password()
    kafka_access.grant(secure.admin_settings(), secure.local, grant, department_password, secure_kafka.MECHANISM)
    as_department = secure.settings(grant.username, department_password, topic_prefix=topics.prefix)
    consumer = AIOKafkaConsumer(
        topics.department_assignments(department),
        bootstrap_servers=as_department.bootstrap_servers,
        group_id=f"{department}.case-system",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **as_department.client_security(),
    )
    try:
        await consumer.start()
        received = []
        deadline = time.monotonic() + 60
        while not any(r.key == case_id.encode() for r in received):
            assert time.monotonic() < deadline, f"{department} got no assignment of {case_id}: {received}"
            batch = await consumer.getmany(timeout_ms=1000)
            received += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    assignment = json.loads(next(r for r in received if r.key == case_id.encode()).value)
    assert assignment["data"]["case_id"] == case_id
