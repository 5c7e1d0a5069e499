"""notify's live stream (SSE) served by uvicorn on the real PostgreSQL: live, resume, holes, access."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.notify.routers.streams import make_stream_router, sse_events
from services.notify.streams import StreamHub
from shared.api_clients import create_client
from shared.db import create_pool
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings
from shared.web import install_problem_handlers

pytestmark = pytest.mark.infra

HEARTBEAT_S = 0.5
EVENT_TYPE = "cn.griddispatch.case.assigned.v1"
STREET = "610199001"  # in the sample registry, with 610199001001001001 (a micro-grid) below it


@dataclass
class Served:
    base: str
    pool: asyncpg.Pool
    hub: StreamHub
    http: httpx.AsyncClient
    server: uvicorn.Server
    task: asyncio.Task[None]


@dataclass
class Sse:
    id: int | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comment: str | None = None

    @property
    def body(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads("\n".join(self.data))
        return parsed


class SseReader:
    """Server-Sent Events parsed by hand from the response's lines.

    A task moves lines to a queue: a timeout on the queue leaves the response readable, where a timeout
    cancelling the line iterator itself would end it.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.pump = asyncio.ensure_future(self._pump(response))

    async def _pump(self, response: httpx.Response) -> None:
        try:
            async for line in response.aiter_lines():
                self.queue.put_nowait(line)
        finally:
            self.queue.put_nowait(None)  # the server ended the stream

    async def close(self) -> None:
        self.pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.pump

    async def next(self, within: float = 60.0, *, comments: bool = False) -> Sse:
        event = Sse()
        async with asyncio.timeout(within):
            while True:
                line = await self.queue.get()
                if line is None:
                    raise EOFError("the server ended the stream")
                if line.startswith(":"):
                    if comments:
                        return Sse(comment=line[1:].strip())
                    continue
                if not line:
                    if event.data:
                        return event
                    event = Sse()  # a block without data (retry:) dispatches nothing
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event.id = int(value)
                elif name == "event":
                    event.event = value
                elif name == "data":
                    event.data.append(value)

    async def nothing_within(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            await self.next(within=seconds)


@asynccontextmanager
async def serve(database: DatabaseSettings, graceful_shutdown_s: int | None = 5) -> AsyncIterator[Served]:
    """A minimal app with the stream router and the hub, served by uvicorn on a free loopback port."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(database)
        hub = StreamHub(pool, recheck_s=0.05, gap_timeout_s=20.0)
        await hub.start()
        app.state.pool, app.state.stream_hub = pool, hub
        try:
            yield
        finally:
            await hub.stop()
            await pool.close()

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(make_stream_router(heartbeat_s=HEARTBEAT_S))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", ws="none", timeout_graceful_shutdown=graceful_shutdown_s
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10.0)) as http:
            yield Served(base, app.state.pool, app.state.stream_hub, http, server, task)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="module")
async def served(database_settings: DatabaseSettings) -> AsyncIterator[Served]:
    """The stream app, on the session's database with the sample registry active."""
    async with serve(database_settings) as it:
        async with it.pool.acquire() as conn:
            await import_directory(conn, PROJECT_ROOT / "data" / "sample-district", imported_by="tests")
        yield it


async def key_for(served: Served, *units: str, scopes: tuple[str, ...] = ("read",)) -> str:
    async with served.pool.acquire() as conn:
        _, key = await create_client(conn, name="stream test", scopes=scopes, units=units)
    return key


def new_unit() -> str:
    return f"unit:t{uuid.uuid4().hex[:12]}"


async def insert(conn: asyncpg.Connection | asyncpg.Pool, unit: str, n: int = 1) -> list[int]:
    """n stream rows for the unit, each committed on its own (unless `conn` is inside a transaction)."""
    ids = []
    for _ in range(n):
        event_id = str(uuid.uuid4())
        body = {"specversion": "1.0", "id": event_id, "type": EVENT_TYPE, "source": "/tests", "data": {"unit": unit}}
        ids.append(
            await conn.fetchval(
                "INSERT INTO stream_events (unit, event_id, type, body) VALUES ($1, $2, $3, $4) RETURNING id",
                unit,
                event_id,
                EVENT_TYPE,
                json.dumps(body),
            )
        )
    return ids


@asynccontextmanager
async def stream(
    served: Served, unit: str, key: str | None, *, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[SseReader]:
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    async with served.http.stream("GET", f"/v1/streams/{unit}", headers=sent | (headers or {}), params=params) as r:
        assert r.status_code == 200, (await r.aread()).decode()
        assert r.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(r)
        try:
            yield reader
        finally:
            await reader.close()


async def until(condition: Callable[[], bool], within: float = 60.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.02)


async def received(reader: SseReader, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        event = await reader.next()
        assert event.event == EVENT_TYPE and event.id is not None
        assert event.body["type"] == EVENT_TYPE
        ids.append(event.id)
    return ids


async def test_a_client_resumes_after_a_disconnect_without_missing_events(served: Served) -> None:
    unit = new_unit()
    key = await key_for(served, unit)
    await insert(served.pool, unit)  # before the client came: not sent without Last-Event-ID
    async with stream(served, unit, key) as sse:
        seen = []
        for _ in range(3):
            [row] = await insert(served.pool, unit)
            event = await sse.next(within=10.0)  # as it is inserted
            assert event.id == row and event.body["data"] == {"unit": unit}
            seen.append(row)
    await until(lambda: served.hub.open_streams == 0)  # the server let go of the disconnected client

    missed = await insert(served.pool, unit, 3)
    async with stream(served, unit, key, headers={"Last-Event-ID": str(seen[-1])}) as sse:
        assert await received(sse, 3) == missed  # exactly the missed ones, in order
        live = await insert(served.pool, unit, 2)
        assert await received(sse, 2) == live
        await sse.nothing_within(3 * HEARTBEAT_S)  # no duplicates, no strays (heartbeats are comments)


async def test_history_with_since_and_resume_by_query_parameter(served: Served) -> None:
    unit = new_unit()
    key = await key_for(served, unit)
    ids = await insert(served.pool, unit, 4)
    async with stream(served, unit, key, since="0") as sse:
        assert await received(sse, 4) == ids
    async with stream(served, unit, key, since=str(ids[0])) as sse:
        assert await received(sse, 3) == ids[1:]
    async with stream(served, unit, None, api_key=key, last_event_id=str(ids[1])) as sse:  # EventSource's way
        assert await received(sse, 2) == ids[2:]
    # A browser's reconnect keeps its URL's ?since=0 but sends Last-Event-ID, which wins.
    async with stream(served, unit, None, headers={"X-API-Key": key, "Last-Event-ID": str(ids[2])}, since="0") as sse:
        assert await received(sse, 1) == ids[3:]


async def test_quiet_streams_get_heartbeats(served: Served) -> None:
    unit = new_unit()
    async with stream(served, unit, await key_for(served, unit)) as sse:
        assert (await sse.next(within=4 * HEARTBEAT_S, comments=True)).comment == "heartbeat"
        [row] = await insert(served.pool, unit)
        assert (await sse.next()).id == row


async def test_a_later_id_committed_first_waits_for_the_earlier_one(served: Served) -> None:
    """Two writers commit out of order: the stream still sends ids in order and skips none."""
    unit = new_unit()
    async with stream(served, unit, await key_for(served, unit)) as sse, served.pool.acquire() as slow:
        async with slow.transaction():
            [early] = await insert(slow, unit)
            [late] = await insert(served.pool, unit)
            assert late > early
            await sse.nothing_within(1.0)  # `late` must not pass `early`, which may still commit
        assert await received(sse, 2) == [early, late]

        transaction = slow.transaction()
        await transaction.start()
        await insert(slow, unit)
        [after_rollback] = await insert(served.pool, unit)
        await transaction.rollback()  # a hole for good: no NOTIFY tells, the hub sees the writer gone
        async with asyncio.timeout(10.0):  # by its recheck, well before the 30 s gap timeout
            assert await received(sse, 1) == [after_rollback]


async def test_streams_survive_the_loss_of_the_listening_connection(served: Served) -> None:
    unit = new_unit()
    async with stream(served, unit, await key_for(served, unit)) as sse:
        listener = served.hub._conn  # the test reaches in: which backend to kill
        assert listener is not None
        assert await served.pool.fetchval("SELECT pg_terminate_backend($1)", listener.get_server_pid())
        await until(lambda: served.hub._conn is not None and served.hub._conn is not listener, within=60.0)
        [row] = await insert(served.pool, unit)
        assert (await sse.next()).id == row


async def test_access(served: Served) -> None:
    micro_grid = f"unit:{STREET}001001001"
    street_key = await key_for(served, f"unit:{STREET}")
    async with stream(served, micro_grid, street_key) as sse:  # a unit below the client's own
        [row] = await insert(served.pool, micro_grid)
        assert (await sse.next()).id == row
    for hidden in ("unit:610199002001", "unit:610199", "department:police", "branch:police-610199001", "nonsense"):
        response = await served.http.get(f"/v1/streams/{hidden}", headers={"Authorization": f"Bearer {street_key}"})
        assert response.status_code == 404, hidden
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/not_found")

    department_key = await key_for(served, "department:police")
    async with stream(served, "department:police", department_key):
        pass
    async with stream(served, "branch:police-610199001", department_key):  # a department sees its branches' streams
        pass
    other = "branch:city_management-610199001"  # another department's branch: as if it did not exist
    response = await served.http.get(f"/v1/streams/{other}", headers={"X-API-Key": department_key})
    assert response.status_code == 404
    async with stream(served, "branch:police-610199001", await key_for(served, "*")):
        pass

    unauthenticated = [{}, {"Authorization": "Bearer gdk_nobody"}, {"X-API-Key": "wrong"}]
    for headers in unauthenticated:
        response = await served.http.get(f"/v1/streams/{micro_grid}", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    response = await served.http.get(f"/v1/streams/{micro_grid}", params={"api_key": "gdk_nobody"})
    assert response.status_code == 401
    submit_only = await key_for(served, "*", scopes=("submit",))
    response = await served.http.get(f"/v1/streams/{micro_grid}", headers={"X-API-Key": submit_only})
    assert response.status_code == 403

    for bad in ("abc", "-1", str(2**63), "1e3"):
        response = await served.http.get(
            f"/v1/streams/{micro_grid}", headers={"X-API-Key": street_key, "Last-Event-ID": bad}
        )
        assert response.status_code == 422 and response.json()["field"] == "Last-Event-ID", bad


async def test_stopping_the_hub_ends_its_streams(database_settings: DatabaseSettings) -> None:
    pool = await create_pool(database_settings)
    hub = StreamHub(pool)
    try:
        await hub.start()
        events = sse_events(pool, hub, new_unit(), hub.horizon, heartbeat_s=60.0, batch=10, retry_ms=1000)
        assert (await anext(events)).startswith(b"retry:")
        waiting = asyncio.ensure_future(anext(events))
        await until(lambda: hub.open_streams == 1)
        await asyncio.sleep(0.1)
        await hub.stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 2.0)
        assert hub.open_streams == 0
    finally:
        await hub.stop()
        await pool.close()


async def test_closing_the_streams_lets_the_server_stop_at_once(database_settings: DatabaseSettings) -> None:
    """uvicorn waits for open responses before it stops; close_streams (from its exit handler) ends them."""
    async with serve(database_settings, graceful_shutdown_s=None) as it:
        unit = new_unit()
        async with stream(it, unit, await key_for(it, unit)) as sse:
            await until(lambda: it.hub.open_streams == 1)
            it.hub.close_streams()
            it.server.should_exit = True
            async with asyncio.timeout(15.0):  # without close_streams uvicorn would wait for ever
                await it.task  # no graceful-shutdown timeout needed: nothing was left open
            with pytest.raises(EOFError):
                await sse.next()
