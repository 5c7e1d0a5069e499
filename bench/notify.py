"""Notify: webhook deliveries per second to a local receiver, beside a bare HTTP client posting to it.

    python -m bench.notify            # 2,000 CaseAssigned events, with 1 and with 10 webhook subscriptions
    python -m bench.notify --quick    # 500 events
    python -m bench.notify --events 5000 --subscriptions 1 10 50

Everything runs on loopback, on the broker and PostgreSQL cluster of `griddispatch infra up` (started here if
they are not running, and then left running):

* A fresh database (CREATE DATABASE, migrated with shared.db.migrate; dropped at the end) and a topic prefix of
  its own (its topics ensured, and deleted at the end).
* A webhook receiver: aiohttp on 127.0.0.1 in a child process of its own (so its CPU is not notify's),
  answering 200 with an empty body at once. It stamps every request with time.time() on arrival and keeps the
  Idempotency-Key; a sample of signatures (the first few per subscription, then one in 10) is verified here
  with services.notify.channels.webhook.verify against the secret the subscription was created with.
* notify itself in this process, as the service runs it: create_app(...) and its lifespan (the Kafka consumer
  and fan-out, the DeliveryWorker, the stream hub), NotifySettings() defaults (batch 100, 5 s webhook
  timeout, no SMS or e-mail), a pool of DatabaseSettings' default size. Subscriptions are made through
  POST /v1/subscriptions with an API key from shared.api_clients.create_client; for each subscription count
  a new app, new subscriptions (the earlier ones paused through PATCH), a warm-up of 20 events (not in the
  figures), then:
  - burst: M CaseAssigned events on the assignments topic as fast as the producer takes them (each case row
    was COPYed in beforehand, so the fan-out finds it); deliveries/s end to end (first publish -> last
    webhook received) and in the steady middle (the 10th to the 90th percentile of receipts); latency from
    publish (the producer's send call) to receipt, which in a burst is mostly queueing;
  - paced: events at a fixed rate well under capacity, where latency is notify's own;
  - attempts per delivery from the deliveries and delivery_attempts rows (should be 1), receipts counted
    twice (should be 0), missing ones (should be 0).
  The composition root's DeliveryWorker and FanOut are replaced, for the run, by subclasses that only add a
  stopwatch (tick and handle() durations).
* Beside it, in the same run, against the same receiver: a bare httpx.AsyncClient posting the same bodies
  (Content-Type and Idempotency-Key only, no signing), one at a time and with 10 and 100 in flight; and
  WebhookChannel.send alone (notify's own signing and POST code, no Kafka, no database), 10 and 100 in flight.
* Where notify's time goes, with no Kafka: a backlog of pending deliveries COPYed into the table and drained
  by DeliveryWorker.tick() (the service's class, its own pool and HTTP client): once with every asyncpg
  statement timed by kind and the webhook sends timed, once under cProfile (by area, then the top functions).
* What-ifs, never the service's code: LeanWorker, a bench-only subclass of DeliveryWorker that reads the
  subscriptions' secrets once per tick and records an attempt with one statement, and/or keeps at most 10
  deliveries in flight; drained on the same backlogs (rounds alternated), and run live once (the burst with
  the most subscriptions) in place of the service's worker. And `import sniffio` short-circuited for two
  bare-client rows (httpcore tries that import, which fails here, four times per request).
* FanOut.handle() alone, one event after another, its statements timed; again after 100,000 older cases are
  COPYed in (the reporters query, `case_id = $1 OR merged_into = $1`, has no index for merged_into); and
  again with such an index created in this run's throwaway database (what-if).

CPU shares are read from /proc (this process, the receiver, every PostgreSQL backend, the Kafka JVM). The
machine may be shared: the load average is printed at the start and the end. The service's logs (a JSON line
per delivery at INFO, as in service) go to a file named at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import io
import itertools
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
from aiohttp import web

import services.notify.main as notify_main
from bench import common
from bench.common import (
    Place,
    backend_ticks,
    children,
    cpu_ticks,
    describe_stack,
    infrastructure,
    load_average,
    table,
    trio,
)
from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from griddispatch.infra.processes import Processes
from services.notify.channels.base import Message, Outcome, Result
from services.notify.channels.webhook import (
    ID_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    verify,
)
from services.notify.fanout import FanOut
from services.notify.worker import HUMAN, DeliveryWorker, backoff
from shared.api_clients import create_client
from shared.db import create_pool
from shared.events import CloudEvent, decode, encode, new_event
from shared.events.types import CaseAssigned
from shared.kafka import kafka_producer
from shared.logging import configure_logging, get_logger
from shared.queries.cases import REPORTERS, count_cases, newest_case  # REPORTERS: fanout._case's second query
from shared.settings import (
    DatabaseSettings,
    LocalInfraSettings,
    LogSettings,
    NotifySettings,
    ServiceSettings,
)

SEED = 20261122
WARM_UP_EVENTS = 20
SAMPLE_FIRST = 5  # signatures kept per receiver path: the first few, then one in SAMPLE_EVERY
SAMPLE_EVERY = 10
BARE = "bare httpx.AsyncClient.post"
worker_log = get_logger("services.notify.worker")  # LeanWorker logs its deliveries as the worker does
STALL_S = 30.0  # no new receipt for this long: stop waiting and report what is missing
LEAD = "unit:610199004001"
SCOPE_KEYS = [LEAD, "unit:610199004", "unit:610199"]
CASE_COLUMNS = [
    "case_id", "case_number", "state", "source", "matter_code", "level", "lead", "title", "location", "urgency",
    "reporter", "received_at", "scope_keys",
]  # fmt: skip
DELIVERY_COLUMNS = [
    "event_id", "event_type", "case_id", "recipient", "subscription_id", "channel", "target", "urgent", "payload",
    "next_attempt_at",
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ figures


def per_s(count: float, seconds: float) -> str:
    return "-" if seconds <= 0 else f"{count / seconds:,.0f}"


# ------------------------------------------------------------------------------------------------ receiver


def run_receiver() -> None:
    """The child process: a webhook receiver on 127.0.0.1 that prints its port, then serves until killed."""

    receipts: defaultdict[str, list[tuple[str, float]]] = defaultdict(list)
    samples: defaultdict[str, list[tuple[list[str], float, str]]] = defaultdict(list)
    peers: defaultdict[str, set[tuple[str, int]]] = defaultdict(set)  # the TCP connections each path was sent on

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.time()
        if request.transport is not None:
            peers[request.path].add(tuple(request.transport.get_extra_info("peername") or ("?", 0))[:2])
        got = receipts[request.path]
        got.append((request.headers.get(IDEMPOTENCY_HEADER, ""), at))
        if len(got) <= SAMPLE_FIRST or len(got) % SAMPLE_EVERY == 0:
            signed = [request.headers.get(name, "") for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)]
            samples[request.path].append((signed, at, base64.b64encode(body).decode()))
        return web.Response(status=200)

    def under(request: web.Request) -> list[str]:
        prefix = request.query.get("prefix", "/")
        return [p for p in receipts if p.startswith(prefix)]

    async def stats(request: web.Request) -> web.Response:
        paths = under(request)
        count = sum(len(receipts[p]) for p in paths)
        connections = len(set().union(*(peers[p] for p in paths)))
        return web.json_response({"count": count, "connections": connections, "cpu_s": time.process_time()})

    async def dump(request: web.Request) -> web.Response:
        paths = under(request)
        return web.json_response({p: {"receipts": receipts[p], "samples": samples[p]} for p in paths})

    async def serve() -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_get("/_stats", stats)
        app.router.add_get("/_dump", dump)
        app.router.add_route("POST", "/{tail:.*}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


@dataclass
class Receiver:
    """The receiver child, as the benchmark sees it: its URL, its pid, and its counts."""

    proc: asyncio.subprocess.Process
    url: str
    control: httpx.AsyncClient

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, log_path: Path) -> AsyncIterator[Receiver]:
        with log_path.open("wb") as log:  # aiohttp's tracebacks of connections a client dropped land here
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.notify",
                "--receiver",
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            url = f"http://127.0.0.1:{int(line)}"
            async with httpx.AsyncClient(base_url=url, timeout=60) as control:
                yield cls(proc, url, control)
        finally:
            if proc.returncode is None:
                proc.terminate()  # only the child we started, by its own pid
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    async def stats(self, prefix: str) -> tuple[int, float]:
        """Requests received under prefix, and the receiver's CPU seconds so far."""
        body = (await self.control.get("/_stats", params={"prefix": prefix})).json()
        return int(body["count"]), float(body["cpu_s"])

    async def count(self, prefix: str) -> int:
        return (await self.stats(prefix))[0]

    async def connections(self, prefix: str) -> int:
        """Distinct TCP connections (client address and port) the requests under prefix came on."""
        body = (await self.control.get("/_stats", params={"prefix": prefix})).json()
        return int(body["connections"])

    async def dump(self, prefix: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.control.get("/_dump", params={"prefix": prefix})).json()
        return body

    async def wait_for(self, prefix: str, target: int, stall_s: float = STALL_S) -> int:
        """Until `target` requests arrived under prefix, or none arrived for stall_s; the count reached."""
        last, last_change = -1, time.monotonic()
        while True:
            count = await self.count(prefix)
            if count >= target:
                return count
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                return count
            await asyncio.sleep(0.1)


