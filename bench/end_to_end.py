"""End to end: cases per second from submission to the assignment event and to the webhook, the four services
running as in production, beside the raw capacity of the same broker and database measured in the same run.

    python -m bench.end_to_end            # offered 10, 20, 30, 40, 60, 80 cases/s, 15 s a step (a few minutes)
    python -m bench.end_to_end --quick    # offered 5 and 10 cases/s, 4 s a step (under a minute)
    python -m bench.end_to_end --rates 20 40 --seconds 30

Everything runs on the broker and the PostgreSQL cluster of `griddispatch infra up` (started here, and stopped
afterwards, only if it was not running), on loopback:

* A fresh database (CREATE DATABASE, migrated, the sample district imported, two API clients; dropped at the
  end) and a topic prefix of its own (its topics deleted at the end).
* The four services as processes, as in production: `griddispatch serve NAME --port P` for intake,
  dispatch, escalation and notify (ports --base-port to +3), JSON logs at INFO to files, each waited for
  until its /readyz answers.
* A webhook receiver (aiohttp, a child process of its own on --base-port + 4) that stamps each POST's
  arrival with time.time() by the CloudEvent's subject (the case id). It is subscribed through notify's
  POST /v1/subscriptions to `case.assigned` of unit:610199, the whole sample district, so every report's
  case reaches it.
* A plain aiokafka consumer (no group) of the assignments and dead-letter topics stamps each case's lead
  CaseAssigned event with time.time().
* The reports: each at a point of its own on a ~110 m lattice inside the district's micro-grids, with a
  catalog matter code cycling through the catalog, so that no report falls within dispatch's duplicate
  radius (100 m) of an open case of the same matter: every case is opened and assigned, none merged.
* Two paths, each a ramp of steps at fixed offered rates, open loop (each submission goes out at its
  scheduled moment whether or not earlier ones have been answered; latency counts from that moment):
  - HTTP: POST /v1/reports to intake from one httpx client (64 connections at most in flight; a request due
    while all are busy is shed and counted);
  - Kafka: ReportSubmitted CloudEvents (docs/events.md) produced straight onto the reports topic by an
    acks=all idempotent producer, as a grid-worker app's bulk sync does.
  After each step the bench waits until every case of the step has its assignment event and its webhook
  (or none has come for --stall seconds). A step is held when nothing was missing, shed or refused and its
  p99 submission -> webhook is within --p99-limit seconds; the ramp stops after two steps in a row not held.
  The sustained rate of a path is the highest offered rate it held; "cases/s" of a step is its cases over
  the time from its first submission to its last webhook.
* CPU seconds of each service process and of the PostgreSQL backends serving the run's database
  (/proc/<pid>/stat) per step, as ms per case, and the rate that much CPU per case allows on this machine's
  cores; memory of each service (VmRSS and the peak VmHWM from /proc/<pid>/status) at the end.
* Beside it, in the same run, once the services have stopped (bench.baseline's functions): plain aiokafka
  produce (a tenth of --messages awaited one by one, then --messages with 500 in flight) and one consumer
  reading them all on the same broker; single-row committed INSERTs and a COPY on the same database server.
* Escalation's claim transactions (its tick histogram's count on /metrics) and the tiers it fired: no
  deadline comes due within a run, so every tick is the cost of being woken.

The machine may be shared: the load average is printed at the start, per step and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import asyncpg
import httpx
import shapely
import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from bench.baseline import Figure, kafka_capacity, postgres_capacity
from bench.common import (
    SAMPLE,
    Child,
    Observer,
    Place,
    backend_ticks,
    cpu_model,
    cpu_ticks,
    infrastructure,
    lead_assignment,
    load1,
    load_average,
    memory_kib,
    ms,
    percentile,
    table,
    wait_ready,
)
from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from griddispatch.infra.processes import Processes
from shared.api_clients import create_client
from shared.domain.model import Level
from shared.events import EncodedEvent, encode, new_event
from shared.events.types import Location, ReportSubmitted
from shared.kafka import kafka_producer
from shared.registry_files.load import load_directory

SERVICES = ("intake", "dispatch", "escalation", "notify")
DISTRICT = "unit:610199"  # the sample district's root unit: every case located in it carries this key
SPACING = (0.0012, 0.001)  # degrees lon, lat: about 110 m by 111 m at 34.27 N, beyond the 100 m duplicate radius
MAX_IN_FLIGHT = 64  # HTTP requests unanswered at once
HOOK = "/hooks/command-centre"
BACKENDS = "PostgreSQL backends"
DESCRIPTION = "市民反映：问题已经持续好几天了，影响居民正常生活，希望尽快派人处理。"


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True, slots=True)
class Spot:
    lon: float
    lat: float
    matter_code: str
    title: str


class Reports:
    """Report contents, each unique by (lattice point, matter): no two within the duplicate radius share one."""

    def __init__(self) -> None:
        loaded = load_directory(SAMPLE)
        grids = [u.boundary for u in loaded.registry.units_at(Level.MICRO_GRID)]
        minx = min(g.bounds[0] for g in grids)
        miny = min(g.bounds[1] for g in grids)
        maxx = max(g.bounds[2] for g in grids)
        maxy = max(g.bounds[3] for g in grids)
        points = []
        lon = minx + SPACING[0] / 2
        while lon < maxx:
            lat = miny + SPACING[1] / 2
            while lat < maxy:
                if any(shapely.contains_xy(g, lon, lat) for g in grids):
                    points.append((round(lon, 6), round(lat, 6)))
                lat += SPACING[1]
            lon += SPACING[0]
        self.points = points
        self.matters = [loaded.catalog.get(code) for code in loaded.catalog.codes]
        self.used = 0

    @property
    def capacity(self) -> int:
        return len(self.points) * len(self.matters)

    def take(self, n: int) -> list[Spot]:
        """The next n spots: every point with one matter, then every point with the next, and so on."""
        if self.used + n > self.capacity:
            raise SystemExit(f"this run needs more than {self.capacity:,} distinct reports: offer fewer")
        spots = []
        for i in range(self.used, self.used + n):
            lon, lat = self.points[i % len(self.points)]
            matter = self.matters[(i // len(self.points)) % len(self.matters)]
            spots.append(Spot(lon, lat, matter.code, matter.name))
        self.used += n
        return spots


def http_body(spot: Spot, ref: str) -> bytes:
    report = {
        "source_ref": ref,
        "title": spot.title,
        "description": DESCRIPTION,
        "matter_code": spot.matter_code,
        "location": {"lon": spot.lon, "lat": spot.lat},
        "urgency": "normal",
        "reporter": {"name": "王先生", "phone": "13812345678"},
    }
    return json.dumps(report, ensure_ascii=False).encode()


def report_event(spot: Spot, number: str) -> tuple[str, EncodedEvent]:
    case_id = str(uuid.uuid4())
    data = ReportSubmitted(
        case_id=case_id,
        case_number=number,
        source="grid_app",
        matter_code=spot.matter_code,
        title=spot.title,
        description=DESCRIPTION,
        location=Location(lon=spot.lon, lat=spot.lat),
        received_at=datetime.now(UTC),
    )
    return case_id, encode(new_event(data, source="/bench/end-to-end", subject=case_id))


# ------------------------------------------------------------------------------------------------ receiver


def run_receiver(port: int) -> None:
    """The child process: a webhook receiver on 127.0.0.1:port; each case's first POST stamped by time.time()."""
    first: dict[str, float] = {}
    total = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal total
        body = await request.read()
        at = time.time()
        total += 1
        subject = json.loads(body).get("subject", "")
        first.setdefault(subject, at)
        return web.Response(status=200)

    async def times(request: web.Request) -> web.Response:
        wanted = await request.json()
        return web.json_response({"total": total, "times": {k: first[k] for k in wanted if k in first}})

    async def serve() -> None:
        app = web.Application(client_max_size=1 << 22)
        app.router.add_post("/_times", times)
        app.router.add_route("POST", "/{tail:.*}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


class Receiver:
    """The receiver child as the bench sees it."""

    def __init__(self, child: Child, url: str, control: httpx.AsyncClient) -> None:
        self.child, self.url, self.control = child, url, control
        self.arrived: dict[str, float] = {}
        self.total = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, port: int, scratch: Path) -> AsyncIterator[Receiver]:
        argv = [sys.executable, "-m", "bench.end_to_end", "--receiver", str(port)]
        child = await Child.start(argv, dict(os.environ), Path.cwd(), scratch / "receiver.log", pipe=True)
        try:
            assert child.proc.stdout is not None
            line = await asyncio.wait_for(child.proc.stdout.readline(), 30)
            if not line.strip():
                raise RuntimeError(f"the webhook receiver did not start: see {scratch / 'receiver.log'}")
            url = f"http://127.0.0.1:{int(line)}"
            async with httpx.AsyncClient(base_url=url, timeout=60) as control:
                yield cls(child, url, control)
        finally:
            await child.stop()

    async def poll(self, keys: Sequence[str]) -> None:
        missing = [k for k in keys if k not in self.arrived]
        if missing:
            body = (await self.control.post("/_times", json=missing)).json()
            self.arrived.update(body["times"])
            self.total = int(body["total"])

    async def wait_for(self, keys: Sequence[str], stall_s: float) -> bool:
        """True when every key has its webhook; False when none has come for `stall_s` seconds."""
        last, before = time.monotonic(), -1
        while True:
            await self.poll(keys)
            have = sum(1 for k in keys if k in self.arrived)
            if have == len(keys):
                return True
            if have != before:
                last, before = time.monotonic(), have
            elif time.monotonic() - last > stall_s:
                return False
            await asyncio.sleep(0.25)


