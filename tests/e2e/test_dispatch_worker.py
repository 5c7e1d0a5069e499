"""The faust dispatch worker as it runs in production: real processes, real broker, real database.

intake (HTTP) -> reports topic -> `griddispatch serve dispatch` -> PostgreSQL -> assignments and department
topics; a department reads its own topic with a Kafka client that is not ours; a worker is killed with
SIGKILL mid-stream and the ledger still holds.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from confluent_kafka import Consumer

from services.intake.main import create_app as create_intake
from shared.domain.model import Level
from shared.events import new_event
from shared.events.types import Location, ReportSubmitted
from shared.kafka import kafka_producer, publish
from shared.registry_files.load import load_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, IntakeSettings, KafkaSettings, ServiceSettings
from shared.topics import Topics
from tests.intake_fixtures import records_of

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)

SAMPLE = PROJECT_ROOT / "data" / "sample-district"


class Worker:
    """One `griddispatch serve dispatch` process."""

    def __init__(self, env: dict[str, str], port: int, worker_id: str, log_dir: str) -> None:
        self.port = port
        self.log = open(os.path.join(log_dir, f"dispatch-{worker_id}-{time.time_ns()}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "griddispatch.cli",
                "serve",
                "dispatch",
                "--port",
                str(port),
                "--worker-id",
                worker_id,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 180) -> None:  # a cold faust worker on a loaded machine
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"dispatch worker exited: see {self.log.name}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"dispatch worker not ready; see {self.log.name}")

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)
        self.log.close()


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KafkaSettings, dict[str, str], str]]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-w{uuid.uuid4().hex[:6]}"})
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "GRIDDISPATCH_DB_URL": database_settings.url,
        "GRIDDISPATCH_LOG_JSON": "true",
    }
    subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE)],
        env=env,
        check=True,
        capture_output=True,
    )
    yield kafka, env, str(tmp_path_factory.mktemp("dispatch-logs"))


@pytest.fixture(scope="module")
def worker(stack: tuple[KafkaSettings, dict[str, str], str]) -> Iterator[Worker]:
    _, env, logs = stack
    one = Worker(env, 18101, "1", logs)
    try:
        one.wait_ready()
        yield one
    finally:
        one.kill(signal.SIGTERM)


async def _wait_for(predicate: object, timeout_s: float = 180, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def intake_http(
    stack: tuple[KafkaSettings, dict[str, str], str], database_settings: DatabaseSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    kafka, _, _ = stack
    app = create_intake(kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://intake.test"))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://i.test") as http,
    ):
        yield http, app.state.resources.pool


async def test_hotline_report_is_dispatched_and_its_department_alone_hears_of_it(
    worker: Worker, stack: tuple[KafkaSettings, dict[str, str], str], intake_http: tuple[httpx.AsyncClient, object]
) -> None:
    from shared.api_clients import create_client

    kafka, _, _ = stack
    http, pool = intake_http
    async with pool.acquire() as conn:  # type: ignore[attr-defined]
        _, key = await create_client(conn, name="12345", scopes=["submit", "read"], units=["*"], source="hotline")
    headers = {"Authorization": f"Bearer {key}"}
    report = {
        "title": "小区燃气味道很大",
        "description": "3号楼2单元楼道里有很浓的燃气味",
        "location": _far_point(),
    }
    accepted = (await http.post("/v1/reports", json=report, headers=headers)).json()

    async def assigned() -> bool:
        body = (await http.get(f"/v1/cases/{accepted['case_id']}", headers=headers)).json()
        return body["state"] == "assigned"

    await _wait_for(assigned, what="the case to be dispatched")
    case = (await http.get(f"/v1/cases/{accepted['case_id']}", headers=headers)).json()
    assert case["matter_code"] == "gas_leak" and case["assignment"]["lead"].startswith("branch:gas")
    assert case["routing"]["trace"] and [h["action"] for h in case["history"]] == ["report", "assign"]

    # the gas department's own system, with an ordinary Kafka client, reads its topic
    topics = Topics(kafka.topic_prefix)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"gas-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topics.department_assignments("gas")])
    seen: list[bytes] = []
    try:
        deadline = time.monotonic() + 120  # the group's join first, on a loaded machine
        while time.monotonic() < deadline and accepted["case_id"].encode() not in seen:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                seen.append(message.key())
                assert b"cn.griddispatch.case.assigned.v1" in message.value()
    finally:
        consumer.close()
    assert accepted["case_id"].encode() in seen

    # and the city-management department's topic never carries the gas case: read to its end (five polls of
    # a second each, as before, could end before the group had even joined, and then proved nothing)
    keys = [r.key for r in await records_of(kafka, topics.department_assignments("city_management"))]
    assert accepted["case_id"].encode() not in keys


def _far_point() -> dict[str, float]:
    """A point in the sample district's last micro-grid: no other test reports a gas leak there, so nothing merges."""
    point = load_directory(SAMPLE).registry.units_at(Level.MICRO_GRID)[-1].boundary.representative_point()
    return {"lon": point.x, "lat": point.y}


