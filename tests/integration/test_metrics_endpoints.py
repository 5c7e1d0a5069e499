"""Every service's /metrics, as Prometheus reads it, from the real processes; and the figures the dashboard needs.

The four services run as `griddispatch serve NAME` on ports 18360-18363 against the session's broker and
database. Their exposition must parse with prometheus_client's parser, and every metric the Grafana dashboard
and the alert rules name must be exported by some service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.escalation import gauges
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, kafka_consumer, kafka_producer
from shared.kafka_lag import LagProbe
from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings
from shared.topics import TopicSpec
from tests.case_rows import insert_case
from tests.unit.test_deploy_observability import metric_names_used

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
PORTS = {"intake": 18360, "dispatch": 18361, "escalation": 18362, "notify": 18363}

# What each service must export beyond the common ones (service info, dependency checks).
EXPECTED = {
    "intake": {"griddispatch_reports_accepted"},
    "dispatch": {"griddispatch_events_consumed", "griddispatch_dead_letters", "griddispatch_consumer_lag"},
    "escalation": {"griddispatch_deadlines_fired", "griddispatch_cases_open", "griddispatch_cases_overdue"},
    "notify": {"griddispatch_delivery_attempts", "griddispatch_stream_clients"},
}
SUPERVISED = {"griddispatch_task_up", "griddispatch_task_restarts"}  # the services with background tasks (not intake)
for _name in ("dispatch", "escalation", "notify"):
    EXPECTED[_name] = EXPECTED[_name] | SUPERVISED
# an Info is a gauge in the text format; every service counts the statements its pool sends
COMMON = {"griddispatch_service_info", "griddispatch_dependency_up", "griddispatch_db_statements"}


def _wait_ready(name: str, port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 150) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{name} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> Iterator[dict[str, int]]:
    workdir = tmp_path_factory.mktemp("metrics")
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": f"{kafka_settings.topic_prefix}-m{uuid.uuid4().hex[:6]}",
        "GRIDDISPATCH_DB_URL": database_settings.url,
        "GRIDDISPATCH_SERVICE_HOST": "127.0.0.1",
        "GRIDDISPATCH_LOG_JSON": "1",
        **{f"GRIDDISPATCH_SERVICE_{name.upper()}_PORT": str(port) for name, port in PORTS.items()},
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    imported = subprocess.run(  # dispatch is ready only with an active registry
        [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE), "--by", "test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    try:
        for name, port in PORTS.items():
            log_path = workdir / f"{name}.log"
            log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the process ends
            logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append(proc)
        for (name, port), proc in zip(PORTS.items(), procs, strict=True):
            _wait_ready(name, port, proc, workdir / f"{name}.log")
        yield PORTS
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for log in logs:
            log.close()


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",), "gauge": ("",)}


def _get(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _scrape(port: int) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(_get(port))
    }


def _series_names(port: int) -> set[str]:
    """The names a query can use: a counter's `_total`, a histogram's `_bucket`..., also before any sample exists."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(_get(port))
        for suffix in SUFFIXES.get(family.type, ("",))
    }


@pytest.mark.infra
def test_every_service_exposes_metrics_prometheus_can_parse(services: dict[str, int]) -> None:
    exported: set[str] = set()
    for name, port in services.items():
        families = _scrape(port)
        missing = (COMMON | EXPECTED[name]) - families.keys()
        assert not missing, f"{name} does not export {missing}"
        info = dict(families["griddispatch_service_info"][0][1])
        assert info["service"] == name
        assert ("griddispatch_dependency_up", {"dependency": "kafka"}, 1.0) in families["griddispatch_dependency_up"]
        exported |= _series_names(port)

    dispatch = _scrape(services["dispatch"])["griddispatch_db_statements"]
    selects = [value for _, labels, value in dispatch if labels["kind"] == "select"]
    assert selects and selects[0] > 0, dispatch  # it read the registry through its pool to become ready

    escalation = _scrape(services["escalation"])
    levels = {labels["level"] for _, labels, _ in escalation["griddispatch_cases_open"]}
    assert set(gauges.LEVELS) <= levels  # counted once at start, every level present even at zero

    used = metric_names_used()
    assert used, "the dashboard and rules name no metric"
    assert not used - exported, f"dashboard or alert rules use metrics no service exports: {used - exported}"


