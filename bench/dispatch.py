"""Cases per second through the dispatch service, beside a plain aiokafka relay and plain asyncpg commits.

    python -m bench.dispatch              # 5,000 reports per flow (a few minutes)
    python -m bench.dispatch --quick      # 1,000 reports per flow
    python -m bench.dispatch --py-spy     # then sample the worker with py-spy through one more flood
    python -m bench.dispatch --profile    # only: where Runtime.process spends its time, in-process (and what
                                          # counting statements costs, as python -m bench.db_statements)

Everything runs in one go on the broker and the PostgreSQL cluster of `griddispatch infra up` (started here,
and stopped afterwards, only if it was not running), on loopback:

* A fresh database (CREATE DATABASE, migrated, the sample district imported; dropped at the end) and a topic
  prefix of its own (its topics deleted at the end).
* ONE real dispatch worker, `griddispatch serve dispatch` as a process, as tests/e2e runs it. After a
  warm-up (the consumer group formed, the code paths hot), N ReportSubmitted events are produced onto the
  reports topic as fast as an acks=all idempotent producer allows, the send time of each recorded; a plain
  aiokafka consumer of the assignments topic records when each case's lead assignment arrives. Reports are
  spread over the 240 micro-grids (uniform points inside each polygon), half with a catalog matter code,
  half as text to classify, each with a unique case number. The worker keeps its default DuplicatePolicy
  (same matter within 100 m and 72 h): a report that duplicates an open case is merged into it and gets no
  assignment of its own, so it counts as done when its `merge` case event arrives. Merges are counted.
* Latency one at a time: a few reports sent singly, each waited for, so nothing is queued.
* SQL statements and commits per report, for the flood and for the one-at-a-time reports: the worker's
  `griddispatch_db_statements_total` (every statement its pool sends, shared/db/statements.py) read from its
  /metrics at both ends, and `pg_stat_database.xact_commit` of its database, net of this bench's own
  transactions there (bench/dispatch_ledger.py: each end waits until PostgreSQL has the statistics).
* TWO workers, two more `griddispatch serve dispatch` processes in one consumer group on a database and a
  topic prefix of their own (the reports topic has 6 partitions; at least 2 are made if a prefix had fewer),
  the same number of other reports flooded once both hold partitions: the rate, its ratio to one worker's,
  and the machine's cores and load beside it (on 2 cores, the cores bound it).
* The same reports processed in-process by `Runtime.process` in a loop (no faust, its own fresh database):
  what the worker could reach without the framework around it.
* The yardsticks, on the same broker in the same run: a plain aiokafka consume-and-produce relay of the same
  N events (a separate process; consume, produce one event per input, acks=all idempotent), awaited per
  message and then batched (getmany, send all, await all); and N single-row INSERT transactions with asyncpg.

Rates: "whole" is N over first report sent to last result received; "steady" is the middle 80% of the
results over the time between the 10th and the 90th percentile result. Latency under the flood includes
the time a report waits in the queue behind the others; the paced rows show the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import io
import json
import logging
import os
import pstats
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import shapely
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from bench import common, db_statements
from bench.common import (
    SAMPLE,
    Child,
    Classify,
    Observer,
    cpu_ticks,
    free_port,
    infrastructure,
    load1,
    machine,
    percentile,
    wait_ready,
)
from bench.dispatch_ledger import Ledger, Mark, Stretch, scrape_statements, settle
from griddispatch.infra import kafka as local_kafka
from griddispatch.infra.processes import Processes
from shared.db.statements import sent
from shared.domain.model import Level
from shared.events import EncodedEvent, encode, new_event
from shared.events.types import EventType, Location, ReportSubmitted
from shared.kafka import ensure_topics, kafka_producer
from shared.registry_files.load import load_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, DispatchSettings, KafkaSettings, LocalInfraSettings
from shared.topics import Topics, TopicSpec

SEED = 20261122
IN_PROCESS_BATCH = DispatchSettings.model_fields["batch_max"].default  # the worker's default batch
IN_PROCESS_MAX = 1000  # reports through Runtime.process in-process: enough for a steady rate
STALL_S = 60.0  # give up on a flow when no result has arrived for this long
# Dispatch's tables: every row a report writes lands in one of these.
TABLES = ("processed_events", "cases", "case_events", "deadlines", "outbox", "pending_actions")
# How grid workers and callers write; each classifies to a matter of the sample catalog.
PHRASES = (
    ("路灯不亮", "小区门口路灯坏了好几天"),
    ("垃圾没人清运", "垃圾堆了三天，臭气熏天"),
    ("噪音扰民", "夜间施工噪音太大睡不着"),
    ("井盖丢了", "路口井盖不见了，很危险"),
    ("占道经营", "门口有人占道摆摊卖菜"),
    ("楼道堆物", "楼道里堆满杂物"),
    ("电动车在楼道里充电", "楼道里有人给电动车充电"),
    ("下水道堵了", "下水道堵了，污水冒出来"),
    ("私搭乱建", "楼顶有人私搭乱建"),
    ("油烟扰民", "楼下烧烤店油烟熏得窗都不敢开"),
    ("小广告", "单元门上贴满了小广告"),
    ("乱停放", "共享单车乱停乱放堵住了路"),
)


# --------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Report:
    case_id: str
    encoded: EncodedEvent


@functools.cache
def _district() -> tuple[list[Any], list[Any]]:
    """The sample district's micro-grid polygons and matters (read once: about half a second each time)."""
    loaded = load_directory(SAMPLE)
    grids = [u.boundary for u in loaded.registry.units_at(Level.MICRO_GRID)]
    return grids, [loaded.catalog.get(code) for code in loaded.catalog.codes]


