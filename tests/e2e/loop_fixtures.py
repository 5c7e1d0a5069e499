"""The closed loop's stack for e2e tests: all four services on the real broker and a database of
its own, one per test module (stopped with it, so its workers never run on during other tests).

dispatch runs as a process (`griddispatch serve dispatch`), notify is served by uvicorn (its live stream needs a
real HTTP connection), intake and escalation run in-process through ASGI. A local receiver stands in for every
webhook and for the SMS gateway. A module's tests share the stack, so each uses places and matters of its own (duplicates
merge by matter, 100 m and 72 h).

Ports (this file's own): 18310 dispatch, 18311 notify, 18312 the webhook and SMS receiver; a test module may
override the `loop_ports` fixture to run its stack on ports of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiohttp import web

from griddispatch.infra import postgres as local_postgres
from services.escalation.main import create_app as create_escalation
from services.intake.main import create_app as create_intake
from services.notify.main import create_app as create_notify
from shared.api_clients import create_client
from shared.db import migrate
from shared.settings import (
    PROJECT_ROOT,
    DatabaseSettings,
    EscalationSettings,
    IntakeSettings,
    KafkaSettings,
    LocalInfraSettings,
    NotifySettings,
    ServiceSettings,
)

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
DISPATCH_PORT, NOTIFY_PORT, RECEIVER_PORT = 18310, 18311, 18312
STREET = "610199004"  # the street centre's street; every test's point lies in it
WAIT_S = 180.0  # sized for a cold faust worker on a loaded 2-core machine; waits end as soon as the work is done


@dataclass
class Hooks:
    """Every POST the stack makes to the receiver: webhooks (any path) and SMS (/sms)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, "event": json.loads(await request.read())})
        return web.Response(status=200)

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r["event"] for r in self.received if r["path"] == path]

    def sms_to(self, phone: str) -> list[str]:
        return [r["event"]["text"] for r in self.received if r["path"] == "/sms" and r["event"]["to"] == phone]


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Loop:
    intake: httpx.AsyncClient
    notify: httpx.AsyncClient
    hooks: Hooks
    pool: Any
    keys: dict[str, str]
    intake_app: Any = None  # for clients of other addresses (httpx.ASGITransport(client=...))
    kafka: KafkaSettings | None = None  # the loop's own topic prefix

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def key(self, who: str, units: list[str], scopes: list[str], source: str | None = None) -> str:
        """A client of its own for `who` (a unit, a department's system, a camera platform)."""
        if who not in self.keys:
            async with self.pool.acquire() as conn:
                _, self.keys[who] = await create_client(conn, name=who, scopes=scopes, units=units, source=source)
        return who

    async def report(self, body: dict[str, Any], who: str = "hotline") -> str:
        response = await self.intake.post("/v1/reports", json=body, headers=self.h(who))
        assert response.status_code == 202, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    async def case(self, case_id: str) -> dict[str, Any]:
        response = await self.intake.get(f"/v1/cases/{case_id}", headers=self.h("hotline"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def history(self, case_id: str) -> list[str]:
        return [h["action"] for h in (await self.case(case_id))["history"]]

    async def reach(self, case_id: str, state: str, what: str = "") -> dict[str, Any]:
        async def reached() -> bool:
            return (await self.case(case_id))["state"] == state

        await until(reached, what=what or f"case {case_id} to be {state}")
        return await self.case(case_id)

    async def post_action(self, who: str, case_id: str, body: dict[str, Any]) -> None:
        response = await self.intake.post(f"/v1/cases/{case_id}/actions", json=body, headers=self.h(who))
        assert response.status_code == 202, response.text

    async def act(self, who: str, case_id: str, body: dict[str, Any], state: str) -> dict[str, Any]:
        await self.post_action(who, case_id, body)
        return await self.reach(case_id, state, f"{body['action']} -> {state}")

    async def subscribe(self, who: str, path: str, **filters: Any) -> None:
        response = await self.notify.post(
            "/v1/subscriptions",
            headers=self.h(who),
            json={"name": who, "channel": "webhook", "target": self.hooks.url + path, **filters},
        )
        assert response.status_code == 201, response.text

    async def due_now(self, case_id: str, kind: str, party: str | None = None) -> None:
        """Time passes: the case's open deadline of `kind` (for `party`) falls due now; escalation fires it.

        Its warning times stay as they are: warnings not yet fired are moot past the deadline.
        """
        await self._move(case_id, kind, party, "due_at = now(), next_fire_at = now()")

    async def warn_now(self, case_id: str, kind: str, party: str | None = None) -> None:
        """Time passes to the deadline's first warning (the rest of its allowed time stays ahead)."""
        await self._move(case_id, kind, party, "warn_times = ARRAY[now()], fired = 0, next_fire_at = now()")

    async def _move(self, case_id: str, kind: str, party: str | None, sets: str) -> None:
        result = await self.pool.execute(
            f"""UPDATE deadlines SET {sets}
                WHERE case_id = $1::uuid AND kind = $2 AND status = 'open' AND ($3::text IS NULL OR party = $3)""",
            case_id,
            kind,
            party,
        )
        assert result != "UPDATE 0", f"no open {kind} deadline for {party or 'anyone'} on {case_id}"


def _port_free(port: int) -> None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken: another closed-loop session runs?")


@dataclass(frozen=True)
class LoopPorts:
    dispatch: int = DISPATCH_PORT
    notify: int = NOTIFY_PORT
    receiver: int = RECEIVER_PORT


@contextlib.asynccontextmanager
async def _receiver(port: int = RECEIVER_PORT) -> AsyncIterator[Hooks]:
    hooks = Hooks(url=f"http://127.0.0.1:{port}")
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", hooks.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield hooks
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _dispatch(env: dict[str, str], log_path: Any, port: int = DISPATCH_PORT) -> AsyncIterator[None]:
    log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the process
    worker = subprocess.Popen(
        [sys.executable, "-m", "griddispatch.cli", "serve", "dispatch", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S  # a cold faust worker on a loaded machine
        async with httpx.AsyncClient() as http:
            while True:
                assert worker.poll() is None, f"dispatch exited; see {log_path}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                        break
                assert time.monotonic() < deadline, "dispatch not ready"
                await asyncio.sleep(0.3)
        yield
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()


@contextlib.asynccontextmanager
async def _served(app: Any, port: int) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def loop_database(local_infra: LocalInfraSettings) -> AsyncIterator[DatabaseSettings]:
    """A migrated database of the loop's own: its escalation and notify workers touch nothing else."""
    name = f"gd_loop_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(local_postgres.url_of(local_infra, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    settings = DatabaseSettings(url=local_postgres.url_of(local_infra, name))
    conn = await asyncpg.connect(settings.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield settings
    admin = await asyncpg.connect(local_postgres.url_of(local_infra, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def loop_ports() -> LoopPorts:
    return LoopPorts()


# One stack per test module, stopped when the module ends: its workers must not run on during other tests.
@pytest.fixture(scope="module")
async def loop(
    kafka_settings: KafkaSettings,
    loop_database: DatabaseSettings,
    tmp_path_factory: pytest.TempPathFactory,
    loop_ports: LoopPorts,
) -> AsyncIterator[Loop]:
    database_settings = loop_database
    ports = loop_ports
    for port in (ports.dispatch, ports.notify, ports.receiver):
        _port_free(port)
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}-loop{uuid.uuid4().hex[:5]}"}
    )
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "GRIDDISPATCH_DB_URL": database_settings.url,
    }
    subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE)],
        env=env,
        check=True,
        capture_output=True,
    )
    async with (
        _receiver(ports.receiver) as hooks,
        _dispatch(env, tmp_path_factory.mktemp("loop") / "dispatch.log", ports.dispatch),
    ):
        intake = create_intake(kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://i"))
        escalation = create_escalation(kafka, database_settings, ServiceSettings(), EscalationSettings(max_sleep_s=2))
        notify = create_notify(
            kafka,
            database_settings,
            ServiceSettings(),
            NotifySettings(
                backoff_base_s=0.2,
                group_window_s=0.5,
                sms_gateway_url=hooks.url + "/sms",
            ),
        )
        async with (
            intake.router.lifespan_context(intake),
            escalation.router.lifespan_context(escalation),
            _served(notify, ports.notify) as notify_url,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://i") as intake_http,
            httpx.AsyncClient(base_url=notify_url, timeout=httpx.Timeout(10.0)) as notify_http,
        ):
            it = Loop(intake_http, notify_http, hooks, intake.state.resources.pool, {}, intake, kafka)
            await it.key("hotline", ["*"], ["submit", "read", "act"], source="hotline")
            await it.key("grid app", ["unit:610199004001"], ["read", "act"], source="grid_app")
            await it.key("street centre", [f"unit:{STREET}"], ["read", "act", "supervise"])
            await it.key("gas company", ["department:gas"], ["read", "act"])
            yield it


class SseReader:
    """A unit's live stream (notify's GET /v1/streams/{unit}) read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.pump = asyncio.ensure_future(self._pump(response))

    async def _pump(self, response: httpx.Response) -> None:
        try:
            async for line in response.aiter_lines():
                self.queue.put_nowait(line)
        finally:
            self.queue.put_nowait(None)

    async def close(self) -> None:
        self.pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.pump

    async def next(self) -> tuple[str | None, dict[str, Any]]:
        """The next event: (its SSE event name, the CloudEvent)."""
        name: str | None = None
        data: list[str] = []
        while True:
            line = await self.queue.get()
            if line is None:
                raise EOFError("the server ended the stream")
            if line.startswith(":"):
                continue
            if not line:
                if data:
                    body: dict[str, Any] = json.loads("\n".join(data))
                    return name, body
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)


@contextlib.asynccontextmanager
async def stream(loop: Loop, unit: str, who: str, since: int = 0) -> AsyncIterator[SseReader]:
    async with loop.notify.stream(
        "GET", f"/v1/streams/{unit}", params={"since": since}, headers=loop.h(who), timeout=None
    ) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        reader = SseReader(response)
        try:
            yield reader
        finally:
            await reader.close()