@pytest.mark.infra
def test_dispatch_reports_its_consumer_lag(services: dict[str, int]) -> None:
    deadline = time.monotonic() + 120  # the first measurement comes one timer interval (15 s) after start
    lag: list[tuple[str, dict[str, str], float]] = []
    while time.monotonic() < deadline:
        lag = _scrape(services["dispatch"]).get("griddispatch_consumer_lag", [])
        if len(lag) == 18 and all(value == 0 for _, _, value in lag):
            break  # caught up: whatever this module's other tests sent has been consumed and committed
        time.sleep(1)
    topics = {labels["topic"].rsplit(".", 1)[-1] for _, labels, _ in lag}
    assert topics == {"reports", "actions", "deadlines"}
    assert len(lag) == 18  # six partitions each
    assert all(value == 0 for _, _, value in lag)  # nothing is left behind once the worker has caught up


@pytest.fixture
async def lag_topic(kafka_settings: KafkaSettings) -> AsyncIterator[str]:
    topic = f"{kafka_settings.topic_prefix}.lag-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka_settings, [TopicSpec(topic, partitions=2, retention_ms=3_600_000)])
    yield topic


@pytest.mark.infra
async def test_lag_probe_counts_what_the_group_has_not_committed(kafka_settings: KafkaSettings, lag_topic: str) -> None:
    async with kafka_producer(kafka_settings) as producer:
        for n in range(5):
            await producer.send_and_wait(lag_topic, f"a{n}".encode(), partition=0)
        for n in range(3):
            await producer.send_and_wait(lag_topic, f"b{n}".encode(), partition=1)
    group = f"lag-test-{uuid.uuid4().hex[:6]}"
    probe = LagProbe(kafka_settings, group, [lag_topic])
    await probe.start()
    try:
        assert await probe.refresh() == {TopicPartition(lag_topic, 0): 5, TopicPartition(lag_topic, 1): 3}
        async with kafka_consumer(kafka_settings, group_id=group) as consumer:
            consumer.assign([TopicPartition(lag_topic, 0), TopicPartition(lag_topic, 1)])
            await consumer.commit({TopicPartition(lag_topic, 0): 2})  # two of partition 0's five are done
        assert await probe.refresh() == {TopicPartition(lag_topic, 0): 3, TopicPartition(lag_topic, 1): 3}
    finally:
        await probe.stop()
    sample = REGISTRY.get_sample_value(
        "griddispatch_consumer_lag", {"group": group, "topic": lag_topic, "partition": "0"}
    )
    assert sample == 3


@pytest.fixture
async def own_pool(empty_database: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    """A migrated database of this test's own: the session's has other tests' cases, and this module's escalation
    and dispatch processes (still running) may escalate them between the two readings."""
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(empty_database)
    yield pool
    await pool.close()


@pytest.mark.infra
async def test_open_and_overdue_cases_are_counted_per_level(own_pool: asyncpg.Pool) -> None:
    db_pool = own_pool
    now = datetime.now(UTC)
    before_open, before_overdue = await gauges.count(db_pool, now)
    async with db_pool.acquire() as conn:
        late = await insert_case(conn, level="street")
        on_time = await insert_case(conn, level="street")
        await insert_case(conn, level="street", state="closed")
        await insert_case(conn, level="micro_grid", state="merged")
        await insert_case(conn, level="community")
        unrouted = await insert_case(conn, level=None, state="reported")
        for case_id, due, status in [
            (late, now - timedelta(minutes=5), "open"),  # missed and still owed: overdue
            (late, now - timedelta(minutes=1), "open"),  # a second missed deadline: the case counts once
            (on_time, now + timedelta(hours=1), "open"),  # not yet due
            (on_time, now - timedelta(hours=1), "met"),  # met late, no longer owed
            (unrouted, now - timedelta(minutes=1), "open"),
        ]:
            await conn.execute(
                """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at, status)
                   VALUES ($1, $2, 'accept', 'unit:610199004', $3, $4, $4, $5)""",
                uuid.uuid4(),
                case_id,
                due - timedelta(hours=2),
                due,
                status,
            )
    open_now, overdue_now = await gauges.count(db_pool, now)
    assert {k: open_now[k] - before_open[k] for k in open_now} == {
        "micro_grid": 0,
        "grid": 0,
        "community": 1,
        "street": 2,
        "district": 0,
        "none": 1,
    }
    assert {k: overdue_now[k] - before_overdue[k] for k in overdue_now} == {
        "micro_grid": 0,
        "grid": 0,
        "community": 0,
        "street": 1,
        "district": 0,
        "none": 1,
    }
    await gauges.refresh(db_pool, now)
    assert REGISTRY.get_sample_value("griddispatch_cases_overdue", {"level": "street"}) == overdue_now["street"]