def make_reports(n: int, tag: str, rnd: random.Random) -> list[Report]:
    """N report events, encoded once, spread over the sample district's micro-grids and matters."""
    grids, matters = _district()
    out = []
    for i in range(n):
        polygon = rnd.choice(grids)
        minx, miny, maxx, maxy = polygon.bounds
        while True:  # a uniform point inside the polygon
            lon, lat = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
            if shapely.contains_xy(polygon, lon, lat):
                break
        if i % 2:
            matter = rnd.choice(matters)
            code: str | None = matter.code
            title, text = matter.name, f"{matter.name}，请尽快处理"
        else:
            code = None
            title, text = rnd.choice(PHRASES)
        case_id = str(uuid.uuid4())
        report = ReportSubmitted(
            case_id=case_id,
            case_number=f"GD-BENCH-{tag}-{i:06d}",
            source="grid_app",
            matter_code=code,
            title=title,
            description=text,
            location=Location(lon=lon, lat=lat),
            received_at=datetime.now(UTC),
        )
        out.append(Report(case_id, encode(new_event(report, source="/bench", subject=case_id))))
    return out


# ------------------------------------------------------------------------------------------- results


@dataclass
class Flow:
    """Send and result times (perf_counter seconds) of one measured flow, keyed by case id."""

    name: str
    sent: dict[str, float] = field(default_factory=dict)
    done: dict[str, tuple[float, str]] = field(default_factory=dict)  # case id -> (time, outcome)
    produce_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.done)

    def ends(self) -> list[float]:
        return sorted(t for t, _ in self.done.values())

    def whole(self) -> tuple[float, float]:
        """(results per second, seconds) from the first send to the last result."""
        if not self.done:
            return 0.0, 0.0
        seconds = max(self.ends()) - min(self.sent.values())
        return len(self.done) / seconds, seconds

    def steady(self) -> float:
        ends = self.ends()
        if len(ends) < 10:
            return 0.0
        lo, hi = int(0.1 * len(ends)), int(0.9 * len(ends)) - 1
        return (hi - lo) / (ends[hi] - ends[lo]) if ends[hi] > ends[lo] else 0.0

    def latencies_ms(self, outcome: str | None = None) -> list[float]:
        return [
            (t - self.sent[k]) * 1000
            for k, (t, o) in self.done.items()
            if k in self.sent and (outcome is None or o == outcome)
        ]

    def outcomes(self) -> Counter[str]:
        return Counter(o for _, o in self.done.values())


@dataclass(frozen=True)
class Row:
    name: str
    whole: float | None
    steady: float | None
    latencies: list[float]
    note: str
    stretch: Stretch | None = None  # SQL statements and commits, for the rows of a dispatch flow

    def line(self) -> str:
        whole = f"{self.whole:>9,.0f}" if self.whole is not None else f"{'':>9}"
        steady = f"{self.steady:>9,.0f}" if self.steady is not None else f"{'':>9}"
        lat = "".join(f"{percentile(self.latencies, q):>9.1f}" for q in (0.5, 0.99, 1.0)) if self.latencies else ""
        lat = lat or f"{'':>27}"
        sql = (
            f"{self.stretch.statements_per_report:>9.1f}{self.stretch.commits_per_report:>9.2f}"
            if self.stretch is not None
            else f"{'':>18}"
        )
        return f"{self.name:52}{whole}{steady}{lat}{sql}   {self.note}".rstrip()


HEADER = f"{'flow':52}{'whole/s':>9}{'steady/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'SQL/rep':>9}{'commit/r':>9}"


# ------------------------------------------------------------------------------------------ observer


def dispatch_outcome(assignments: str, case_events: str, dead_letter: str) -> Classify:
    """Lead assignments, merges (a duplicate report gets no assignment) and dead letters, by case id."""

    def classify(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str] | None:
        if record.topic == dead_letter:
            return (record.key or b"").decode(), "dead-lettered"
        if record.value is None:
            return None
        if record.topic == assignments:
            data = json.loads(record.value)["data"]
            return (data["case_id"], "assigned") if data["role"] == "lead" else None
        if record.topic == case_events and b'"merge"' in record.value:
            event = json.loads(record.value)
            if event["type"] == EventType.CASE_CHANGED.value and event["data"]["action"] == "merge":
                return event["subject"], "merged"
        return None

    return classify


def relayed(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str] | None:
    return (record.key or b"").decode(), "relayed"


async def flood(producer: AIOKafkaProducer, topic: str, reports: list[Report], observer: Observer, name: str) -> Flow:
    """Send every report as fast as the producer takes them, then wait for every result."""
    flow = Flow(name)
    futures = []
    started = time.perf_counter()
    for i, report in enumerate(reports):
        flow.sent[report.case_id] = time.perf_counter()
        e = report.encoded
        futures.append(await producer.send(topic, e.value, key=e.key, headers=e.headers))
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the observer note results while the flood goes on
    await asyncio.gather(*futures)
    flow.produce_s = time.perf_counter() - started
    complete = await observer.wait_for(flow.sent)
    flow.done = {k: observer.arrived[k] for k in flow.sent if k in observer.arrived}
    if not complete:
        print(f"  {name}: stalled, {len(flow.done):,} of {len(flow.sent):,} results after {STALL_S:.0f}s without one")
    return flow


async def paced(producer: AIOKafkaProducer, topic: str, reports: list[Report], observer: Observer, name: str) -> Flow:
    """One report at a time, each waited for: latency with nothing queued."""
    flow = Flow(name)
    for report in reports:
        flow.sent[report.case_id] = time.perf_counter()
        e = report.encoded
        await producer.send_and_wait(topic, e.value, key=e.key, headers=e.headers)
        if not await observer.wait_for([report.case_id], stall_s=30):
            print(f"  {name}: no result for {report.case_id} within 30s")
            break
        flow.done[report.case_id] = observer.arrived[report.case_id]
    return flow


# ---------------------------------------------------------------------------------- CPU accounting