# ------------------------------------------------------------------------------------------------ services


@dataclass
class Stack:
    children: dict[str, Child]
    ports: dict[str, int]
    logs: dict[str, Path]
    postmaster: int | None  # the local PostgreSQL's, when this checkout's pid record names it
    database: str

    def pid(self, name: str) -> int:
        return self.children[name].proc.pid

    def ticks(self) -> dict[str, int]:
        """CPU ticks so far of each service process and of the backends serving the run's database."""
        ticks = {name: cpu_ticks(self.pid(name)) for name in SERVICES}
        if self.postmaster is not None:
            ticks[BACKENDS] = backend_ticks(self.postmaster, self.database)
        return ticks


@contextlib.asynccontextmanager
async def services(place: Place, base_port: int, scratch: Path) -> AsyncIterator[Stack]:
    """The four services as `griddispatch serve NAME --port P` processes on the run's database and topics."""
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": place.kafka.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": place.kafka.topic_prefix,
        "GRIDDISPATCH_DB_URL": place.url,
        "GRIDDISPATCH_LOG_JSON": "true",
    }
    postgres = Processes(place.local.dir).running(local_postgres.NAME)
    stack = Stack({}, {}, {}, postgres.pid if postgres else None, place.database)
    try:
        for offset, name in enumerate(SERVICES):
            port = base_port + offset
            argv = [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(port)]
            stack.ports[name], stack.logs[name] = port, scratch / f"{name}.log"
            stack.children[name] = await Child.start(argv, env, scratch, stack.logs[name])  # cwd: faust's data
        for name in SERVICES:
            await wait_ready(stack.children[name], stack.ports[name], stack.logs[name], name)
        yield stack
    finally:
        for child in stack.children.values():
            await child.stop()


