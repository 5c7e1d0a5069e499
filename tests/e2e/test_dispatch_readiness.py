"""Ready means ready: a dispatch worker on an empty database answers 503 naming the missing registry, and once
one is imported (after its database connections were cut, as by a PostgreSQL restart) it is ready without a
restart and dispatches a report; its department's topic, which did not exist before, gets the assignment once.

`griddispatch serve dispatch` as a process, on the real broker and a database of its own."""

from __future__ import annotations

import asyncio
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
import httpx
import pytest

from shared.events import encode, new_event
from shared.events.types import Location, Reporter, ReportSubmitted
from shared.kafka import kafka_producer
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import load_directory
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics
from tests.intake_fixtures import events_for

PORT = 18971  # this test's own


@pytest.fixture
def worker(
    kafka_settings: KafkaSettings, empty_database: DatabaseSettings, tmp_path: Path
) -> Iterator[tuple[dict[str, str], subprocess.Popen[bytes], Path]]:
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": f"{kafka_settings.topic_prefix}-rdy{uuid.uuid4().hex[:5]}",
        "GRIDDISPATCH_DB_URL": empty_database.url,
        "GRIDDISPATCH_LOG_JSON": "true",
        "GRIDDISPATCH_SERVICE_DATA_DIR": str(tmp_path / "data"),
    }
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
            yield env, proc, log_path
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


async def _readyz(proc: subprocess.Popen[bytes], log: Path, until: str, timeout_s: float) -> httpx.Response:
    """The first /readyz answer with the runtime started and the status `until` ("ready" or "not_ready")."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while True:
            assert proc.poll() is None, f"dispatch exited:\n{log.read_text()[-3000:]}"
            try:
                answer = await http.get(f"http://127.0.0.1:{PORT}/readyz", timeout=5)
                if answer.json().get("runtime") == "started" and answer.json()["status"] == until:
                    return answer
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, f"/readyz never {until}:\n{log.read_text()[-3000:]}"
            await asyncio.sleep(0.3)


async def test_dispatch_is_not_ready_without_a_registry_and_ready_once_one_is_imported(
    worker: tuple[dict[str, str], subprocess.Popen[bytes], Path],
    kafka_settings: KafkaSettings,
    empty_database: DatabaseSettings,
    tmp_path: Path,
) -> None:
    env, proc, log = worker
    waiting = await _readyz(proc, log, "not_ready", 120)
    assert waiting.status_code == 503
    registry = waiting.json()["checks"]["registry"]
    assert not registry["ok"]
    assert registry["error"] == "no registry version is active: import one with `griddispatch registry import <dir>`"
    assert waiting.json()["checks"]["kafka"]["ok"] and waiting.json()["checks"]["postgres"]["ok"]

    conn = await asyncpg.connect(empty_database.url)
    try:  # as a PostgreSQL restart would: every connection of dispatch's, its LISTEN one included, is cut
        cut = await conn.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
        assert cut >= 1
        district = generate(
            tmp_path / "district", DistrictSpec(streets=2, communities=4, grids=8, micro_grids=16, seed=13)
        )
        imported = subprocess.run(
            [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(district), "--by", "test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert imported.returncode == 0, imported.stderr
        ready = await _readyz(proc, log, "ready", 60)
        assert ready.status_code == 200 and ready.json()["checks"]["registry"]["ok"]
        assert proc.poll() is None  # the same process: no restart

        loaded = load_directory(district)
        micro = next(u for u in loaded.registry.units.values() if u.level.value == "micro_grid")
        point = micro.boundary.representative_point()
        case_id = str(uuid.uuid4())
        data = ReportSubmitted(
            case_id=case_id,
            case_number=f"GD-RDY-{case_id[:6]}",
            source="hotline",
            title="燃气味道很大",
            description="楼道里有很浓的燃气味",
            location=Location(lon=point.x, lat=point.y),
            reporter=Reporter(name="王先生", phone="13812345678"),
            received_at=datetime.now(UTC),
        )
        event = new_event(data, source="/tests", subject=case_id)
        topics = Topics(env["GRIDDISPATCH_KAFKA_TOPIC_PREFIX"])
        kafka = kafka_settings.model_copy(update={"topic_prefix": topics.prefix})
        encoded = encode(event)
        async with kafka_producer(kafka) as producer:
            await producer.send_and_wait(topics.reports, encoded.value, key=encoded.key, headers=encoded.headers)

        deadline = time.monotonic() + 60
        while (lead := await conn.fetchval("SELECT lead FROM cases WHERE case_id = $1", uuid.UUID(case_id))) is None:
            assert time.monotonic() < deadline, f"the report was not dispatched:\n{log.read_text()[-3000:]}"
            await asyncio.sleep(0.3)
    finally:
        await conn.close()
    assert lead.startswith("branch:gas-"), lead
    department = loaded.registry.branches[lead.split(":", 1)[1]].department
    assigned = await events_for(kafka, topics.assignments, case_id)
    told = await events_for(kafka, topics.department_assignments(department), case_id)
    assert [e.data.assignee for e in told if e.data.role == "lead"] == [lead]  # reached it, once
    assert len({e.id for e in told}) == len(told)
    assert len({e.id for e in assigned}) == len(assigned)  # no assignment sent twice
    assert lead in {e.data.assignee for e in assigned}