class CpuMeter:
    """CPU seconds used by groups of processes over an interval, the pids of each group polled twice a second.

    PostgreSQL backends come and go (asyncpg replaces a pooled connection after 50,000 queries), so each
    group's pids are looked up again on every poll; a pid counts from when it was first seen to when it was
    last seen (what a process spends in its last half second before exiting is missed).
    """

    def __init__(self, parts: dict[str, Callable[[], Awaitable[list[int]]]]) -> None:
        self.parts = parts
        self.hz = os.sysconf("SC_CLK_TCK")
        self.first: dict[tuple[str, int], int] = {}
        self.last: dict[tuple[str, int], int] = {}
        self.t0 = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        for name, pids_of in self.parts.items():
            for pid in await pids_of():
                ticks = cpu_ticks(pid)
                if ticks:
                    self.first.setdefault((name, pid), ticks)
                    self.last[(name, pid)] = ticks

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await self._poll()

    async def begin(self) -> None:
        self.first, self.last = {}, {}
        await self._poll()
        self.t0 = time.perf_counter()
        self._task = asyncio.create_task(self._run())

    async def end(self) -> str:
        wall = time.perf_counter() - self.t0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._poll()
        used = dict.fromkeys(self.parts, 0.0)
        for (name, pid), ticks in self.last.items():
            used[name] += (ticks - self.first[(name, pid)]) / self.hz
        shares = ", ".join(f"{name} {seconds / wall:.0%}" for name, seconds in used.items())
        return f"CPU during the flood ({wall:.1f}s wall, share of one core): {shares}"


# -------------------------------------------------------------------------------------- processes


# ---------------------------------------------------------------------------------- infrastructure


@dataclass
class Place(common.Place):
    """The run's databases (the sample district imported) and topic prefix, and a scratch directory."""

    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-dispatch-")))

    async def new_database(self, suffix: str = "", *, registry: bool = True) -> str:
        return await super().new_database(suffix, registry=registry)

    async def clean(self, keep_scratch: bool = False) -> None:
        await super().clean()
        if not keep_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


Counts = dict[str, tuple[int, int, int, int]]


async def table_counts(conn: asyncpg.Connection) -> Counts:
    """table -> (rows now, tuples inserted, updated, deleted) per pg_stat_user_tables; outbox rows sent."""
    out = {}
    for table in TABLES:
        rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
        stat = await conn.fetchrow(
            "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = $1", table
        )
        out[table] = (rows, stat["n_tup_ins"], stat["n_tup_upd"], stat["n_tup_del"])
    sent = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    out["_published"] = (sent, 0, 0, 0)
    return out


async def settled_counts(ledger: Ledger, timeout_s: float = 15) -> Counts:
    """Counts once the statistics have caught up with count(*) (they do at once when the workers have stopped, or
    after `settle`; this checks it)."""

    async def counts(conn: asyncpg.Connection) -> Counts:
        deadline = time.monotonic() + timeout_s
        while True:
            counts = await table_counts(conn)
            caught_up = all(counts[t][0] == counts[t][1] - counts[t][3] for t in TABLES)
            if (caught_up and counts["outbox"][2] >= counts["_published"][0]) or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.5)

    return await ledger.query(counts)


def rows_per_case(before: Counts, after: Counts, n: int) -> str:
    parts = []
    inserted = updated = 0
    for table in TABLES:
        ins = after[table][1] - before[table][1]
        upd = after[table][2] - before[table][2]
        inserted, updated = inserted + ins, updated + upd
        if ins or upd:
            parts.append(f"{table} {ins / n:.2f}" + (f" (+{upd / n:.2f} upd)" if upd else ""))
    return (
        f"database per report (pg_stat_user_tables): {inserted / n:.2f} rows inserted + {updated / n:.2f} updated "
        f"[{'; '.join(parts)}]"
    )


def pids_of(pids: list[int]) -> Callable[[], Awaitable[list[int]]]:
    async def fixed() -> list[int]:
        return pids

    return fixed


async def unpublished_outbox(ledger: Ledger, timeout_s: float = 15) -> int:
    async def left(conn: asyncpg.Connection) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            left: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.2)

    return await ledger.query(left)


# ----------------------------------------------------------------------------------------- relay