async def metric(port: int, name: str) -> float:
    """The sum of a Prometheus metric's samples (every label set) on a service's /metrics."""
    async with httpx.AsyncClient(timeout=30) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
    )


async def api_keys(url: str) -> tuple[str, str]:
    """A hotline's key for intake (submit) and a command centre's for notify (read), both over every unit."""
    conn = await asyncpg.connect(url)
    try:
        _, hotline = await create_client(
            conn, name="bench hotline", scopes=["submit"], units=["*"], source="hotline", rate_per_min=10**9
        )
        _, centre = await create_client(conn, name="bench command centre", scopes=["read"], units=["*"])
    finally:
        await conn.close()
    return hotline, centre


async def subscribe(notify_port: int, key: str, target: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{notify_port}", timeout=30) as http:
        response = await http.post(
            "/v1/subscriptions",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "name": "区指挥中心",
                "channel": "webhook",
                "target": target,
                "units": [DISTRICT],
                "event_types": ["case.assigned"],
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"notify refused the subscription: {response.status_code} {response.text}")


# ------------------------------------------------------------------------------------------------ steps


@dataclass
class Step:
    path: str
    offered: float
    seconds: float
    sent: dict[str, float] = field(default_factory=dict)  # case id -> scheduled submission (time.time())
    accepted: list[float] = field(default_factory=list)  # HTTP: submission -> 202, seconds
    errors: Counter[str] = field(default_factory=Counter)
    assigned: dict[str, float] = field(default_factory=dict)
    hooked: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    load: str = ""
    lag_s: float = 0.0  # the load generator's largest delay past a scheduled moment (counted in the latencies)

    def latencies(self, arrived: dict[str, float]) -> list[float]:
        return [arrived[k] - self.sent[k] for k in self.sent if k in arrived]

    @property
    def missing(self) -> int:
        return len(self.sent) - min(len(self.assigned), len(self.hooked))

    def rate(self) -> float:
        """Cases through to their webhook per second, first submission to last webhook."""
        if not self.hooked:
            return 0.0
        seconds = max(self.hooked.values()) - min(self.sent.values())
        return len(self.hooked) / seconds if seconds > 0 else 0.0

    def held(self, p99_limit: float) -> bool:
        p99 = percentile(self.latencies(self.hooked), 0.99)
        return bool(self.sent) and not self.missing and not self.errors and p99 <= p99_limit


async def offer_http(http: httpx.AsyncClient, key: str, spots: list[Spot], rate: float, tag: str) -> Step:
    """POST each report at its moment (open loop); the 202's case id and the scheduled moment are noted."""
    step = Step("HTTP", rate, len(spots) / rate)
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    requests = [
        http.build_request("POST", "/v1/reports", content=http_body(s, f"12345-{tag}-{i:06d}"), headers=headers)
        for i, s in enumerate(spots)
    ]
    in_flight = 0

    async def one(request: httpx.Request, due_loop: float, due_wall: float) -> None:
        nonlocal in_flight
        try:
            response = await http.send(request)
        except httpx.HTTPError as exc:
            step.errors[type(exc).__name__] += 1
            return
        finally:
            in_flight -= 1
        if response.status_code == 202:
            step.accepted.append(loop.time() - due_loop)
            step.sent[response.json()["case_id"]] = due_wall
        else:
            step.errors[str(response.status_code)] += 1

    tasks = []
    start_loop, start_wall = loop.time() + 0.05, time.time() + 0.05
    for i, request in enumerate(requests):
        due = start_loop + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        step.lag_s = max(step.lag_s, loop.time() - due)
        if in_flight >= MAX_IN_FLIGHT:
            step.errors["shed"] += 1
            continue
        in_flight += 1
        tasks.append(asyncio.create_task(one(request, due, start_wall + i / rate)))
    await asyncio.gather(*tasks)
    return step


async def offer_kafka(producer: AIOKafkaProducer, topic: str, spots: list[Spot], rate: float, tag: str) -> Step:
    """Produce each ReportSubmitted at its moment (open loop), then await every acknowledgement."""
    step = Step("Kafka", rate, len(spots) / rate)
    events = [report_event(s, f"GD-BENCH-{tag}-{i:06d}") for i, s in enumerate(spots)]
    loop = asyncio.get_running_loop()
    futures = []
    start_loop, start_wall = loop.time() + 0.05, time.time() + 0.05
    for i, (case_id, e) in enumerate(events):
        due = start_loop + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        step.lag_s = max(step.lag_s, loop.time() - due)
        step.sent[case_id] = start_wall + i / rate
        futures.append(await producer.send(topic, e.value, key=e.key, headers=e.headers))
    for outcome in await asyncio.gather(*futures, return_exceptions=True):
        if isinstance(outcome, BaseException):
            step.errors[type(outcome).__name__] += 1
    return step


@dataclass
class Rig:
    place: Place
    stack: Stack
    observer: Observer
    receiver: Receiver
    reports: Reports
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    hotline_key: str
    stall_s: float


async def run_step(rig: Rig, path: str, rate: float, seconds: float, tag: str) -> Step:
    spots = rig.reports.take(max(1, round(rate * seconds)))
    before, started = rig.stack.ticks(), time.perf_counter()
    if path == "HTTP":
        step = await offer_http(rig.http, rig.hotline_key, spots, rate, tag)
    else:
        step = await offer_kafka(rig.producer, rig.place.topics.reports, spots, rate, tag)
    keys = list(step.sent)
    await rig.observer.wait_for(keys, rig.stall_s)
    await rig.receiver.wait_for(keys, rig.stall_s)
    after, wall = rig.stack.ticks(), time.perf_counter() - started
    hz = os.sysconf("SC_CLK_TCK")
    step.cpu_s = {name: (after[name] - before[name]) / hz for name in after}
    step.cpu_s["wall"] = wall
    step.assigned = {
        k: rig.observer.arrived[k][0] for k in keys if rig.observer.arrived.get(k, (0, ""))[1] == "assigned"
    }
    step.hooked = {k: rig.receiver.arrived[k] for k in keys if k in rig.receiver.arrived}
    step.load = load1()
    dead = sum(1 for k in keys if rig.observer.arrived.get(k, (0, ""))[1] == "dead-lettered")
    if dead:
        step.errors["dead-lettered"] += dead
    return step


async def ramp(rig: Rig, path: str, rates: Sequence[float], seconds: float, p99_limit: float) -> list[Step]:
    steps = []
    for rate in rates:
        step = await run_step(rig, path, rate, seconds, f"{path[0]}{rate:g}-{rig.place.run}")
        steps.append(step)
        print(
            f"  {path} {rate:g}/s: {len(step.sent):,} submitted, {len(step.assigned):,} assigned, "
            f"{len(step.hooked):,} webhooks; p99 to webhook {ms(percentile(step.latencies(step.hooked), 0.99))} ms; "
            f"the generator's largest delay {ms(step.lag_s)} ms; load {step.load}",
            flush=True,
        )
        if len(steps) >= 2 and not any(s.held(p99_limit) for s in steps[-2:]):
            break  # two steps in a row not held: past the sustained rate, and noise alone does not do that
    return steps


async def warm_up(rig: Rig, seconds: float) -> None:
    """A few cases down both paths, 2 a second, not in the figures: consumer groups formed, code paths hot."""
    for path in ("HTTP", "Kafka"):
        step = await run_step(rig, path, 2.0, seconds, f"w{path[0]}-{rig.place.run}")
        if step.missing or step.errors:
            raise RuntimeError(
                f"warm-up {path}: {step.missing} of {len(step.sent)} cases incomplete, errors {dict(step.errors)}; "
                f"logs in {rig.stack.logs['dispatch'].parent}"
            )


def decode_dead_letter(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str] | None:
    return (record.key or b"").decode(), "dead-lettered"


# ------------------------------------------------------------------------------------------------ printing


def pair(values: Sequence[float]) -> str:
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.99))}"