# ------------------------------------------------------------------------------------------------ CPU


def _family_ticks(parent: int) -> int:
    """A process and its children, alive or reaped (the Kafka JVM and whatever it started)."""
    try:
        with open(f"/proc/{parent}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0
    total = sum(int(x) for x in fields[11:15])  # utime, stime, and the reaped children's cutime, cstime
    return total + sum(cpu_ticks(child) for child in children(parent))


class CpuMeter:
    """CPU seconds used by each part over an interval, as shares of one core."""

    def __init__(self, parts: dict[str, Callable[[], int]]) -> None:
        self.parts = parts
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start: dict[str, int] = {}
        self.t0 = 0.0

    def begin(self) -> None:
        self.start = {name: read() for name, read in self.parts.items()}
        self.t0 = time.perf_counter()

    def shares(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        return {name: (read() - self.start[name]) / self.hz / wall for name, read in self.parts.items()}


def cpu_meter(local: LocalInfraSettings, receiver: Receiver, database: str) -> CpuMeter:
    """This process, the receiver, this run's PostgreSQL backends, the Kafka broker (shared with other work)."""
    processes = Processes(local.dir)
    parts: dict[str, Callable[[], int]] = {
        "bench": lambda: cpu_ticks(os.getpid()),
        "receiver": lambda: cpu_ticks(receiver.proc.pid),
    }
    postgres, kafka = processes.running(local_postgres.NAME), processes.running(local_kafka.NAME)
    if postgres is not None:
        parts[local_postgres.NAME] = lambda: backend_ticks(postgres.pid, database)
    if kafka is not None:
        parts[local_kafka.NAME] = lambda: _family_ticks(kafka.pid)
    return CpuMeter(parts)


# ------------------------------------------------------------------------------------------------ places


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Prepared:
    """One CaseAssigned event, encoded before the clock starts, and its case row."""

    event_id: str
    case_id: uuid.UUID
    case_number: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, event: CloudEvent[Any]) -> Prepared:
        encoded = encode(event)
        number = event.data.case_number
        return cls(event.id, uuid.UUID(event.subject), number, encoded.key, encoded.value, list(encoded.headers))


def make_events(n: int, tag: str) -> list[Prepared]:
    events = []
    for i in range(n):
        case_id = uuid.uuid4()
        data = CaseAssigned(
            case_id=str(case_id),
            case_number=f"GD-{tag}-{i:06d}",
            assignee=LEAD,
            role="lead",
            matter_code="sanitation",
            level="grid",
            title="垃圾没人清运",
        )
        events.append(Prepared.of(new_event(data, source="/bench/notify", subject=str(case_id))))
    return events


async def copy_cases(conn: asyncpg.Connection, events: Sequence[Prepared]) -> None:
    """One cases row per event, with COPY, so the fan-out finds each case."""
    now = datetime.now(UTC)
    location = json.dumps({"lon": 108.9352, "lat": 34.2721, "address": "雁塔区小寨东路"}, ensure_ascii=False)
    reporter = json.dumps({"name": "王先生", "phone": "13812345678"}, ensure_ascii=False)
    await conn.copy_records_to_table(
        "cases",
        columns=CASE_COLUMNS,
        records=[
            (e.case_id, e.case_number, "assigned", "hotline", "sanitation", "grid", LEAD, "垃圾没人清运",
             location, "normal", reporter, now, SCOPE_KEYS)
            for e in events
        ],
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ stopwatches


class TimedWorker(DeliveryWorker):
    """The service's DeliveryWorker, plus a stopwatch on tick(): (wall start, seconds, deliveries leased)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks: list[tuple[float, float, int]] = []

    async def tick(self) -> int:
        at, started = time.time(), time.perf_counter()
        leased = await super().tick()
        self.ticks.append((at, time.perf_counter() - started, leased))
        return leased


class TimedFanOut(FanOut):
    """The service's FanOut, plus a stopwatch on handle(): (wall end, seconds, deliveries written)."""

    instances: ClassVar[list[TimedFanOut]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[tuple[float, float, int]] = []
        TimedFanOut.instances.append(self)

    async def handle(self, conn: asyncpg.Connection, event: CloudEvent[Any], now: datetime) -> Any:
        started = time.perf_counter()
        audience = await super().handle(conn, event, now)
        self.handled.append((time.time(), time.perf_counter() - started, len(audience.recipients) if audience else 0))
        return audience


@contextlib.contextmanager
def stopwatches(worker: type[TimedWorker]) -> Iterator[None]:
    """The composition root builds `worker` (TimedWorker) and TimedFanOut instead, for as long as this lasts."""
    replacements: dict[str, type] = {"DeliveryWorker": worker, "FanOut": TimedFanOut}
    saved = {name: getattr(notify_main, name) for name in replacements}
    for name, timed in replacements.items():
        setattr(notify_main, name, timed)
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(notify_main, name, original)


class StatementTimer(common.StatementTimer):
    """The common timer, statements told apart by their first words."""

    @staticmethod
    def kind(query: str) -> str:
        words = " ".join(query.split())
        upper = words.upper()
        if upper.startswith(("INSERT INTO", "DELETE FROM")):
            return " ".join(words.split()[:3])
        if upper.startswith("UPDATE"):
            return " ".join(words.split()[:2]) + (" (lease)" if "SKIP LOCKED" in upper else "")
        if upper.startswith("SELECT"):
            after = upper.split(" FROM ", 1)
            if len(after) == 1:
                return words[:60]
            return f"SELECT ... FROM {after[1].split()[0].lower()}"
        return words[:40]


class TimedChannel(WebhookChannel):
    """WebhookChannel with a stopwatch on send()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sends: list[float] = []

    async def send(self, message: Message) -> Outcome:
        started = time.perf_counter()
        try:
            return await super().send(message)
        finally:
            self.sends.append(time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------ notify runs


@dataclass
class Run:
    """One measured stretch: N subscriptions, burst or paced."""

    subscriptions: int
    mode: str
    events: int
    expected: int
    label: str = ""
    published_s: float = 0.0
    received: int = 0
    distinct: int = 0
    end_to_end_s: float = 0.0
    steady_rate: float = float("nan")
    latencies: list[float] = field(default_factory=list)
    rows: int = 0
    delivered_rows: int = 0
    attempts: int = 0
    max_attempts: int = 0
    attempt_rows: int = 0
    verified: int = 0
    sampled: int = 0
    ticks: list[tuple[float, float, int]] = field(default_factory=list)
    handled: list[tuple[float, float, int]] = field(default_factory=list)
    fanout_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    receiver_cpu: float = 0.0
    connections: int = 0
    rate_asked: float | None = None  # paced: events per second
    process_cpu_s: float = 0.0  # this process (notify and the publisher), every thread

    @property
    def rate(self) -> float:
        return self.distinct / self.end_to_end_s if self.end_to_end_s > 0 else float("nan")

    @property
    def missing(self) -> int:
        return self.expected - self.distinct


@dataclass
class Session:
    """One app lifespan: notify with N subscriptions on the receiver."""

    place: Place
    receiver: Receiver
    meter: CpuMeter
    app: Any
    api: httpx.AsyncClient
    headers: dict[str, str]
    prefix: str  # the receiver paths of this session's subscriptions
    secrets: dict[str, str]  # receiver path -> signing secret
    subscription_ids: list[str]

    @property
    def worker(self) -> TimedWorker:
        worker: TimedWorker = self.app.state.worker
        return worker

    @property
    def fanout(self) -> TimedFanOut:
        return TimedFanOut.instances[-1]


async def subscribe(api: httpx.AsyncClient, headers: dict[str, str], target: str) -> dict[str, Any]:
    body = {"name": "bench", "channel": "webhook", "target": target, "event_types": ["case.assigned"]}
    response = await api.post("/v1/subscriptions", json=body, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")
    created: dict[str, Any] = response.json()
    return created


@contextlib.asynccontextmanager
async def session(
    place: Place,
    receiver: Receiver,
    meter: CpuMeter,
    key: str,
    n: int,
    earlier: list[str],
    worker: type[TimedWorker] = TimedWorker,
) -> AsyncIterator[Session]:
    settings = NotifySettings(sms_gateway_url=None, smtp_host=None)
    with stopwatches(worker):
        app = notify_main.create_app(place.kafka, DatabaseSettings(url=place.url), ServiceSettings(), settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notify.bench") as api:
                headers = {"Authorization": f"Bearer {key}"}
                for sub in earlier:  # the previous session's subscriptions pause
                    response = await api.patch(f"/v1/subscriptions/{sub}", json={"active": False}, headers=headers)
                    response.raise_for_status()
                prefix = f"/hook/{n}-{uuid.uuid4().hex[:4]}/"
                secrets, ids = {}, []
                for i in range(n):
                    path = f"{prefix}{i}"
                    created = await subscribe(api, headers, receiver.url + path)
                    secrets[path] = created["secret"]
                    ids.append(created["id"])
                yield Session(place, receiver, meter, app, api, headers, prefix, secrets, ids)


async def publish_all(producer: Any, topic: str, events: Sequence[Prepared], rate: float | None) -> dict[str, float]:
    """Send every event (paced at `rate` per second, or as fast as the producer takes them); send times."""
    sent: dict[str, float] = {}
    acks = []
    t0 = time.perf_counter()
    for i, e in enumerate(events):
        if rate:
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        sent[e.event_id] = time.time()
        acks.append(await producer.send(topic, value=e.value, key=e.key, headers=e.headers))
    await asyncio.gather(*acks)
    return sent


async def measured(s: Session, producer: Any, events: Sequence[Prepared], mode: str, rate: float | None) -> Run:
    n = len(s.secrets)
    run = Run(n, mode, len(events), len(events) * n, rate_asked=rate)
    before = await s.receiver.count(s.prefix)
    connections_before = await s.receiver.connections(s.prefix)
    ticks_before, handled_before = len(s.worker.ticks), len(s.fanout.handled)
    _, receiver_cpu = await s.receiver.stats(s.prefix)
    s.meter.begin()
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = await publish_all(producer, s.place.topics.assignments, events, rate)
    run.published_s = time.perf_counter() - started
    await s.receiver.wait_for(s.prefix, before + run.expected)
    run.process_cpu_s = time.process_time() - cpu_started
    run.cpu = s.meter.shares()
    wall = time.perf_counter() - started
    run.receiver_cpu = ((await s.receiver.stats(s.prefix))[1] - receiver_cpu) / wall
    run.connections = await s.receiver.connections(s.prefix) - connections_before

    first_sent = min(sent.values())
    arrivals: list[float] = []
    seen: set[tuple[str, str]] = set()
    dump = await s.receiver.dump(s.prefix)
    for path, got in dump.items():
        for event_id, at in got["receipts"]:
            if event_id not in sent:
                continue  # the warm-up's, or an earlier stretch's
            run.received += 1
            if (path, event_id) in seen:
                continue
            seen.add((path, event_id))
            arrivals.append(at)
            run.latencies.append(at - sent[event_id])
        for (msg_id, timestamp, signature), at, body in got["samples"]:
            raw = base64.b64decode(body)
            if json.loads(raw)["id"] in sent:
                run.sampled += 1
                run.verified += verify(msg_id, timestamp, signature, s.secrets[path], raw, now=at)
    run.distinct = len(seen)
    arrivals.sort()
    if arrivals:
        run.end_to_end_s = arrivals[-1] - first_sent
        lo, hi = int(0.1 * len(arrivals)), max(int(0.9 * len(arrivals)) - 1, 0)
        if hi > lo and arrivals[hi] > arrivals[lo]:
            run.steady_rate = (hi - lo) / (arrivals[hi] - arrivals[lo])

    ids = list(sent)
    deadline = time.monotonic() + 15  # the worker records an attempt just after the receiver answered
    while True:
        row = await s.worker.pool.fetchrow(
            """SELECT count(*) AS n, count(*) FILTER (WHERE status = 'delivered') AS delivered,
                      coalesce(sum(attempts), 0) AS attempts, coalesce(max(attempts), 0) AS max_attempts
               FROM deliveries WHERE event_id = ANY($1)""",
            ids,
        )
        if row["delivered"] >= run.distinct or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    run.rows, run.delivered_rows = row["n"], row["delivered"]
    run.attempts, run.max_attempts = row["attempts"], row["max_attempts"]
    run.attempt_rows = await s.worker.pool.fetchval(
        """SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
           WHERE d.event_id = ANY($1)""",
        ids,
    )
    run.ticks = [t for t in s.worker.ticks[ticks_before:] if t[2]]
    run.handled = s.fanout.handled[handled_before:]
    if run.handled:
        run.fanout_s = max(h[0] for h in run.handled) - first_sent
    return run


async def notify_runs(
    place: Place, receiver: Receiver, meter: CpuMeter, args: argparse.Namespace
) -> tuple[list[Run], list[Run], dict[str, bytes]]:
    """Burst and paced stretches for each subscription count; also the bodies the bare client will post."""
    conn = await asyncpg.connect(place.url)
    try:
        _, key = await create_client(conn, name="bench notify", scopes=["read"], units=["*"])
    finally:
        await conn.close()
    bursts: list[Run] = []
    paced: list[Run] = []
    bodies: dict[str, bytes] = {}
    earlier: list[str] = []
    async with kafka_producer(place.kafka) as producer:
        for n in args.subscriptions:
            tag = f"B{n}"
            warm = make_events(WARM_UP_EVENTS, f"{tag}W")
            burst = make_events(args.events, tag)
            slow = make_events(args.events, f"{tag}P")  # the paced stretch uses as many as its rate needs
            conn = await asyncpg.connect(place.url)
            try:
                await copy_cases(conn, [*warm, *burst, *slow])
                await conn.execute("ANALYZE cases")
            finally:
                await conn.close()
            bodies.update((e.event_id, e.value) for e in burst)
            async with session(place, receiver, meter, key, n, earlier) as s:
                earlier = s.subscription_ids
                await publish_all(producer, place.topics.assignments, warm, None)
                got = await receiver.wait_for(s.prefix, WARM_UP_EVENTS * n, stall_s=60)
                if got < WARM_UP_EVENTS * n:
                    raise RuntimeError(f"warm-up: {got} of {WARM_UP_EVENTS * n} webhooks arrived")
                bursts.append(await measured(s, producer, burst, "burst", None))
                steady = bursts[-1].steady_rate if bursts[-1].steady_rate == bursts[-1].steady_rate else 10.0
                rate = max(steady * args.paced_share / n, 0.5)  # events per second: a share of what the burst did
                slow = slow[: max(10, round(rate * args.paced_seconds))]
                print(
                    f"  {n} subscription(s): burst of {args.events:,} at {bursts[-1].rate:,.0f} deliveries/s;"
                    f" now {len(slow)} events paced at {rate:.1f}/s",
                    flush=True,
                )
                await asyncio.sleep(1.0)
                paced.append(await measured(s, producer, slow, "paced", rate))
        if args.what_if:  # the same burst through a worker with the proposed changes, and nothing else changed
            n = max(args.subscriptions)
            burst = make_events(args.events, f"L{n}")
            warm = make_events(WARM_UP_EVENTS, f"L{n}W")
            conn = await asyncpg.connect(place.url)
            try:
                await copy_cases(conn, [*warm, *burst])
            finally:
                await conn.close()
            async with session(place, receiver, meter, key, n, earlier, TimedLeanWorker) as s:
                await publish_all(producer, place.topics.assignments, warm, None)
                await receiver.wait_for(s.prefix, WARM_UP_EVENTS * n, stall_s=60)
                bursts.append(await measured(s, producer, burst, "burst", None))
                bursts[-1].label = f"{n} sub(s), what-if worker"
                print(f"  {n} subscription(s), what-if worker: {bursts[-1].rate:,.0f} deliveries/s", flush=True)
    return bursts, paced, bodies


# ------------------------------------------------------------------------------------------------ bare client


@dataclass
class Bare:
    name: str
    concurrency: int
    posts: int
    seconds: float
    latencies: list[float]
    failures: int
    connections: int
    cpu_s: float  # this process: the client side only (the receiver is another process)

    @property
    def rate(self) -> float:
        return self.posts / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.posts * 1000


async def in_flight(
    count: int, concurrency: int, post: Callable[[int], Awaitable[bool]]
) -> tuple[float, list[float], int, float]:
    """`count` calls of post(i), `concurrency` at a time; wall seconds, each call's seconds, failures, CPU s."""
    counter = itertools.count()
    latencies: list[float] = []
    failures = 0

    async def loop() -> None:
        nonlocal failures
        while (i := next(counter)) < count:
            started = time.perf_counter()
            ok = await post(i)
            latencies.append(time.perf_counter() - started)
            failures += not ok

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures, time.process_time() - cpu


@contextlib.contextmanager
def sniffio_short_circuited() -> Iterator[None]:
    """`import sniffio` fails at once instead of searching sys.path (httpcore tries it 4 times per request)."""
    present = "sniffio" in sys.modules
    saved = sys.modules.get("sniffio")
    if not present:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if not present:
            sys.modules.pop("sniffio", None)
        elif saved is not None:
            sys.modules["sniffio"] = saved


def sniffio_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("sniffio") is not None


async def bare_client(
    receiver: Receiver,
    bodies: list[tuple[str, bytes]],
    concurrency: int,
    count: int,
    *,
    keep_alive: int | None = None,
    note: str = "",
) -> Bare:
    """A plain httpx.AsyncClient POSTing the same bodies to the same receiver; no signing, no database."""
    path = f"/bare/{concurrency}-{uuid.uuid4().hex[:4]}"
    url = receiver.url + path
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=keep_alive or 20)  # httpx's defaults
    async with httpx.AsyncClient(follow_redirects=False, limits=limits) as client:

        async def post(i: int) -> bool:
            event_id, body = bodies[i % len(bodies)]
            headers = {"Content-Type": "application/cloudevents+json", IDEMPOTENCY_HEADER: event_id}
            response = await client.post(url, content=body, headers=headers)
            return response.status_code == 200

        await in_flight(min(50, count), concurrency, post)  # connections opened, not in the figure
        seconds, latencies, failures, cpu = await in_flight(count, concurrency, post)
    name = BARE + (f", keep-alive {keep_alive}" if keep_alive else "") + note
    return Bare(name, concurrency, count, seconds, latencies, failures, await receiver.connections(path), cpu)


async def channel_only(receiver: Receiver, bodies: list[tuple[str, bytes]], concurrency: int, count: int) -> Bare:
    """WebhookChannel.send (signing, notify's POST and classification), no Kafka and no database."""
    path = f"/channel/{concurrency}-{uuid.uuid4().hex[:4]}"
    secret = "whsec_bench"
    async with httpx.AsyncClient(follow_redirects=False) as client:
        channel = WebhookChannel(client, NotifySettings().webhook_timeout_s)

        async def post(i: int) -> bool:
            event_id, body = bodies[i % len(bodies)]
            outcome = await channel.send(Message(i, event_id, receiver.url + path, body, secret=secret))
            return outcome.status_code == 200

        await in_flight(min(50, count), concurrency, post)
        seconds, latencies, failures, cpu = await in_flight(count, concurrency, post)
    connections = await receiver.connections(path)
    name = "WebhookChannel.send (signed, no DB)"
    return Bare(name, concurrency, count, seconds, latencies, failures, connections, cpu)


# ------------------------------------------------------------------------------------------------ profile


AREAS = (
    ("asyncpg", "asyncpg (protocol, records, pool)"),
    ("httpcore", "httpcore (connection pool, HTTP/1.1)"),
    ("h11", "h11 (HTTP/1.1 parsing)"),
    ("httpx", "httpx (requests, headers, responses)"),
    ("anyio", "anyio (httpcore's I/O)"),
    ("structlog", "structlog (a log line per delivery)"),
    ("services/notify/channels", "services.notify.channels (sign, post, classify)"),
    ("services/notify", "services.notify (worker)"),
    ("shared/", "shared (logging context, events)"),
    ("hmac", "hmac / hashlib (signing)"),
    ("hashlib", "hmac / hashlib (signing)"),
    ("asyncio", "asyncio (event loop, tasks, timeouts)"),
    ("selectors", "asyncio (event loop, tasks, timeouts)"),
    ("contextvars", "asyncio (event loop, tasks, timeouts)"),
    ("json", "json"),
    ("datetime", "datetime / zoneinfo"),
    ("uuid", "uuid"),
)
EPOLL = "waiting in epoll (for PostgreSQL and the receiver)"
SEND = "socket send (a write per statement or request, loopback TCP)"
RECV = "socket recv"


def area(filename: str, function: str) -> str:
    if "epoll" in function:
        return EPOLL
    if "'send' of '_socket" in function or "'sendall'" in function:
        return SEND
    if "'recv" in function:
        return RECV
    for marker, name in AREAS:
        if marker in filename:
            return name
    if filename == "~":
        return f"builtin: {function}"
    return f"other: {function} ({Path(filename).name})"


async def copy_backlog(url: str, subs: list[tuple[str, str]], per_sub: int, tag: str) -> int:
    """per_sub pending deliveries, due now, for each (subscription id, target): what the fan-out would write."""
    events = make_events(per_sub, tag)
    now = datetime.now(UTC)
    records = [
        (e.event_id, "cn.griddispatch.case.assigned.v1", e.case_id, f"subscription:{sub}", uuid.UUID(sub), "webhook",
         target, False, e.value, now)
        for e in events
        for sub, target in subs
    ]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await copy_cases(conn, events)
        await conn.copy_records_to_table("deliveries", columns=DELIVERY_COLUMNS, records=records)
        await conn.execute("ANALYZE deliveries")
    finally:
        await conn.close()
    return len(records)


async def drain(worker: DeliveryWorker) -> tuple[float, list[tuple[float, int]]]:
    """tick() until nothing is due; wall seconds and (seconds, leased) per tick."""
    ticks: list[tuple[float, int]] = []
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        leased = await worker.tick()
        if not leased:
            break
        ticks.append((time.perf_counter() - t, leased))
    return time.perf_counter() - started, ticks


FINISH_ONE_STATEMENT = """
    WITH attempt AS (
        INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, latency_ms, error)
        VALUES ($1, $2, $3, $4, $5, $6)
    )
    UPDATE deliveries SET status = $7, next_attempt_at = $8, last_error = $6,
           delivered_at = CASE WHEN $7 = 'delivered' THEN now() END
    WHERE id = $1"""


class LeanWorker(DeliveryWorker):
    """A what-if, not the service: DeliveryWorker with fewer round trips per webhook delivery, and optionally
    at most `in_flight` deliveries at once. Same lease, same sends, same rows written:

    * the subscriptions' secrets read once per tick (one SELECT for every webhook subscription) instead of one
      SELECT per delivery;
    * the attempt row and the delivery's new state written by one statement (a data-modifying CTE, atomic on
      its own) instead of BEGIN, INSERT, UPDATE, COMMIT on a connection acquired for it.
    """

    def __init__(self, *args: Any, lean: bool = True, in_flight: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lean = lean
        self.gate = asyncio.Semaphore(in_flight) if in_flight else None
        self._keys: asyncio.Future[list[asyncpg.Record]] | None = None

    async def tick(self) -> int:
        self._keys = None  # read again by the next tick: a rotated secret is used from then on
        return await super().tick()

    async def _deliver(self, row: dict[str, Any], followers: list[dict[str, Any]] | None = None) -> None:
        if self.gate is None:
            return await super()._deliver(row, followers)
        async with self.gate:
            return await super()._deliver(row, followers)

    async def _message(self, row: dict[str, Any], followers: list[dict[str, Any]]) -> Message | None:
        if not self.lean or row["channel"] in HUMAN:
            return await super()._message(row, followers)
        if self._keys is None:
            self._keys = asyncio.ensure_future(
                self.pool.fetch("SELECT id, secret, previous_secret FROM subscriptions WHERE channel = 'webhook'")
            )
        keys = {r["id"]: r for r in await asyncio.shield(self._keys)}.get(row["subscription_id"])
        secret, previous = (keys["secret"], keys["previous_secret"]) if keys else (None, None)
        body = bytes(row["payload"])
        return Message(row["id"], row["event_id"], row["target"], body, secret=secret, previous_secret=previous)

    async def _finish(self, row: dict[str, Any], outcome: Outcome) -> None:
        if not self.lean:
            return await super()._finish(row, outcome)
        attempt, now = row["attempts"], self.clock()
        if outcome.result is Result.DELIVERED:
            status, next_at = "delivered", now
        elif outcome.result is Result.RETRY and attempt < self.settings.max_attempts:
            status = "pending"
            next_at = now + timedelta(seconds=backoff(attempt, self.settings, outcome.retry_after_s, self.rnd))
        else:
            status, next_at = "dead", now
        await self.pool.execute(
            FINISH_ONE_STATEMENT,
            row["id"],
            attempt,
            outcome.result.value,
            outcome.status_code,
            outcome.latency_ms,
            outcome.error,
            status,
            next_at,
        )
        worker_log.info(
            "delivery_attempted",
            channel=row["channel"],
            attempt=attempt,
            outcome=outcome.result.value,
            status=status,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
        )


class TimedLeanWorker(TimedWorker, LeanWorker):
    """LeanWorker with both changes (secrets once per tick, one-statement finish, 10 in flight), timed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, lean=True, in_flight=10, **kwargs)


@dataclass
class Drain:
    name: str
    deliveries: int
    seconds: float
    ticks: list[tuple[float, int]]
    connections: int
    statements: float  # per delivery
    cpu_s: float  # this process's CPU time over the drain

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else float("nan")


async def timed_drain(
    place: Place, receiver: Receiver, subs: list[tuple[str, str]], per_sub: int, name: str, worker: DeliveryWorker
) -> Drain:
    """A fresh backlog (its own receiver paths) drained by worker, its statements counted."""
    tag = uuid.uuid4().hex[:6]
    paths = [(sub, f"{receiver.url}/drain/{tag}/{i}") for i, (sub, _) in enumerate(subs)]
    await copy_backlog(place.url, paths, per_sub, f"D{tag}")
    statements = StatementTimer()
    statements.install()
    cpu = time.process_time()
    try:
        seconds, ticks = await drain(worker)
    finally:
        cpu = time.process_time() - cpu
        statements.remove()
    done = sum(n for _, n in ticks)
    calls = sum(statements.calls.values()) / max(done, 1)
    return Drain(name, done, seconds, ticks, await receiver.connections(f"/drain/{tag}/"), calls, cpu)


async def profile(place: Place, receiver: Receiver, subs: list[tuple[str, str]], args: argparse.Namespace) -> None:
    """Where the worker's and the fan-out's time goes, with no Kafka: timed statements, then cProfile."""
    settings = NotifySettings(sms_gateway_url=None, smtp_host=None)
    per_sub = max(1, args.backlog // len(subs))
    pool = await create_pool(DatabaseSettings(url=place.url))
    try:
        async with httpx.AsyncClient(follow_redirects=False) as http:  # as notify's composition root makes it
            channel = TimedChannel(http, settings.webhook_timeout_s)
            worker = DeliveryWorker(pool, {"webhook": channel}, settings)

            n = await copy_backlog(place.url, subs, per_sub, "PT")
            statements = StatementTimer()
            statements.install()
            cpu = time.process_time()
            try:
                seconds, ticks = await drain(worker)
            finally:
                cpu = time.process_time() - cpu
                statements.remove()
            done = sum(t[1] for t in ticks)
            print(
                f"\nDeliveryWorker.tick() draining a backlog of {n:,} deliveries ({len(subs)} subscriptions, batch"
                f" {settings.batch}, pool of {pool.get_max_size()}), no Kafka: {done / seconds:,.0f} deliveries/s,"
                f" {cpu / done * 1000:.2f} ms CPU per delivery ({cpu / seconds:.0%} of a core), {len(ticks)} ticks,"
                f" tick ms p50 / p99 / max {trio([t for t, _ in ticks])}"
            )
            sql = sum(statements.seconds.values())
            calls = sum(statements.calls.values())
            sends = sum(channel.sends)
            print(
                f"  per delivery: {calls / done:.2f} statements, {sql / done * 1000:.2f} ms in statements and"
                f" {sends / done * 1000:.2f} ms in WebhookChannel.send, summed over the ~{settings.batch} in flight"
                f" (wall per delivery {seconds / done * 1000:.3f} ms)"
            )
            print("  statements by kind: calls per delivery x ms each = ms per delivery (the wait for a pooled")
            print("  connection excluded; asyncpg's reset query runs each time a connection goes back to the pool)")
            for kind, total in sorted(statements.seconds.items(), key=lambda kv: -kv[1]):
                c = statements.calls[kind]
                print(f"    {c / done:5.2f} x {total / c * 1000:7.3f} ms = {total / done * 1000:7.3f} ms  {kind}")
            print(f"  WebhookChannel.send ms p50 / p99 / max {trio(channel.sends)}")

            n = await copy_backlog(place.url, subs, per_sub, "PC")
            profiler = cProfile.Profile()
            profiler.enable()
            seconds, ticks = await drain(worker)
            profiler.disable()
            done = sum(t[1] for t in ticks)
            report_profile(profiler, done, f"cProfile of the same drain, a fresh backlog of {n:,}", seconds)

            variants: list[tuple[str, Callable[[], DeliveryWorker]]] = [
                ("DeliveryWorker (the service's)", lambda: DeliveryWorker(pool, {"webhook": channel}, settings)),
                (
                    "  + at most 10 deliveries in flight",
                    lambda: LeanWorker(pool, {"webhook": channel}, settings, lean=False, in_flight=10),
                ),
                (
                    "  + secrets once per tick, finish in 1 statement",
                    lambda: LeanWorker(pool, {"webhook": channel}, settings),
                ),
                (
                    "  + both",
                    lambda: LeanWorker(pool, {"webhook": channel}, settings, in_flight=10),
                ),
            ]
            drains: dict[str, list[Drain]] = defaultdict(list)
            for round_ in range(args.rounds):
                order = variants if round_ % 2 == 0 else variants[::-1]  # alternated: the machine's load drifts
                for name, make in order:
                    drains[name].append(await timed_drain(place, receiver, subs, per_sub, name, make()))
            drain_table(drains, per_sub * len(subs), args.rounds)
    finally:
        await pool.close()

    await profile_fanout(place, args, settings)


def drain_table(drains: dict[str, list[Drain]], backlog: int, rounds: int) -> None:
    def rates(ds: list[Drain]) -> str:
        return " / ".join(f"{d.rate:,.0f}" for d in ds)

    base = drains[next(iter(drains))]
    rows: list[tuple[str, Sequence[str]]] = [
        (
            name,
            [
                rates(ds),
                f"{sum(d.rate for d in ds) / sum(b.rate for b in base):.2f}x",
                f"{sum(d.statements for d in ds) / len(ds):.2f}",
                f"{sum(d.cpu_s for d in ds) / max(sum(d.deliveries for d in ds), 1) * 1000:.2f}",
                trio([t for d in ds for t, _ in d.ticks]),
                " / ".join(f"{d.connections:,}" for d in ds),
            ],
        )
        for name, ds in drains.items()
    ]
    table(
        f"what-if, not the service: backlogs of {backlog:,} drained by tick(), {rounds} round(s) alternated",
        [
            "deliveries/s each round",
            "vs service",
            "statements/delivery",
            "CPU ms/delivery",
            "tick ms p50 / p99 / max",
            "connections",
        ],
        rows,
    )


def report_profile(profiler: cProfile.Profile, n: int, title: str, seconds: float) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    by_area: defaultdict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[area(filename, function)] += tottime
    total = sum(by_area.values())
    print(f"\n{title} ({n / seconds:,.0f}/s under the profiler); own time by area, ms per item:")
    for name, tottime in sorted(by_area.items(), key=lambda kv: -kv[1])[:14]:
        print(f"  {tottime / n * 1000:7.3f} ms  {tottime / total:5.1%}  {name}")
    stats.sort_stats("tottime").print_stats(18)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print("\n".join(line.replace(str(Path.cwd()) + "/", "") for line in lines[start:]))


WHAT_IF_INDEX = "CREATE INDEX bench_cases_merged_into ON cases (merged_into) WHERE merged_into IS NOT NULL"


async def fanout_pass(conn: asyncpg.Connection, fanout: FanOut, n: int, tag: str) -> tuple[float, StatementTimer, int]:
    """FanOut.handle() for n new events (their cases COPYed first), one after another; seconds, statements."""
    events = make_events(n, tag)
    await copy_cases(conn, events)
    await conn.execute("ANALYZE cases")
    decoded = [decode(e.value) for e in events]
    statements = StatementTimer()
    statements.install()
    written = 0
    try:
        started = time.perf_counter()
        for event in decoded:
            aud = await fanout.handle(conn, event, datetime.now(UTC))
            written += len(aud.recipients) if aud else 0
        seconds = time.perf_counter() - started
    finally:
        statements.remove()
    return seconds, statements, written


async def copy_filler_cases(conn: asyncpg.Connection, n: int) -> None:
    """n more (older, closed) cases, as a district accumulates them; nothing is merged into anything."""
    now = datetime.now(UTC)
    location = json.dumps({"lon": 108.9352, "lat": 34.2721})
    reporter = json.dumps({"name": "李女士", "phone": "13900000000"}, ensure_ascii=False)
    tag = uuid.uuid4().hex[:6]
    await conn.copy_records_to_table(
        "cases",
        columns=CASE_COLUMNS,
        records=[
            (uuid.uuid4(), f"GD-F{tag}-{i:07d}", "closed", "hotline", "sanitation", "grid", LEAD, "垃圾没人清运",
             location, "normal", reporter, now, SCOPE_KEYS)
            for i in range(n)
        ],
    )  # fmt: skip
    await conn.execute("ANALYZE cases")


async def reporters_plan(conn: asyncpg.Connection) -> str:
    case_id = await newest_case(conn)
    plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE) {REPORTERS}", case_id)]
    node = next((p.strip().lstrip("-> ").split("  (")[0] for p in plan if "Scan" in p), "?")
    execution = next((p.split(":", 1)[1].strip() for p in plan if p.startswith("Execution Time")), "?")
    return f"{node}; {execution}"


async def profile_fanout(place: Place, args: argparse.Namespace, settings: NotifySettings) -> None:
    """FanOut.handle() alone, one event after another on one connection, with the live subscriptions; then
    as the cases table grows, and (what-if, in this run's database only) with an index on cases.merged_into."""
    fanout = FanOut(settings, {"webhook"})
    n = args.fanout_events
    conn = await asyncpg.connect(place.url)
    rows: list[tuple[str, Sequence[str]]] = []
    try:

        async def measure_one(name: str, tag: str) -> tuple[float, StatementTimer, int]:
            cases = await count_cases(conn)
            seconds, statements, written = await fanout_pass(conn, fanout, n, tag)
            by_cases = statements.seconds.get("SELECT ... FROM cases", 0.0)
            rows.append(
                (
                    name,
                    [
                        f"{cases:,}",
                        f"{n / seconds:,.0f}",
                        f"{seconds / n * 1000:.2f}",
                        f"{by_cases / n * 1000:.2f}",
                        await reporters_plan(conn),
                    ],
                )
            )
            return seconds, statements, written

        seconds, statements, written = await measure_one("as the runs above left it", "PF")
        await copy_filler_cases(conn, args.extra_cases)
        await measure_one(f"+ {args.extra_cases:,} older cases", "PG")
        await conn.execute(WHAT_IF_INDEX)
        await conn.execute("ANALYZE cases")
        await measure_one("  what-if: + index on cases (merged_into)", "PH")
    finally:
        await conn.close()
    print(
        f"\nFanOut.handle() alone, {n:,} events one after another ({written / n:.0f} deliveries each):"
        f" {n / seconds:,.0f} events/s, {seconds / n * 1000:.2f} ms each; statements per event:"
    )
    for kind, total in sorted(statements.seconds.items(), key=lambda kv: -kv[1]):
        c = statements.calls[kind]
        print(f"    {c / n:5.2f} x {total / c * 1000:7.3f} ms = {total / n * 1000:7.3f} ms  {kind}")
    rest = seconds - sum(statements.seconds.values())
    print(f"    {rest / n * 1000:23.3f} ms  outside statements (audience, encode twice, json)")
    table(
        f"FanOut.handle() alone as cases accumulate ({n:,} events each)",
        ["cases", "events/s", "ms/event", "SELECT cases ms/event", "the reporters query: scan; execution"],
        rows,
    )


# ------------------------------------------------------------------------------------------------ report


def notify_table(runs: list[Run], title: str) -> None:
    def cpu(r: Run) -> str:  # bench = notify (consumer, fan-out, worker, its HTTP client) and the publisher
        parts = [f"{r.cpu.get('bench', 0):.0%}", f"{r.receiver_cpu:.0%}"]
        parts += [f"{r.cpu.get(name, float('nan')):.0%}" for name in (local_postgres.NAME, local_kafka.NAME)]
        return " / ".join(parts)

    rows: list[tuple[str, Sequence[str]]] = [
        ("events published / deliveries expected", [f"{r.events:,} / {r.expected:,}" for r in runs]),
        ("publishing took, s", [f"{r.published_s:.2f}" for r in runs]),
        ("webhooks received / distinct / missing / twice", [
            f"{r.received:,} / {r.distinct:,} / {r.missing} / {r.received - r.distinct}" for r in runs
        ]),
        ("deliveries/s end to end (first publish -> last receipt)", [
            f"{per_s(r.distinct, r.end_to_end_s)}  ({r.end_to_end_s:.2f} s)" for r in runs
        ]),
        ("deliveries/s steady (receipts p10 -> p90)", [
            "-" if r.steady_rate != r.steady_rate else f"{r.steady_rate:,.0f}" for r in runs
        ]),
        ("events fanned out/s (first publish -> last handle())", [
            f"{per_s(len(r.handled), r.fanout_s)}" for r in runs
        ]),
        ("latency publish -> receipt, ms  p50 / p99 / max", [trio(r.latencies) for r in runs]),
        ("delivery rows / delivered / attempts per delivery (max)", [
            f"{r.rows:,} / {r.delivered_rows:,} / {r.attempts / max(r.rows, 1):.2f} ({r.max_attempts})" for r in runs
        ]),
        ("delivery_attempts rows", [f"{r.attempt_rows:,}" for r in runs]),
        ("signatures verified / sampled", [f"{r.verified} / {r.sampled}" for r in runs]),
        ("fan-out handle() ms  p50 / p99 / max", [trio([h[1] for h in r.handled]) for r in runs]),
        ("worker ticks that leased / deliveries per tick (mean)", [
            f"{len(r.ticks):,} / {sum(t[2] for t in r.ticks) / max(len(r.ticks), 1):.1f}" for r in runs
        ]),
        ("tick() ms  p50 / p99 / max", [trio([t[1] for t in r.ticks]) for r in runs]),
        ("CPU ms per delivery in this process (notify, publisher)", [
            f"{r.process_cpu_s / max(r.distinct, 1) * 1000:.2f}" for r in runs
        ]),
        ("TCP connections the webhooks came on (receiver's count)", [f"{r.connections:,}" for r in runs]),
        ("CPU, share of a core: bench / receiver / our backends / kafka", [cpu(r) for r in runs]),
    ]  # fmt: skip
    table(title, [r.label or f"{r.subscriptions} sub(s)" for r in runs], rows)


def bare_table(results: list[Bare]) -> None:
    rows: list[tuple[str, Sequence[str]]] = [
        (
            f"{b.name}, {b.concurrency} in flight",
            [
                f"{b.rate:,.0f}",
                f"{b.posts:,}",
                trio(b.latencies),
                f"{b.cpu_ms:.2f}",
                str(b.failures),
                f"{b.connections:,}",
            ],
        )
        for b in results
    ]
    table(
        "same receiver, same bodies, same process",
        ["posts/s", "posts", "ms per post p50 / p99 / max", "CPU ms/post", "failed", "connections"],
        rows,
    )


def ratios(bursts: list[Run], bare: list[Bare]) -> None:
    """Against the bare client with httpx's defaults (the rows named exactly BARE)."""
    by = {b.concurrency: b for b in bare if b.name == BARE}
    print(f"\nratio, notify burst end to end / {BARE} (httpx defaults), rate and CPU per delivery:")
    for r in bursts:
        parts = []
        for c in sorted({1, r.subscriptions, 100}):
            b = by.get(c)
            if b:
                parts.append(f"{r.rate / b.rate:.2f}x the rate at {c} in flight ({b.rate:,.0f}/s)")
        cpu = r.process_cpu_s / max(r.distinct, 1) * 1000
        b = by.get(r.subscriptions)
        if b:
            parts.append(f"{cpu / b.cpu_ms:.1f}x its CPU per post at {r.subscriptions} ({cpu:.2f} / {b.cpu_ms:.2f} ms)")
        print(f"  {r.label or f'{r.subscriptions} sub(s)'}, {r.rate:,.0f} deliveries/s: " + "; ".join(parts))


# ------------------------------------------------------------------------------------------------ main


async def measure(place: Place, args: argparse.Namespace, log_path: Path) -> None:
    settings = NotifySettings()
    print(
        f"{args.events:,} CaseAssigned events per burst, then {args.paced_seconds:g} s paced at"
        f" {args.paced_share:.0%} of the burst's steady rate; webhook subscriptions"
        f" {', '.join(map(str, args.subscriptions))}; batch {settings.batch}, pool max"
        f" {DatabaseSettings().pool_max_size}; sniffio {'installed' if sniffio_installed() else 'NOT installed'};"
        f" run {place.run}"
    )
    await place.create()
    receiver_log = log_path.with_name(log_path.stem + "-receiver.log")
    async with Receiver.running(receiver_log) as receiver:
        print(f"receiver {receiver.url} (pid {receiver.proc.pid})")
        meter = cpu_meter(place.local, receiver, place.database)
        bursts, paced, bodies = await notify_runs(place, receiver, meter, args)

        payloads = list(bodies.items())
        most = max(args.subscriptions)
        many = min(args.events * most, args.bare_posts)
        bare: list[Bare] = []
        for c in sorted({1, *args.subscriptions, 100}):
            bare.append(await bare_client(receiver, payloads, c, args.events if c == 1 else many))
        bare.append(await bare_client(receiver, payloads, 100, many, keep_alive=100))
        if not sniffio_installed():
            with sniffio_short_circuited():
                for c in sorted({1, most}):
                    note = ", sniffio import short-circuited"
                    bare.append(await bare_client(receiver, payloads, c, args.events if c == 1 else many, note=note))
        for c in sorted({most, 100}):
            bare.append(await channel_only(receiver, payloads, c, many))

        notify_table(bursts, f"notify, burst of {args.events:,} events")
        notify_table(paced, f"notify, paced at {args.paced_share:.0%} of the burst's steady rate")
        bare_table(bare)
        ratios(bursts, bare)

        conn = await asyncpg.connect(place.url)
        try:
            rows = await conn.fetch("SELECT id, target FROM subscriptions WHERE active")
        finally:
            await conn.close()
        subs = [(str(r["id"]), r["target"]) for r in rows]
        await profile(place, receiver, subs, args)

    lines = (await asyncio.to_thread(log_path.read_text, encoding="utf-8", errors="replace")).splitlines()
    errors = sum('"level": "error"' in line or '"level": "warning"' in line for line in lines)
    dropped = (await asyncio.to_thread(receiver_log.read_text, errors="replace")).count("Connection lost")
    print(
        f"\nnotify log {log_path}: {len(lines):,} lines, {errors} warnings or errors;"
        f" receiver log {receiver_log}: {dropped} requests whose client went away mid-request"
    )
    print(f"load average at the end {load_average()}")


async def main(args: argparse.Namespace) -> int:
    log_path = Path(tempfile.gettempdir()) / f"bench-notify-{os.getpid()}.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        with contextlib.redirect_stderr(log_file):  # configure_logging keeps the stderr it finds: this file
            configure_logging("notify", LogSettings(level="INFO", GRIDDISPATCH_LOG_JSON=True))
        async with infrastructure(stop_started=False) as local:
            place = Place(local, "notify")
            try:
                print(await describe_stack(local, ("aiokafka", "asyncpg", "httpx", "aiohttp")))
                await asyncio.wait_for(measure(place, args, log_path), args.timeout)
            finally:
                await place.clean()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 events per burst, shorter paced and profile runs")
    parser.add_argument("--rounds", type=int, default=2, help="drains of each worker variant, alternated")
    parser.add_argument("--events", type=int, help="CaseAssigned events per burst (default 2,000)")
    parser.add_argument("--subscriptions", type=int, nargs="+", default=[1, 10], help="webhook subscriptions")
    parser.add_argument("--paced-share", type=float, default=0.5, help="paced rate, as a share of the burst's")
    parser.add_argument("--paced-seconds", type=float, help="length of the paced stretch (default 10 s)")
    parser.add_argument(
        "--no-what-if", dest="what_if", action="store_false", help="skip the live burst through the what-if worker"
    )
    parser.add_argument("--extra-cases", type=int, help="older cases added before the last fan-out runs (100,000)")
    parser.add_argument("--bare-posts", type=int, help="posts per concurrent bare-client figure (default 4,000)")
    parser.add_argument("--backlog", type=int, help="deliveries each profiled drain has (default 1,000)")
    parser.add_argument("--fanout-events", type=int, help="events FanOut.handle() alone handles (default 500)")
    parser.add_argument("--timeout", type=float, default=2400.0, help="give up after this many seconds")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)  # the child process
    parsed = parser.parse_args()
    if parsed.receiver:
        run_receiver()
        raise SystemExit(0)
    parsed.events = parsed.events or (500 if parsed.quick else 2000)
    parsed.extra_cases = parsed.extra_cases or (20_000 if parsed.quick else 100_000)
    parsed.bare_posts = parsed.bare_posts or (1500 if parsed.quick else 4000)
    parsed.paced_seconds = parsed.paced_seconds or (5.0 if parsed.quick else 10.0)
    parsed.backlog = parsed.backlog or (300 if parsed.quick else 1000)
    parsed.fanout_events = parsed.fanout_events or (200 if parsed.quick else 500)
    raise SystemExit(asyncio.run(main(parsed)))