async def relay(mode: str, bootstrap: str, source: str, target: str, group: str) -> None:
    """The yardstick: consume from one topic, produce one event per input to another (a separate process)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    settings = KafkaSettings(bootstrap_servers=bootstrap, client_id=f"bench-relay-{mode}")
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=True
    )
    await consumer.start()
    try:
        async with kafka_producer(settings) as producer:
            for _ in range(600):  # the group formed and partitions given to us: then we are ready
                if consumer.assignment():
                    break
                await asyncio.sleep(0.05)
            print("ready", flush=True)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=500)
                records = [r for rs in batch.values() for r in rs]
                if mode == "awaited":
                    for r in records:
                        await producer.send_and_wait(target, r.value, key=r.key, headers=list(r.headers))
                else:
                    futures = [
                        await producer.send(target, r.value, key=r.key, headers=list(r.headers)) for r in records
                    ]
                    await asyncio.gather(*futures)
    finally:
        await consumer.stop()


async def start_relay(place: Place, mode: str, source: str, target: str) -> Child:
    argv = [sys.executable, "-m", "bench.dispatch", "--relay", mode, "--relay-topics", source, target]
    argv += ["--relay-group", f"{place.kafka.topic_prefix}-relay-{mode}", "--bootstrap", place.kafka.bootstrap_servers]
    child = await Child.start(argv, dict(os.environ), PROJECT_ROOT, place.scratch / f"relay-{mode}.log", pipe=True)
    assert child.proc.stdout is not None
    line = await asyncio.wait_for(child.proc.stdout.readline(), 60)
    if line.strip() != b"ready":
        await child.stop()
        raise RuntimeError(f"the {mode} relay did not start: see {place.scratch / f'relay-{mode}.log'}")
    return child


async def relay_flow(
    place: Place, producer: AIOKafkaProducer, mode: str, reports: list[Report], pace: list[Report] | None
) -> tuple[Flow, Flow | None]:
    source, target = f"{place.kafka.topic_prefix}.relay-{mode}-in", f"{place.kafka.topic_prefix}.relay-{mode}-out"
    await ensure_topics(place.kafka, [TopicSpec(t, 6, 3600_000) for t in (source, target)])
    child = await start_relay(place, mode, source, target)
    observer = Observer(place.kafka.bootstrap_servers, [target], relayed)
    try:
        await observer.start()
        slow = await paced(producer, source, pace, observer, f"relay {mode}, paced") if pace else None
        fast = await flood(producer, source, reports, observer, f"relay {mode}")
        return fast, slow
    finally:
        await observer.stop()
        await child.stop()


# ------------------------------------------------------------------------------------------ asyncpg


async def insert_commits(url: str, n: int) -> Flow:
    """N single-row INSERT transactions, one commit each: the shape of one small dispatch write."""
    conn = await asyncpg.connect(url)
    flow = Flow("asyncpg INSERT")
    try:
        await conn.execute("CREATE TABLE bench_inserts (id uuid PRIMARY KEY, body jsonb NOT NULL)")
        for _ in range(n):
            key = uuid.uuid4()
            flow.sent[str(key)] = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_inserts VALUES ($1, $2)", key, '{"k": "v"}')
            flow.done[str(key)] = (time.perf_counter(), "inserted")
        return flow
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_inserts")
        await conn.close()


# ------------------------------------------------------------------------------------ in-process


async def in_process(place: Place, database: str, reports: list[Report], batch: int = 1) -> Flow:
    """The runtime over the reports without faust: one after another as `Runtime.process` (batch 1: every
    call waits for its publish), or `batch` at a time as the worker's batch loop hands them to
    `Runtime.process_batch` (a report is done when its batch is published)."""
    from services.dispatch.runtime import Inbound, Runtime

    runtime = Runtime(place.kafka, DatabaseSettings(url=place.url_of(database)))
    await runtime.start()
    flow = Flow("Runtime.process in-process" if batch == 1 else "Runtime.process_batch in-process")
    try:
        topic = place.topics.reports
        for start in range(0, len(reports), batch):
            chunk = reports[start : start + batch]
            for report in chunk:
                flow.sent[report.case_id] = time.perf_counter()
            if batch == 1:
                await runtime.process(topic, chunk[0].encoded.value, chunk[0].encoded.key, 0, start)
            else:
                messages = [Inbound(topic, r.encoded.value, r.encoded.key, 0, start + i) for i, r in enumerate(chunk)]
                await runtime.process_batch(messages)
                await runtime.published()
            for report in chunk:
                flow.done[report.case_id] = (time.perf_counter(), "processed")
        return flow
    finally:
        await runtime.stop()


# ------------------------------------------------------------------------------------------- py-spy


def summarize_py_spy(raw: Path, seconds: float, rate: int) -> list[str]:
    """Collapsed stacks -> the share of samples by area (leaf frame) and by project function (inclusive)."""
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack_text.split(";")
        total += count
        areas[_area(frames[-1])] += count
        for name in {f.split(" (")[0] + " (" + _short(f) + ")" for f in frames if _project(f)}:
            inclusive[name] += count
    if not total:
        return ["py-spy: no samples"]
    lines = [
        f"py-spy: {total:,} samples in {seconds:.1f}s at {rate}/s, {areas[EPOLL] / total:.0%} of them in epoll "
        "(py-spy --nonblocking takes some waits for work); share of the samples by leaf frame:"
    ]
    lines += [f"  {share / total:6.1%}  {area}" for area, share in areas.most_common(14)]
    lines.append("project functions, share of the samples with the function on the stack (inclusive):")
    lines += [f"  {share / total:6.1%}  {name}" for name, share in inclusive.most_common(18)]
    return lines


def _short(frame: str) -> str:
    inner = frame.rsplit(" (", 1)[-1].rstrip(")")
    for marker in ("site-packages/", f"{PROJECT_ROOT}/", "python3.11/"):
        if marker in inner:
            return inner.split(marker, 1)[1]
    return inner


def _project(frame: str) -> bool:
    path = _short(frame)
    return path.startswith(("services/", "shared/")) and "site-packages" not in frame


AREAS = (
    ("asyncpg", "asyncpg (protocol, records)"),
    ("aiokafka", "aiokafka (producer, consumer, protocol)"),
    ("faust/", "faust (streams, agents, tables)"),
    ("mode/", "mode (faust's service framework)"),
    ("pydantic", "pydantic (event models)"),
    ("shapely", "shapely (locating)"),
    ("chinese_calendar", "chinese_calendar (working days)"),
    ("structlog", "structlog"),
    ("prometheus_client", "prometheus_client"),
    ("shared/domain", "shared.domain (routing, lifecycle, calendar)"),
    ("shared/", "shared (events, kafka, db)"),
    ("services/dispatch", "services.dispatch"),
    ("asyncio", "asyncio (event loop)"),
    ("selectors", "asyncio (event loop)"),
    ("json", "json"),
    ("uuid", "uuid"),
    ("datetime", "datetime / zoneinfo"),
    ("zoneinfo", "datetime / zoneinfo"),
)


EPOLL = "waiting in epoll (for PostgreSQL, Kafka)"
SEND = "socket send (a write per statement or request: loopback TCP)"


def _area(frame: str) -> str:
    if "epoll" in frame or "EpollSelector" in frame:
        return EPOLL
    if "SocketTransport.write" in frame or "'send' of '_socket" in frame:
        return SEND
    path = _short(frame)
    for marker, area in AREAS:
        if marker in path:
            return area
    return f"other: {frame.split(' (')[0]} ({path.rsplit('/', 1)[-1]})"


# ------------------------------------------------------------------------------------------ profile


class StatementTimer(common.StatementTimer):
    """The common timer, statements told apart by their first words."""

    @staticmethod
    def kind(query: str) -> str:
        words = " ".join(query.split())
        if words.upper().startswith(("INSERT INTO", "DELETE FROM")):
            return " ".join(words.split()[:3])
        if words.upper().startswith("UPDATE"):
            return " ".join(words.split()[:4])
        if words.upper().startswith("SELECT"):
            after = words.upper().split(" FROM ", 1)
            if len(after) == 1:  # asyncpg's reset when a connection goes back to the pool, for one
                return words[:60]
            table = after[1].split()[0].lower()
            return f"SELECT ... FROM {table}" + (" FOR UPDATE" if "FOR UPDATE" in words.upper() else "")
        return words[:40]


async def profile(place: Place, n: int) -> None:
    """Where Runtime.process spends its time: phases, statements, then cProfile of a separate pass."""
    import services.dispatch.runtime
    from services.dispatch.runtime import Runtime

    runtime_module: Any = services.dispatch.runtime  # its apply_batch is timed in place

    # the outbox module Runtime.process publishes through, wherever it lives (it moved to shared/ once)
    outbox: Any = getattr(runtime_module, "outbox")  # noqa: B009 - not re-exported, so mypy needs getattr

    for line in await db_statements.overhead(place.url_of("postgres")):
        print(line)
    database = await place.new_database("profile")
    await ensure_topics(place.kafka, place.topics.core_specs())
    runtime = Runtime(place.kafka, DatabaseSettings(url=place.url_of(database)))
    await runtime.start()
    rnd = random.Random(SEED + 7)
    try:
        topic = place.topics.reports

        async def run(reports: list[Report]) -> float:
            started = time.perf_counter()
            for offset, report in enumerate(reports):
                await runtime.process(topic, report.encoded.value, report.encoded.key, 0, offset)
            return time.perf_counter() - started

        await run(make_reports(50, f"{place.kafka.topic_prefix[-8:]}-pw", rnd))  # warm-up

        phases: defaultdict[str, float] = defaultdict(float)
        original_tx, original_publish = runtime_module.apply_batch, outbox.publish

        async def timed_tx(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original_tx(*args)
            finally:
                phases["apply_batch (claim, load, route, commands, writes, commit)"] += time.perf_counter() - started

        async def timed_publish(*args: Any, **kwargs: Any) -> outbox.Published:
            started = time.perf_counter()
            try:
                return await original_publish(*args, **kwargs)
            finally:
                phases["publish from the outbox after commit"] += time.perf_counter() - started

        statements = StatementTimer()
        runtime_module.apply_batch = timed_tx
        outbox.publish = timed_publish
        statements.install()
        try:
            seconds = await run(make_reports(n, f"{place.kafka.topic_prefix[-8:]}-pi", rnd))
        finally:
            statements.remove()
            runtime_module.apply_batch = original_tx
            outbox.publish = original_publish
        per = seconds / n * 1000
        print(f"\nRuntime.process in-process, {n:,} reports one after another: {n / seconds:,.0f}/s, {per:.2f} ms each")
        accounted = 0.0
        for name, total in sorted(phases.items(), key=lambda kv: -kv[1]):
            accounted += total
            print(f"  {total / n * 1000:7.2f} ms  {total / seconds:5.1%}  {name}")
        rest = seconds - accounted
        print(f"  {rest / n * 1000:7.2f} ms  {rest / seconds:5.1%}  decode, logging context, metrics, the loop")
        sql = sum(statements.seconds.values())
        print(
            f"statements: {sum(statements.calls.values()) / n:.1f} per report, {sql / n * 1000:.2f} ms per report "
            f"({sql / seconds:.0%} of the time, waiting on PostgreSQL included):"
        )
        for kind, total in sorted(statements.seconds.items(), key=lambda kv: -kv[1]):
            calls = statements.calls[kind]
            print(f"  {calls / n:5.2f} x {total / calls * 1000:6.3f} ms = {total / n * 1000:6.3f} ms  {kind}")

        profiler = cProfile.Profile()
        reports = make_reports(n, f"{place.kafka.topic_prefix[-8:]}-pc", rnd)
        profiler.enable()
        profiled = await run(reports)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        print(f"\ncProfile, a separate pass of {n:,} reports ({n / profiled:,.0f}/s under the profiler); by area:")
        by_area: defaultdict[str, float] = defaultdict(float)
        for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            by_area[_area(f"{function} ({filename})")] += tottime
        total_time = sum(by_area.values())
        for area, tottime in sorted(by_area.items(), key=lambda kv: -kv[1])[:14]:
            print(f"  {tottime / n * 1000:7.3f} ms  {tottime / total_time:5.1%}  {area}")
        stats.sort_stats("tottime").print_stats(25)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])
    finally:
        await runtime.stop()


# --------------------------------------------------------------------------------------------- main


@dataclass
class Worker:
    """A `griddispatch serve dispatch` process of the run, with its /metrics port and its log."""

    name: str
    child: Child
    port: int
    log: Path

    async def ready(self) -> None:
        await wait_ready(self.child, self.port, self.log, self.name)


async def start_worker(place: Place, kafka: KafkaSettings, url: str, worker_id: int, name: str) -> Worker:
    """Spawn a worker (its readiness is waited for apart, so that several start side by side)."""
    port = free_port()
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "GRIDDISPATCH_DB_URL": url,
        "GRIDDISPATCH_LOG_JSON": "true",
    }
    argv = [sys.executable, "-m", "griddispatch.cli", "serve", "dispatch", "--port", str(port)]
    argv += ["--worker-id", str(worker_id)]
    cwd = place.scratch / name  # faust's data directory lands there: one each
    cwd.mkdir(exist_ok=True)
    log_path = place.scratch / f"{name}.log"
    return Worker(name, await Child.start(argv, env, cwd, log_path), port, log_path)


def flood_topics(topics: Topics, workers: int) -> list[TopicSpec]:
    """The core topics, the reports topic with at least a partition per worker (production's has 6)."""
    return [
        TopicSpec(s.name, max(s.partitions, workers), s.retention_ms) if s.name == topics.reports else s
        for s in topics.core_specs()
    ]


def dispatch_observer(place: Place, topics: Topics) -> Observer:
    return Observer(
        place.kafka.bootstrap_servers,
        [topics.assignments, topics.case_events, topics.dead_letter],
        dispatch_outcome(topics.assignments, topics.case_events, topics.dead_letter),
    )


async def consumed(worker: Worker) -> float:
    """Events the worker has consumed (griddispatch_events_consumed_total, every topic and outcome)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{worker.port}/metrics", timeout=10)).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "griddispatch_events_consumed"
        for s in family.samples
        if s.name.endswith("_total")
    )


def meter_of(workers: list[Worker], ledger: Ledger, broker_pid: int | None, two: bool = False) -> CpuMeter:
    label = "the two dispatch workers" if two else "dispatch worker"
    return CpuMeter(
        {
            label: pids_of([w.child.proc.pid for w in workers]),
            "their PostgreSQL backends" if two else "its PostgreSQL backends": ledger.backends,
            "Kafka": pids_of([broker_pid] if broker_pid else []),
            "this bench": pids_of([os.getpid()]),
        }
    )


@dataclass
class OneWorker:
    fast: Flow
    slow: Flow
    flood: Stretch
    paced: Stretch
    left: int
    rows: str
    cpu: str
    load: str
    notes: list[str]


async def one_worker(
    place: Place,
    worker: Worker,
    ledger: Ledger,
    broker_pid: int | None,
    inputs: tuple[list[Report], list[Report], list[Report]],
    start_next: Callable[[], Awaitable[None]],
    spy: list[Report] | None,
) -> OneWorker:
    """Warm-up, one at a time, the flood; then `start_next` (the two-worker flow's processes) as this one stops."""
    topics = place.topics
    warm, pace, reports = inputs
    notes: list[str] = []
    observer = dispatch_observer(place, topics)
    try:
        await worker.ready()
        await observer.start()
        async with kafka_producer(place.kafka) as producer:
            w = await flood(producer, topics.reports, warm, observer, "warm-up")
            print(f"  warm-up: {w.count} of {len(warm)} reports dispatched in {w.whole()[1]:.1f}s (group formed)")
            await unpublished_outbox(ledger)
            await settle(time.monotonic())
            a = await ledger.mark(await scrape_statements([worker.port]))
            slow = await paced(producer, topics.reports, pace, observer, "dispatch paced")
            await unpublished_outbox(ledger)
            paced_statements = await scrape_statements([worker.port])
            await settle(time.monotonic())
            b = await ledger.mark(await scrape_statements([worker.port]))
            before = await settled_counts(ledger)
            meter = meter_of([worker], ledger, broker_pid)
            await meter.begin()
            fast = await flood(producer, topics.reports, reports, observer, "dispatch worker")
            cpu = await meter.end()
            load_now = load1()
            left = await unpublished_outbox(ledger)
            flood_statements = await scrape_statements([worker.port])
            if spy is not None:  # the worker goes on: its statistics have to reach pg_stat_database first
                await settle(time.monotonic())
                c = await ledger.mark(flood_statements)
                after = await settled_counts(ledger)
                notes += await sample_worker(place, worker.child, producer, observer, spy)
        await start_next()
        await worker.child.stop()
        if spy is None:  # stopped: its backends exited, their statistics flushed
            await ledger.workers_gone()
            c = await ledger.mark(flood_statements)
            after = await settled_counts(ledger)
    finally:
        await observer.stop()
        await worker.child.stop()
    return OneWorker(
        fast=fast,
        slow=slow,
        flood=Stretch.between(b, c, len(reports)),
        paced=Stretch.between(a, Mark(paced_statements, b.commits), len(pace)),
        left=left,
        rows=rows_per_case(before, after, len(reports)),
        cpu=cpu,
        load=load_now,
        notes=notes,
    )


@dataclass
class TwoWorkers:
    fast: Flow
    flood: Stretch
    warm: str
    left: int
    cpu: str
    load: str


async def two_workers(
    place: Place,
    kafka: KafkaSettings,
    workers: list[Worker],
    ledger: Ledger,
    broker_pid: int | None,
    warm: Callable[[], list[Report]],
    reports: list[Report],
) -> TwoWorkers:
    """The same flood through two workers in one consumer group, once both hold partitions of the reports topic."""
    topics = Topics(kafka.topic_prefix)
    observer = dispatch_observer(place, topics)
    try:
        for worker in workers:
            await worker.ready()
        await observer.start()
        async with kafka_producer(kafka) as producer:
            rounds = 0
            while rounds < 5:  # until each holds partitions: the group has rebalanced
                rounds += 1
                w = await flood(producer, topics.reports, warm(), observer, "warm-up, two workers")
                per = [await consumed(worker) for worker in workers]
                if all(per):
                    break
                await asyncio.sleep(2)
            else:
                raise RuntimeError(f"the two workers did not share the reports topic: events consumed {per}")
            note = (
                f"  warm-up, two workers: {rounds} round(s) of {w.count} reports until both consumed "
                f"({', '.join(f'{x:.0f}' for x in per)} events)"
            )
            print(note)
            await unpublished_outbox(ledger)
            await settle(time.monotonic())
            before = await ledger.mark(await scrape_statements([w.port for w in workers]))
            meter = meter_of(workers, ledger, broker_pid, two=True)
            await meter.begin()
            fast = await flood(producer, topics.reports, reports, observer, "two dispatch workers")
            cpu = await meter.end()
            load_now = load1()
            left = await unpublished_outbox(ledger)
            statements = await scrape_statements([w.port for w in workers])
        await asyncio.gather(*(worker.child.stop() for worker in workers))
        await ledger.workers_gone()
        after = await ledger.mark(statements)
    finally:
        await observer.stop()
        await asyncio.gather(*(worker.child.stop() for worker in workers))
    return TwoWorkers(fast, Stretch.between(before, after, len(reports)), note, left, cpu, load_now)


def this_process() -> dict[str, float]:
    return {kind: float(n) for kind, n in sent().items()}


async def dispatch_run(place: Place, n: int, pace_n: int, py_spy: bool) -> None:
    started = time.monotonic()
    topics = place.topics
    rnd = random.Random(SEED)
    tag = place.kafka.topic_prefix[-8:]
    kafka2 = place.kafka.model_copy(update={"topic_prefix": f"{place.kafka.topic_prefix}-2w"})  # cleaned with it
    database = await place.new_database("worker")
    url = place.url_of(database)
    await ensure_topics(place.kafka, flood_topics(topics, 1))
    worker = await start_worker(place, place.kafka, url, 1, "dispatch-worker")
    # while it starts: the reports, the other flows' databases and topics
    warm, pace = make_reports(50, f"{tag}-w", rnd), make_reports(pace_n, f"{tag}-p", rnd)
    reports = make_reports(n, f"{tag}-f", rnd)
    reports2 = make_reports(n, f"{tag}-2", rnd)
    inproc_reports = make_reports(min(n, IN_PROCESS_MAX), f"{tag}-i", rnd)
    batched_reports = make_reports(n, f"{tag}-b", rnd)
    spy = make_reports(n, f"{tag}-s", rnd) if py_spy else None
    warm_rounds = iter(range(100))
    database2, database_in = await asyncio.gather(place.new_database("workers2"), place.new_database("inproc"))
    await ensure_topics(kafka2, flood_topics(Topics(kafka2.topic_prefix), 2))
    broker = Processes(place.local.dir).running(local_kafka.NAME)
    broker_pid = broker.pid if broker else None
    admin = await asyncpg.connect(place.url_of("postgres"))
    pair: list[Worker] = []

    async def start_pair() -> None:
        for worker_id in (1, 2):
            pair.append(
                await start_worker(place, kafka2, place.url_of(database2), worker_id, f"dispatch-{worker_id}-of-2")
            )

    try:
        ledger = Ledger(admin, url, database)
        one = await one_worker(place, worker, ledger, broker_pid, (warm, pace, reports), start_pair, spy)
        ledger2 = Ledger(admin, place.url_of(database2), database2)
        two = await two_workers(
            place,
            kafka2,
            pair,
            ledger2,
            broker_pid,
            lambda: make_reports(60, f"{tag}-v{next(warm_rounds)}", rnd),
            reports2,
        )
        ledger_in = Ledger(admin, place.url_of(database_in), database_in)
        in_before = await ledger_in.mark(this_process())
        inproc = await in_process(place, database_in, inproc_reports)
        await ledger_in.workers_gone()  # the runtime's pool, closed
        in_stretch = Stretch.between(in_before, await ledger_in.mark(this_process()), inproc.count)
        in_before = await ledger_in.mark(this_process())
        in_batches = await in_process(place, database_in, batched_reports, IN_PROCESS_BATCH)
        await ledger_in.workers_gone()
        batched_stretch = Stretch.between(in_before, await ledger_in.mark(this_process()), in_batches.count)
    finally:
        for w in pair:
            await w.child.stop()
        await admin.close()

    rows: list[Row] = []
    notes: list[str] = list(one.notes)
    fast, slow = one.fast, one.slow
    whole, seconds = fast.whole()
    rows.append(
        Row(
            "dispatch worker (faust): report -> lead assignment",
            whole,
            fast.steady(),
            fast.latencies_ms("assigned"),
            f"{fast.count:,} in {seconds:.1f}s, {1000 / whole:.1f} ms per report; load {one.load}",
            one.flood,
        )
    )
    rows.append(Row("  same, one at a time (nothing queued)", None, None, slow.latencies_ms("assigned"), "", one.paced))
    whole2, seconds2 = two.fast.whole()
    cores = os.cpu_count() or 1
    rows.append(
        Row(
            "two dispatch workers, one consumer group",
            whole2,
            two.fast.steady(),
            two.fast.latencies_ms("assigned"),
            f"{two.fast.count:,} in {seconds2:.1f}s, {whole2 / whole:.2f}x one worker; {cores} cores, load {two.load}",
            two.flood,
        )
    )
    notes.append(
        f"outcomes of the {len(reports):,} flooded reports: "
        + ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(fast.outcomes().items()))
        + f"; producer sent them all in {fast.produce_s:.2f}s; outbox rows still unpublished after: {one.left}"
    )
    notes.append(
        "outcomes with two workers: "
        + ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(two.fast.outcomes().items()))
        + f"; outbox rows still unpublished after: {two.left}"
    )
    notes.append(one.rows)
    notes.append(one.cpu)
    notes.append(two.cpu.replace("CPU during the flood", "CPU during the two workers' flood"))

    per_report = inproc.latencies_ms()
    rows.append(
        Row(
            "Runtime.process in-process, serial, no faust",
            inproc.whole()[0],
            inproc.steady(),
            per_report,
            f"{inproc.count:,} in {inproc.whole()[1]:.1f}s, latency = one call; load {load1()}",
            in_stretch,
        )
    )
    rows.append(
        Row(
            f"Runtime.process_batch in-process, {IN_PROCESS_BATCH} a batch",
            in_batches.whole()[0],
            in_batches.steady(),
            in_batches.latencies_ms(),
            f"{in_batches.count:,} in {in_batches.whole()[1]:.1f}s, latency = its batch; load {load1()}",
            batched_stretch,
        )
    )

    relay_rows: list[Row] = []
    relay_rates: list[float] = []
    async with kafka_producer(place.kafka) as producer:
        for mode, label in (("awaited", "send_and_wait per message"), ("batched", "getmany, send all, await all")):
            relay_reports = make_reports(n, f"{tag}-r{mode[0]}", rnd)
            pace_relay = make_reports(pace_n, f"{tag}-q{mode[0]}", rnd) if mode == "awaited" else None
            r_fast, r_slow = await relay_flow(place, producer, mode, relay_reports, pace_relay)
            whole_r, seconds_r = r_fast.whole()
            relay_rates.append(whole_r)
            relay_rows.append(
                Row(
                    f"raw relay, aiokafka, {label}",
                    whole_r,
                    r_fast.steady(),
                    r_fast.latencies_ms(),
                    f"{r_fast.count:,} in {seconds_r:.1f}s; load {load1()}",
                )
            )
            if r_slow is not None:
                relay_rows.append(Row("  same, one at a time (nothing queued)", None, None, r_slow.latencies_ms(), ""))
    rows += relay_rows
    inserts = await insert_commits(url, n)
    rows.append(
        Row(
            "asyncpg single-row INSERT, one commit each",
            inserts.whole()[0],
            None,
            inserts.latencies_ms(),
            f"{inserts.count:,} in {inserts.whole()[1]:.1f}s; load {load1()}",
        )
    )

    print()
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print(row.line())
    awaited, batched = relay_rates
    print(
        f"\nratio dispatch / raw relay: {whole / awaited:.3f} of the awaited relay ({awaited / whole:.1f}x slower), "
        f"{whole / batched:.3f} of the batched relay ({batched / whole:.1f}x slower); "
        f"in-process Runtime.process / worker: {inproc.whole()[0] / whole:.2f}; "
        f"INSERT commits / worker: {inserts.whole()[0] / whole:.1f}"
    )
    steady1, steady2 = fast.steady(), two.fast.steady()
    bound = (
        f"this machine has {cores} cores, which the two workers share with their PostgreSQL backends, the broker and "
        "this bench: the two-worker figure is bound by them"
        if cores <= 2
        else f"this machine has {cores} cores"
    )
    print(
        f"two workers / one: {whole2 / whole:.2f} (whole), {steady2 / steady1 if steady1 else float('nan'):.2f} "
        f"(steady); {bound} (load {two.load} during the flood, {one.load} during one worker's)"
    )
    print(
        f"SQL statements per report: {one.flood.statements_per_report:.1f} (one worker, flooded), "
        f"{one.paced.statements_per_report:.1f} (one at a time), {two.flood.statements_per_report:.1f} (two workers), "
        f"{in_stretch.statements_per_report:.1f} (in-process); flooded, by kind: {one.flood.by_kind()}"
    )
    print(
        f"commits per report: {one.flood.commits_per_report:.2f} (one worker, flooded), "
        f"{one.paced.commits_per_report:.2f} (one at a time), {two.flood.commits_per_report:.2f} (two workers), "
        f"{in_stretch.commits_per_report:.2f} (in-process): pg_stat_database.xact_commit of the flow's database, "
        "read-only transactions too, net of this bench's own; explicit COMMITs among the statements: "
        f"{one.flood.statements.get('commit', 0) / len(reports):.2f} per flooded report"
    )
    for note in notes:
        print(note)
    print(f"bench.dispatch took {time.monotonic() - started:.0f}s")


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