def print_steps(steps: Sequence[Step], p99_limit: float) -> None:
    rows = []
    for s in steps:
        errors = ", ".join(f"{n} {what}" for what, n in sorted(s.errors.items())) or "-"
        rows.append(
            (
                f"{s.path} at {s.offered:g}/s for {s.seconds:g} s",
                [
                    f"{len(s.sent):,}",
                    f"{s.rate():,.1f}",
                    pair(s.latencies(s.assigned)),
                    pair(s.latencies(s.hooked)),
                    pair(s.accepted) if s.path == "HTTP" else "-",
                    str(s.missing),
                    errors,
                    "yes" if s.held(p99_limit) else "no",
                    s.load,
                ],
            )
        )
    table(
        "end to end, per offered rate",
        [
            "cases",
            "cases/s",
            "-> assigned p50 / p99 ms",
            "-> webhook p50 / p99 ms",
            "-> 202 p50 / p99 ms",
            "missing",
            "shed / errors",
            "held",
            "load",
        ],
        rows,
    )


def sustained(steps: Sequence[Step], p99_limit: float) -> Step | None:
    held = [s for s in steps if s.held(p99_limit)]
    return max(held, key=lambda s: s.offered) if held else None


def print_summary(paths: dict[str, list[Step]], p99_limit: float, figures: list[Figure]) -> None:
    rows = []
    for path, steps in paths.items():
        best = sustained(steps, p99_limit)
        label = "HTTP: POST /v1/reports" if path == "HTTP" else "Kafka: ReportSubmitted onto the reports topic"
        fastest = max(steps, key=lambda s: s.rate(), default=None)
        reached = f"{fastest.rate():,.1f} (offered {fastest.offered:g})" if fastest else "-"
        if best is None:
            rows.append((label, ["none held", "-", "-", "-", reached]))
        else:
            rows.append(
                (
                    label,
                    [
                        f"{best.offered:g}",
                        pair(best.latencies(best.assigned)),
                        pair(best.latencies(best.hooked)),
                        best.load,
                        reached,
                    ],
                )
            )
    table(
        f"sustained (highest offered rate held: nothing missing, p99 to webhook <= {p99_limit:g} s)",
        ["cases/s", "-> assigned p50 / p99 ms", "-> webhook p50 / p99 ms", "load", "most cases/s through"],
        rows,
    )
    table(
        "raw capacity, same broker and database, same run",
        ["per second", "count", "seconds"],
        [(f.name, [f"{f.rate:,.0f}", f"{f.count:,}", f"{f.seconds:.2f}"]) for f in figures],
    )