def _reports(n: int) -> list[ReportSubmitted]:
    registry = load_directory(SAMPLE).registry
    grids = registry.units_at(Level.MICRO_GRID)
    texts = [
        ("路灯不亮", "路灯坏了"),
        ("垃圾没人清运", "垃圾堆了三天"),
        ("噪音扰民", "夜间施工"),
        ("井盖丢了", "路口井盖不见了"),
        ("占道经营", "门口摆摊"),
        ("楼道堆物", "楼道堆满杂物"),
    ]
    rnd = random.Random(7)
    batch = uuid.uuid4().hex[:6]
    out = []
    for i in range(n):
        point = rnd.choice(grids).boundary.representative_point()
        title, text = rnd.choice(texts)
        case_id = str(uuid.uuid4())
        out.append(
            ReportSubmitted(
                case_id=case_id,
                case_number=f"GD-E2E-{batch}-{i:06d}",
                source="grid_app",
                title=title,
                description=text,
                location=Location(lon=point.x, lat=point.y),
                received_at=datetime.now(UTC),
            )
        )
    return out


async def _ledger(database_settings: DatabaseSettings, case_ids: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_settings.url)
    try:
        ids = [uuid.UUID(c) for c in case_ids]
        rows = await conn.fetch("SELECT case_id, state, lead FROM cases WHERE case_id = ANY($1)", ids)
        assert len(rows) == len(ids)  # every report -> exactly one case (merged reports are cases too)
        assert all(r["lead"] for r in rows)  # every case -> one current lead
        assert (
            await conn.fetchval(  # no history entry twice
                "SELECT count(*) - count(DISTINCT event_id) FROM case_events WHERE case_id = ANY($1)", ids
            )
            == 0
        )
        assert await conn.fetchval(
            "SELECT count(*) FROM case_events WHERE case_id = ANY($1) AND action = 'report'", ids
        ) == len(ids)
    finally:
        await conn.close()


async def test_a_thousand_reports_each_become_one_case(
    worker: Worker, stack: tuple[KafkaSettings, dict[str, str], str], database_settings: DatabaseSettings
) -> None:
    kafka, _, _ = stack
    topics = Topics(kafka.topic_prefix)
    reports = _reports(1000)
    async with kafka_producer(kafka) as producer:
        await asyncio.gather(
            *(publish(producer, topics.reports, new_event(r, source="/e2e", subject=r.case_id)) for r in reports)
        )
    await _wait_until_cases(database_settings, [r.case_id for r in reports], timeout_s=300)
    await _ledger(database_settings, [r.case_id for r in reports])


async def _wait_until_cases(database_settings: DatabaseSettings, case_ids: list[str], timeout_s: float) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_settings.url)
    try:
        ids = [uuid.UUID(c) for c in case_ids]

        async def done() -> bool:
            return await conn.fetchval("SELECT count(*) FROM cases WHERE case_id = ANY($1)", ids) == len(ids)

        await _wait_for(done, timeout_s, what=f"{len(ids)} cases")
    finally:
        await conn.close()


async def test_kill_9_mid_stream_loses_and_doubles_nothing(
    worker: Worker, stack: tuple[KafkaSettings, dict[str, str], str], database_settings: DatabaseSettings
) -> None:
    kafka, env, logs = stack
    second = Worker(env, 18102, "2", logs)
    second.wait_ready()
    topics = Topics(kafka.topic_prefix)
    reports = _reports(600)
    try:
        async with kafka_producer(kafka) as producer:
            first_half = [
                publish(producer, topics.reports, new_event(r, source="/e2e", subject=r.case_id)) for r in reports[:300]
            ]
            await asyncio.gather(*first_half)
            await asyncio.sleep(1.0)
            second.kill(signal.SIGKILL)  # mid-stream: whatever it held uncommitted is redelivered to the other
            await asyncio.gather(
                *(
                    publish(producer, topics.reports, new_event(r, source="/e2e", subject=r.case_id))
                    for r in reports[300:]
                )
            )
        await _wait_until_cases(database_settings, [r.case_id for r in reports], timeout_s=300)
        await _ledger(database_settings, [r.case_id for r in reports])
    finally:
        second.kill()