async def sample_worker(
    place: Place, worker: Child, producer: AIOKafkaProducer, observer: Observer, reports: list[Report]
) -> list[str]:
    """py-spy on the worker through one more flood (not the measured one: sampling slows it a little)."""
    exe = py_spy_path()
    if exe is None:
        return ["py-spy: not installed (pip install py-spy), no samples taken"]
    raw, rate = place.scratch / "py-spy.txt", 100
    argv = [exe, "record", "--pid", str(worker.proc.pid), "--rate", str(rate), "--format", "raw", "--function"]
    argv += ["--nonblocking", "--output", str(raw)]
    spy = await Child.start(argv, dict(os.environ), place.scratch, place.scratch / "py-spy.log")
    await asyncio.sleep(1.0)
    started, ticks = time.perf_counter(), cpu_ticks(worker.proc.pid)
    try:
        sampled = await flood(producer, place.topics.reports, reports, observer, "dispatch worker under py-spy")
    finally:
        seconds = time.perf_counter() - started
        cpu = (cpu_ticks(worker.proc.pid) - ticks) / os.sysconf("SC_CLK_TCK") / seconds
        await spy.stop(signal.SIGINT)
    lines = [
        f"py-spy flood ({len(reports):,} more reports): {sampled.whole()[0]:,.0f} reports/s while sampled; "
        f"the worker used {cpu:.0%} of one core (/proc)"
    ]
    if raw.exists():
        lines += summarize_py_spy(raw, seconds, rate)
        shutil.copy(raw, Path(tempfile.gettempdir()) / "bench-dispatch-py-spy.txt")
        lines.append(f"raw stacks kept in {Path(tempfile.gettempdir()) / 'bench-dispatch-py-spy.txt'}")
    else:
        lines.append(f"py-spy wrote nothing: see {place.scratch / 'py-spy.log'}")
    return lines