def cpu_ms_per_case(steps: Sequence[Step], part: str) -> float:
    cases = sum(len(s.sent) for s in steps)
    return sum(s.cpu_s.get(part, 0.0) for s in steps) * 1000 / cases if cases else float("nan")


def print_services(stack: Stack, paths: dict[str, list[Step]], memory: dict[str, tuple[int, int]]) -> None:
    parts = [*SERVICES, BACKENDS] if stack.postmaster is not None else list(SERVICES)
    rows = []
    for name in parts:
        cpu = [f"{cpu_ms_per_case(steps, name):,.1f}" for steps in paths.values()]
        if name in memory:
            rss, hwm = memory[name]
            rows.append((f"{name} (pid {stack.pid(name)})", [*cpu, f"{rss / 1024:,.0f}", f"{hwm / 1024:,.0f}"]))
        else:
            rows.append((f"{name} of the run's database", [*cpu, "-", "-"]))
    totals = [f"{sum(cpu_ms_per_case(steps, name) for name in parts):,.1f}" for steps in paths.values()]
    rows.append(("all of the above", [*totals, "-", "-"]))
    table(
        "each service process",
        [*(f"{p} CPU ms/case" for p in paths), "RSS MiB at end", "peak RSS MiB (VmHWM)"],
        rows,
    )
    cores = os.cpu_count() or 1
    for path, steps in paths.items():
        total = sum(cpu_ms_per_case(steps, name) for name in parts)
        print(
            f"{path}: {total:,.1f} ms of CPU per case in the services and their database backends: on {cores} "
            f"otherwise idle core(s) at most ~{cores * 1000 / total:,.0f} cases/s (the broker's CPU not counted; "
            "CPU time is inflated on a loaded machine)"
        )


def describe(place: Place) -> str:
    versions = ", ".join(f"{p} {version(p)}" for p in ("faust-streaming", "aiokafka", "asyncpg", "httpx", "uvicorn"))
    return (
        f"python {platform.python_version()}, {versions}; CPU {cpu_model()}, {os.cpu_count()} core(s); "
        f"load average {load_average()}\nbroker {local_kafka.bootstrap_of(place.local)}, PostgreSQL "
        f"127.0.0.1:{place.local.postgres_port}; sample district; topic prefix {place.kafka.topic_prefix}"
    )


# ------------------------------------------------------------------------------------------------ main


async def measure(place: Place, args: argparse.Namespace, scratch: Path) -> None:
    rates: list[float] = args.rates or ([5.0, 10.0] if args.quick else [10.0, 20.0, 30.0, 40.0, 60.0, 80.0])
    seconds: float = args.seconds or (4.0 if args.quick else 15.0)
    stall_s: float = args.stall or (20.0 if args.quick else 30.0)
    reports = Reports()
    print(
        f"offered rates {', '.join(f'{r:g}' for r in rates)} cases/s, {seconds:g} s a step, per path; "
        f"{len(reports.points)} lattice points x {len(reports.matters)} matters"
    )
    await place.create(registry=True)
    hotline_key, centre_key = await api_keys(place.url)
    topics = place.topics
    paths: dict[str, list[Step]] = {}
    async with (
        Receiver.running(args.base_port + 4, scratch) as receiver,
        services(place, args.base_port, scratch) as stack,
    ):
        print(f"services ready: {', '.join(f'{n} :{p} pid {stack.pid(n)}' for n, p in stack.ports.items())}")
        await subscribe(stack.ports["notify"], centre_key, receiver.url + HOOK)
        observer = Observer(
            place.kafka.bootstrap_servers,
            [topics.assignments, topics.dead_letter],
            lambda r: decode_dead_letter(r) if r.topic == topics.dead_letter else lead_assignment(r),
            clock=time.time,
        )
        await observer.start()
        try:
            async with (
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{stack.ports['intake']}",
                    timeout=30,
                    limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
                ) as http,
                kafka_producer(place.kafka) as producer,
            ):
                rig = Rig(place, stack, observer, receiver, reports, http, producer, hotline_key, stall_s)
                await warm_up(rig, 1.5 if args.quick else 3.0)
                for path in ("HTTP", "Kafka"):
                    print(f"{path} path:", flush=True)
                    paths[path] = await ramp(rig, path, rates, seconds, args.p99_limit)
        finally:
            await observer.stop()
        memory = {name: memory_kib(stack.pid(name)) for name in SERVICES}
        port = stack.ports["escalation"]
        ticks = await metric(port, "griddispatch_escalation_tick_seconds_count")
        fired = await metric(port, "griddispatch_deadlines_fired_total")
        cases = sum(len(s.sent) for steps in paths.values() for s in steps)
        print(
            f"escalation: {ticks:,.0f} claim transactions (ticks) and {fired:,.0f} tiers fired over the run's "
            f"{cases:,} measured cases (warm-up included in the ticks)"
        )
        print(f"webhooks received in all: {receiver.total:,} (one per CaseAssigned in scope: lead and assisting)")
    print(f"services stopped; raw capacity next (load {load1()})", flush=True)
    messages: int = args.messages or (3_000 if args.quick else 20_000)
    figures = await kafka_capacity(
        place.kafka,
        messages,
        600,
        500,
        topic=f"{place.kafka.topic_prefix}.baseline",
        one_by_one=min(2000, messages // 10),
        lingers=(0,),
    )
    figures += await postgres_capacity(place.url, args.rows or (1_000 if args.quick else 5_000))
    print_steps([s for steps in paths.values() for s in steps], args.p99_limit)
    print_summary(paths, args.p99_limit, figures)
    print_services(stack, paths, memory)
    ratios(paths, figures, args.p99_limit)
    lag = max((s.lag_s for steps in paths.values() for s in steps), default=0.0)
    print(f"largest delay of the load generator past a scheduled moment: {ms(lag)} ms (in the latencies)")


def ratios(paths: dict[str, list[Step]], figures: list[Figure], p99_limit: float) -> None:
    by_name = {f.name: f.rate for f in figures}
    awaited = by_name.get("kafka produce, acks=all idempotent, awaited one by one, linger 0 ms", float("nan"))
    inserts = by_name.get("postgres INSERT, one row per committed transaction", float("nan"))
    for path, steps in paths.items():
        best = sustained(steps, p99_limit)
        if best is not None:
            what, rate = "sustained", best.offered
        elif steps:
            what, rate = "at most through (nothing held)", max(s.rate() for s in steps)
        else:
            continue
        print(
            f"{path}: {rate:,.1f} cases/s {what} = {rate / awaited:.3f} of the awaited produces, "
            f"{rate / inserts:.3f} of the single-row INSERT commits of the same run"
        )


async def main(args: argparse.Namespace) -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # migrations: quiet
    scratch = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    failed = True
    async with infrastructure() as local:
        place = Place(local, "e2e", client_id="bench-e2e")
        try:
            print(describe(place), flush=True)
            await measure(place, args, scratch)
            failed = False
            print(f"load average at the end {load_average()}")
        finally:
            await place.clean()
            if failed:
                print(f"service logs kept in {scratch}")
            else:
                shutil.rmtree(scratch, ignore_errors=True)
    return 0


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="offered 5 and 10 cases/s, 4 s a step")
    parser.add_argument("--rates", type=float, nargs="+", help="offered cases/s, a step each, in order")
    parser.add_argument("--seconds", type=float, help="length of a step (default 15, --quick 4)")
    parser.add_argument("--stall", type=float, help="give up on a step's stragglers after this long without one")
    parser.add_argument("--p99-limit", type=float, default=2.0, help="a held step's p99 to webhook, seconds")
    parser.add_argument("--base-port", type=int, default=18350, help="services on this port to +3, receiver +4")
    parser.add_argument("--messages", type=int, help="raw capacity: messages produced (20,000; --quick 3,000)")
    parser.add_argument("--rows", type=int, help="raw capacity: rows inserted (5,000; --quick 1,000)")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.receiver is not None:
        run_receiver(arguments.receiver)
    else:
        sys.exit(asyncio.run(main(arguments)))