def describe(local: LocalInfraSettings) -> str:
    return (
        f"{machine(('faust-streaming', 'aiokafka', 'asyncpg'))}\nbroker {local_kafka.bootstrap_of(local)}, PostgreSQL "
        f"127.0.0.1:{local.postgres_port}; sample district (240 micro-grids); one dispatch worker, then two (one group)"
    )


async def main(args: argparse.Namespace) -> int:
    if args.relay:
        await relay(args.relay, args.bootstrap, args.relay_topics[0], args.relay_topics[1], args.relay_group)
        return 0
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # migrations: quiet
    n = 1000 if args.quick else args.reports
    async with infrastructure() as local:
        place = Place(local, "dispatch", client_id="bench")
        prefix = place.kafka.topic_prefix
        failed = True
        try:
            print(describe(local))
            if args.profile:
                await profile(place, args.profile_reports)
            else:
                pace_n = args.paced if args.paced is not None else 50 if args.quick else 200
                print(f"{n:,} reports per flow, flooded; {pace_n} one at a time; topic prefix {prefix}")
                await dispatch_run(place, n, pace_n, args.py_spy)
            failed = False
            print("load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        finally:
            if failed:
                print(f"logs kept in {place.scratch}")
            await place.clean(keep_scratch=failed)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=5000, help="reports per flow")
    parser.add_argument("--quick", action="store_true", help="1,000 reports per flow")
    parser.add_argument("--paced", type=int, help="reports sent one at a time (default 200, --quick 50)")
    parser.add_argument("--py-spy", action="store_true", help="sample the worker with py-spy through one more flood")
    parser.add_argument("--profile", action="store_true", help="only profile Runtime.process in-process")
    parser.add_argument("--profile-reports", type=int, default=1000)
    parser.add_argument("--relay", choices=["awaited", "batched"], help=argparse.SUPPRESS)
    parser.add_argument("--relay-topics", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--relay-group", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", default=local_kafka.bootstrap_of(LocalInfraSettings()), help=argparse.SUPPRESS)
    sys.exit(asyncio.run(main(parser.parse_args())))
