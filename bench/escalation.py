"""Escalation at a million open deadlines: the claim plans, the lag of a steady stream, beside a bare claim loop.

    python -m bench.escalation            # 1,000,000 open deadlines, 200 due per second for 30 s (about 3 minutes)
    python -m bench.escalation --quick    # 100,000 open deadlines, 200 due per second for 10 s
    python -m bench.escalation --rate 400 --seconds 60   # another steady stream

Everything runs on the broker and the PostgreSQL cluster of `griddispatch infra up` (started here, and stopped
afterwards, only if it was not running), on loopback:

* A fresh database (CREATE DATABASE, migrated with shared.db.migrate; dropped at the end) and a topic prefix of
  its own (its topics ensured, and deleted at the end).
* The table: a few thousand cases and N open deadlines loaded with COPY, their next_fire_at spread uniformly
  over the next 1 to 8 days (a third at their first warning, a third at their second, a third at the
  deadline itself), then ANALYZE. The worker's claim query and `SELECT min(next_fire_at) ... WHERE status =
  'open'` are shown with EXPLAIN (ANALYZE, BUFFERS), and both are asserted to be index scans on
  deadlines_due: a sequential scan there is the failure issue 6 warns about.
* The stream, with the real clock: a feeder COPYs new deadlines about a second before they are due (so the
  insert trigger's NOTIFY wakes the sleeping workers), R per second at exactly 1/R apart; half fire one
  warning tier, half fire overdue and escalate (their warnings already fired). Real DeadlineWorkers run
  in-process, `await worker.run(stop)` with EscalationSettings() and SystemClock, each with its own pool and
  its own producer from shared.kafka.kafka_producer: first one worker, then two (new deadlines each time).
  A plain aiokafka consumer of the deadlines topic stamps each event's arrival; lag is measured from the
  tier's scheduled time (DeadlineFired.scheduled_at) to the arrival, and to the envelope's `time` (when it
  was fired, i.e. staged in the outbox). Every expected tier is checked: none missing, none fired twice.
  Database time per tick is the griddispatch_escalation_tick_seconds histogram (claim-and-fire transaction);
  tick() is also timed whole (with publishing) by a subclass that only adds a stopwatch.
* Beside it, on the same table in the same run, with everything still open treated as due (a backlog): a
  bare claim loop, the worker's own claim query (LIMIT 500, FOR UPDATE SKIP LOCKED), one UPDATE moving
  next_fire_at far ahead, commit, no events; one loop and two. Then DeadlineWorker.tick() itself draining the
  same backlog (an injected clock 30 days ahead): the worker's catch-up capacity, one worker and two.

The worker logs every firing at INFO as it does in service; the logs go to a file (named at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from prometheus_client import REGISTRY

from bench.common import Place, cpu_ticks, describe_stack, infrastructure, ms, percentile, table, trio
from services.escalation.clock import Clock, SystemClock
from services.escalation.worker import DeadlineWorker
from shared.db import create_pool
from shared.db.statements import sent
from shared.domain.lifecycle import DueKind
from shared.events import decode
from shared.kafka import kafka_producer
from shared.logging import configure_logging
from shared.queries import deadlines
from shared.queries.deadlines import CLAIM, NEXT_FIRE_AT
from shared.settings import DatabaseSettings, EscalationSettings, KafkaSettings, LogSettings

SEED = 20261122
KINDS = tuple(kind.value for kind in DueKind)
PARTIES = ("unit:610199004001", "unit:610199004", "branch:610199", "department:cgj", "department:hbj")
DEADLINE_COLUMNS = [
    "deadline_id", "case_id", "kind", "party", "starts_at", "due_at", "warn_times", "next_fire_at", "fired",
]  # fmt: skip
CASE_COLUMNS = [
    "case_id", "case_number", "state", "source", "title", "location", "urgency", "received_at", "scope_keys",
]  # fmt: skip
TICK_METRIC = "griddispatch_escalation_tick_seconds"
LEAD_S = 1.0  # the feeder inserts each deadline about this long before it is due
FEED_STEP_S = 0.1  # and wakes this often
SETTLE_S = 30.0  # after the last due time, how long to wait for the last events before calling them missing
WARM_UP_S = 2.0  # a short stream before each measured one, not in the figures
HORIZON = timedelta(days=30)  # the backlog phases: everything open is due at now + 30 days
FAR = timedelta(days=365)  # where the bare claim loop moves what it claims

Record = tuple[Any, ...]


# ------------------------------------------------------------------------------------------------ figures


@dataclass(frozen=True)
class Histogram:
    """A snapshot of the tick histogram (cumulative bucket counts, sum, count), to subtract one from another."""

    buckets: tuple[tuple[float, float], ...]
    total: float
    count: float

    @classmethod
    def read(cls) -> Histogram:
        buckets: list[tuple[float, float]] = []
        total = count = 0.0
        for metric in REGISTRY.collect():
            if metric.name != TICK_METRIC:
                continue
            for sample in metric.samples:
                if sample.name == f"{TICK_METRIC}_bucket":
                    buckets.append((float(sample.labels["le"]), sample.value))
                elif sample.name == f"{TICK_METRIC}_sum":
                    total = sample.value
                elif sample.name == f"{TICK_METRIC}_count":
                    count = sample.value
        return cls(tuple(sorted(buckets)), total, count)

    def __sub__(self, before: Histogram) -> Histogram:
        earlier = dict(before.buckets)
        return Histogram(
            tuple((le, n - earlier.get(le, 0.0)) for le, n in self.buckets),
            self.total - before.total,
            self.count - before.count,
        )

    def quantile(self, q: float) -> float:
        """As Prometheus' histogram_quantile: linear inside the bucket the quantile falls in."""
        if not self.count:
            return float("nan")
        rank, lower, below = q * self.count, 0.0, 0.0
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if le == float("inf"):
                    return lower
                inside = cumulative - below
                return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = le, cumulative
        return lower

    def line(self) -> str:
        mean = self.total / self.count if self.count else float("nan")
        return f"{self.count:,.0f} / {ms(mean)} / {ms(self.quantile(0.5))} / {ms(self.quantile(0.99))}"


# ------------------------------------------------------------------------------------------------ places


# ------------------------------------------------------------------------------------------------ the table


async def load(conn: asyncpg.Connection, rows: int, cases: int, now: datetime, rnd: random.Random) -> list[uuid.UUID]:
    """`cases` cases and `rows` open deadlines on them, next_fire_at uniform over now + 1 to 8 days."""
    case_ids = [uuid.UUID(int=rnd.getrandbits(128), version=4) for _ in range(cases)]
    location = json.dumps({"lon": 108.9352, "lat": 34.2721})
    await conn.copy_records_to_table(
        "cases",
        columns=CASE_COLUMNS,
        records=[
            (c, f"GD-BENCH-{i:07d}", "assigned", "hotline", "井盖丢失", location, "normal", now, ["unit:610199004001"])
            for i, c in enumerate(case_ids)
        ],
    )
    chunk = 100_000
    for first in range(0, rows, chunk):
        records: list[Record] = []
        for _ in range(min(chunk, rows - first)):
            fire = now + timedelta(seconds=rnd.uniform(86_400, 8 * 86_400))
            allowed = timedelta(hours=rnd.choice((2, 24, 72, 120)))
            stage = rnd.randrange(3)  # at the first warning (50%), the second (80%), or the deadline itself
            starts = fire - allowed * (0.5, 0.8, 1.0)[stage]
            warn = [starts + allowed * 0.5, starts + allowed * 0.8]
            records.append(
                (
                    uuid.UUID(int=rnd.getrandbits(128), version=4),
                    rnd.choice(case_ids),
                    rnd.choice(KINDS),
                    rnd.choice(PARTIES),
                    starts,
                    starts + allowed,
                    warn,
                    fire,
                    stage,
                )
            )
        await conn.copy_records_to_table("deadlines", columns=DEADLINE_COLUMNS, records=records)
    await conn.execute("ANALYZE cases")
    await conn.execute("ANALYZE deadlines")
    return case_ids


# ------------------------------------------------------------------------------------------------ plans


async def explain(conn: asyncpg.Connection, sql: str, *args: object) -> list[str]:
    return [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)]


def uses_index(plan: list[str]) -> bool:
    """An index scan, index-only scan or bitmap index scan on deadlines_due, and no sequential scan anywhere."""
    text = "\n".join(plan)
    on_index = "using deadlines_due on deadlines" in text or "Bitmap Index Scan on deadlines_due" in text
    return on_index and "Seq Scan" not in text


def summary(plan: list[str]) -> str:
    """The scan node on deadlines_due, the plan's buffers, and the execution time, on one line."""
    node = next((p for p in plan if "deadlines_due" in p and "Scan" in p), "?  (actual time=?)")
    scan = node.strip().lstrip("-> ").split("  (")[0]
    rows = node.split("actual time=")[1].split(")")[0] if "actual time=" in node else "?"
    buffers = next((p.strip() for p in plan if p.strip().startswith("Buffers")), "Buffers: -")
    execution = next((p.strip() for p in plan if p.startswith("Execution Time")), "?")
    return f"{scan} (actual {rows}); {buffers}; {execution}"


async def rolled_back_explain(conn: asyncpg.Connection, sql: str, *args: object) -> list[str]:
    """EXPLAIN ANALYZE of a claim locks rows: do it in a transaction that is rolled back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        return await explain(conn, sql, *args)
    finally:
        await transaction.rollback()


async def show_plans(url: str, now: datetime, batch: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        soon = now + timedelta(days=1, hours=1)
        due = await deadlines.count_due(conn, soon)
        claim = await rolled_back_explain(conn, CLAIM, soon, batch)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) the worker's claim, $1 = now + 25 h ({due:,} due), $2 = {batch}:")
        print("\n".join(f"  {line}" for line in claim))
        smallest = await explain(conn, NEXT_FIRE_AT)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) {NEXT_FIRE_AT}:")
        print("\n".join(f"  {line}" for line in smallest))
        empty = await rolled_back_explain(conn, CLAIM, now, batch)
        backlog = await rolled_back_explain(conn, CLAIM, now + HORIZON, batch)
        # asyncpg keeps the worker's statement prepared: after five runs PostgreSQL may switch to a generic plan.
        await conn.execute(f"PREPARE bench_claim(timestamptz, integer) AS {CLAIM}")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        generic = await rolled_back_explain(conn, f"EXECUTE bench_claim('{now.isoformat()}', {batch})")
        await conn.execute("RESET plan_cache_mode")
        print("\nthe claim in other cases (scan node, buffers, time):")
        for name, plan in (("nothing due, $1 = now", empty), ("all due, $1 = now + 30 d", backlog)):
            print(f"  {name:28} {summary(plan)}")
        print(f"  {'generic plan (cached stmt)':28} {summary(generic)}")
        plans = {"claim": claim, "min()": smallest, "claim, nothing due": empty, "claim, all due": backlog}
        plans["claim, generic plan"] = generic
        bad = [name for name, plan in plans.items() if not uses_index(plan)]
        assert not bad, f"not an index scan on deadlines_due: {bad}"
        print("all five on deadlines_due (index, index-only or bitmap index scan), no sequential scan: asserted")
    finally:
        await conn.close()


async def plans_after(url: str, batch: int) -> None:
    """The same two queries once the stream has churned the head of the index (dead entries, no vacuum)."""
    conn = await asyncpg.connect(url)
    try:
        dead = await conn.fetchval("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'deadlines'")
        claim = await rolled_back_explain(conn, CLAIM, datetime.now(UTC), batch)
        smallest = await explain(conn, NEXT_FIRE_AT)
        assert uses_index(claim) and uses_index(smallest), "a sequential scan after the stream"
        print(f"\nafter the streams ({dead:,} dead tuples in deadlines, no vacuum yet):")
        print(f"  {'claim, $1 = now':28} {summary(claim)}")
        print(f"  {'min(next_fire_at)':28} {summary(smallest)}")
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------------ workers


class TimedWorker(DeadlineWorker):
    """The real worker; only a stopwatch around tick() (its claim, staging, commit and publishing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks: list[tuple[float, int]] = []

    async def tick(self) -> int:
        started = time.perf_counter()
        claimed = await super().tick()
        self.ticks.append((time.perf_counter() - started, claimed))
        return claimed


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@contextlib.asynccontextmanager
async def workers(place: Place, n: int, clock: Clock, settings: EscalationSettings) -> AsyncIterator[list[TimedWorker]]:
    """N workers as N services would be: each its own pool and its own producer."""
    async with contextlib.AsyncExitStack() as stack_:
        made = []
        for _ in range(n):
            pool = await create_pool(DatabaseSettings(url=place.url))
            stack_.push_async_callback(pool.close)
            producer = await stack_.enter_async_context(kafka_producer(place.kafka))
            made.append(TimedWorker(pool, producer, place.topics, clock, settings))
        yield made


class Collector:
    """Every message on the deadlines topic with the wall-clock time it arrived; decoded later, off the clock."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka.bootstrap_servers, group_id=None, auto_offset_reset="earliest"
        )
        self.seen: list[tuple[datetime, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
            arrived = datetime.now(UTC)
            for records in batch.values():
                self.seen.extend((arrived, r.value) for r in records if r.value is not None)


# ------------------------------------------------------------------------------------------------ the stream


@dataclass
class Stream:
    workers: int
    due: int = 0
    expected: int = 0
    messages: int = 0
    distinct: int = 0
    missing: int = 0
    extra: int = 0
    late_inserts: int = 0
    warm_up: int = 0
    to_topic: list[float] = field(default_factory=list)
    to_fired: list[float] = field(default_factory=list)
    by_third: list[list[float]] = field(default_factory=list)
    ticks: list[tuple[float, int]] = field(default_factory=list)
    histogram: Histogram | None = None
    statements: int = 0  # sent by the workers' pools during the measured stream (ticks, sweeps, sleeps' lookups)


def stream_rows(n: int, case_ids: list[uuid.UUID], rnd: random.Random) -> list[tuple[uuid.UUID, uuid.UUID, bool]]:
    """(deadline id, case id, warning?) for each deadline of the stream, in due order."""
    return [(uuid.UUID(int=rnd.getrandbits(128), version=4), rnd.choice(case_ids), i % 2 == 0) for i in range(n)]


def stream_record(deadline_id: uuid.UUID, case_id: uuid.UUID, warning: bool, at: datetime) -> Record:
    if warning:  # its first warning is due at `at`; the deadline is two days away
        starts, due = at - timedelta(days=1), at + timedelta(days=2)
        return (deadline_id, case_id, DueKind.RESOLVE.value, PARTIES[0], starts, due, [at], at, 0)
    warn = [at - timedelta(hours=1), at - timedelta(minutes=24)]  # both warnings fired: due itself at `at`
    return (deadline_id, case_id, DueKind.ACCEPT.value, PARTIES[0], at - timedelta(hours=2), at, warn, at, 2)


async def feed(url: str, rows: list[tuple[uuid.UUID, uuid.UUID, bool]], t0: datetime, rate: float) -> int:
    """COPY each deadline about LEAD_S before it is due; returns how many went in after their due time."""
    conn = await asyncpg.connect(url)
    late = 0
    try:
        dues = [t0 + timedelta(seconds=i / rate) for i in range(len(rows))]
        done = 0
        while done < len(rows):
            now = datetime.now(UTC)
            upto = bisect.bisect_right(dues, now + timedelta(seconds=LEAD_S + FEED_STEP_S))
            if upto > done:
                late += sum(1 for d in dues[done:upto] if d <= now)
                records = [stream_record(*rows[i], dues[i]) for i in range(done, upto)]
                await conn.copy_records_to_table("deadlines", columns=DEADLINE_COLUMNS, records=records)
                done = upto
            await asyncio.sleep(FEED_STEP_S)
    finally:
        await conn.close()
    return late


def expected_tiers(rows: list[tuple[uuid.UUID, uuid.UUID, bool]]) -> set[tuple[str, str]]:
    return {(str(d), t) for d, _, w in rows for t in (("warning",) if w else ("overdue", "escalate"))}


async def feed_and_wait(
    url: str, rows: list[tuple[uuid.UUID, uuid.UUID, bool]], rate: float, collector: Collector
) -> tuple[datetime, datetime, int, int]:
    """Feed the rows at `rate`, then wait for as many messages as tiers are expected: (t0, last due, first, late)."""
    first_message = len(collector.seen)
    t0 = datetime.now(UTC) + timedelta(seconds=LEAD_S + 0.5)
    late = await feed(url, rows, t0, rate)
    last_due = t0 + timedelta(seconds=(len(rows) - 1) / rate)
    wanted = len(expected_tiers(rows))
    settled = last_due + timedelta(seconds=SETTLE_S)  # the rest counts as missing
    while len(collector.seen) - first_message < wanted:
        if datetime.now(UTC) > settled:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything fired twice would arrive now
    return t0, last_due, first_message, late


async def stream(
    place: Place, n_workers: int, rate: float, seconds: float, case_ids: list[uuid.UUID], collector: Collector
) -> Stream:
    rnd = random.Random(SEED + n_workers)
    warm = stream_rows(round(rate * WARM_UP_S), case_ids, rnd)
    rows = stream_rows(round(rate * seconds), case_ids, rnd)
    expected = expected_tiers(rows)
    result = Stream(n_workers, due=len(rows), expected=len(expected))
    stop = asyncio.Event()
    async with workers(place, n_workers, SystemClock(), EscalationSettings()) as running:
        tasks = [asyncio.create_task(w.run(stop)) for w in running]
        try:
            await asyncio.sleep(1.0)  # the workers tick once, find nothing due for a day, and sleep
            # Warm-up, not in the figures: the producers' first metadata requests, the first events built.
            *_, warm_first, _ = await feed_and_wait(place.url, warm, rate, collector)
            result.warm_up = len(collector.seen) - warm_first
            for w in running:
                w.ticks.clear()
            before, statements_before = Histogram.read(), sum(sent().values())
            t0, last_due, first_message, result.late_inserts = await feed_and_wait(place.url, rows, rate, collector)
            result.histogram = Histogram.read() - before
            result.statements = sum(sent().values()) - statements_before
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        result.ticks = [t for w in running for t in w.ticks]

    ours = {str(d) for d, _, _ in rows}
    ids: Counter[str] = Counter()
    tiers: set[tuple[str, str]] = set()
    thirds: list[list[float]] = [[], [], []]
    span = max(last_due - t0, timedelta(seconds=1))
    for arrived, value in collector.seen[first_message:]:
        event = decode(value)
        if event.data.deadline_id not in ours:
            continue
        ids[event.id] += 1
        if ids[event.id] > 1:
            continue
        tiers.add((event.data.deadline_id, event.data.tier))
        scheduled = event.data.scheduled_at
        lag = (arrived - scheduled).total_seconds()
        result.to_topic.append(lag)
        result.to_fired.append((event.time - scheduled).total_seconds())
        thirds[min(2, int(3 * (scheduled - t0) / span))].append(lag)
    result.messages = sum(ids.values())
    result.distinct = len(ids)
    result.missing = len(expected - tiers)
    result.extra = len(tiers - expected)
    result.by_third = thirds
    return result


# ------------------------------------------------------------------------------------------------ capacity


@dataclass
class Capacity:
    loops: int
    claimed: int
    seconds: float
    transactions: list[float]
    events: int = 0
    histogram: Histogram | None = None
    statements: int = 0  # griddispatch_db_statements_total sent by the workers' pools meanwhile
    ticks: int = 0  # tick() calls that claimed something
    cpu_s: float = 0.0  # this process's CPU meanwhile (the workers, their producers; nothing else runs)
    backend_cpu_s: float | None = None  # the run database's PostgreSQL backends meanwhile (None: not readable)

    @property
    def rate(self) -> float:
        return self.claimed / self.seconds


async def backends_cpu(pool: asyncpg.Pool) -> dict[int, int]:
    """CPU ticks of each PostgreSQL backend on this database (from /proc: the server runs on this machine)."""
    pids = await pool.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return {r["pid"]: cpu_ticks(r["pid"]) for r in pids}


def backends_delta(before: dict[int, int], after: dict[int, int]) -> float | None:
    if not any(after.values()):
        return None  # not readable here (another machine, another user)
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / os.sysconf("SC_CLK_TCK")


async def bare_claims(url: str, loops: int, target: int, batch: int) -> Capacity:
    """The worker's claim query, one UPDATE moving what it claimed far ahead, commit; no events."""
    horizon, far = datetime.now(UTC) + HORIZON, datetime.now(UTC) + FAR
    claimed = 0
    times: list[float] = []

    async def loop() -> None:
        nonlocal claimed
        conn = await asyncpg.connect(url)
        try:
            while claimed < target:
                started = time.perf_counter()
                async with conn.transaction():
                    rows = await conn.fetch(CLAIM, horizon, batch)
                    await deadlines.postpone(conn, [r["deadline_id"] for r in rows], far)
                times.append(time.perf_counter() - started)
                claimed += len(rows)
                if not rows:
                    return
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(loops)))
    return Capacity(loops, claimed, time.perf_counter() - started, times)


async def catch_up(place: Place, n_workers: int, target: int) -> Capacity:
    """DeadlineWorker.tick() draining a backlog (its clock 30 days ahead), as after an outage."""
    clock = FixedClock(datetime.now(UTC) + HORIZON)
    async with workers(place, n_workers, clock, EscalationSettings()) as running:
        pool = running[0].pool
        outbox_before = await pool.fetchval("SELECT count(*) FROM outbox")
        before = Histogram.read()
        claimed = 0
        backends_before = await backends_cpu(pool)
        statements_before, cpu_before = sum(sent().values()), time.process_time()

        async def drain(worker: TimedWorker) -> None:
            nonlocal claimed
            while claimed < target:
                got = await worker.tick()
                claimed += got
                if not got:
                    return

        started = time.perf_counter()
        await asyncio.gather(*(drain(w) for w in running))
        seconds = time.perf_counter() - started
        cpu_s, statements = time.process_time() - cpu_before, sum(sent().values()) - statements_before
        backend_cpu_s = backends_delta(backends_before, await backends_cpu(pool))
        events = await pool.fetchval("SELECT count(*) FROM outbox") - outbox_before
        ticks = [t for w in running for t, n in w.ticks if n]
    return Capacity(
        n_workers,
        claimed,
        seconds,
        ticks,
        events,
        Histogram.read() - before,
        statements,
        len(ticks),
        cpu_s,
        backend_cpu_s,
    )


# ------------------------------------------------------------------------------------------------ report


def stream_table(runs: list[Stream], rate: float, seconds: float) -> None:
    def claiming(run: Stream) -> list[tuple[float, int]]:
        return [t for t in run.ticks if t[1]]

    def per_tick(run: Stream) -> str:
        counts = [n for _, n in claiming(run)]
        return f"{sum(counts) / max(1, len(counts)):.2f} / {max(counts, default=0)}"

    rows: list[tuple[str, Sequence[str]]] = [
        ("deadlines due / tiers expected", [f"{r.due:,} / {r.expected:,}" for r in runs]),
        ("events on topic / distinct / missing / extra", [
            f"{r.messages:,} / {r.distinct:,} / {r.missing} / {r.extra}" for r in runs
        ]),
        ("inserted after their due time (feeder late)", [f"{r.late_inserts}" for r in runs]),
        (f"warm-up before it ({WARM_UP_S:.0f} s, not in the figures): events", [f"{r.warm_up:,}" for r in runs]),
        ("lag due -> on topic, ms  p50 / p99 / max", [trio(r.to_topic) for r in runs]),
        ("lag due -> fired (event time), ms  p50 / p99 / max", [trio(r.to_fired) for r in runs]),
        ("lag due -> on topic p99 by third of the run, ms", [
            " / ".join(ms(percentile(t, 0.99)) for t in r.by_third) for r in runs
        ]),
        ("ticks: all / that claimed", [f"{len(r.ticks):,} / {len(claiming(r)):,}" for r in runs]),
        ("rows per claiming tick: mean / max", [per_tick(r) for r in runs]),
        ("worker statements (all, sweeps included) per claiming tick / per tier expected", [
            f"{r.statements / max(1, len(claiming(r))):.1f} / {r.statements / max(1, r.expected):.2f}" for r in runs
        ]),
        ("tick() with publishing, claiming ticks, ms  p50 / p99 / max", [
            trio([t for t, _ in claiming(r)]) for r in runs
        ]),
        ("DB time per tick (histogram, all ticks), count / mean / p50 / p99 ms", [
            r.histogram.line() if r.histogram else "-" for r in runs
        ]),
    ]  # fmt: skip
    table(f"stream: {rate:,.0f} due/s for {seconds:,.0f} s, real clock", [f"{r.workers} worker(s)" for r in runs], rows)


def capacity_table(bare: list[Capacity], worker: list[Capacity], batch: int) -> None:
    def rate(c: Capacity) -> str:
        return f"{c.rate:,.0f}  ({c.claimed:,} in {c.seconds:.1f} s)"

    rows: list[tuple[str, Sequence[str]]] = [
        ("bare claim loop: deadlines claimed / s", [rate(c) for c in bare]),
        ("  ms per claim transaction  p50 / p99 / max", [trio(c.transactions) for c in bare]),
        ("worker tick() catch-up: deadlines / s", [rate(c) for c in worker]),
        ("  events staged and published / s", [f"{c.events / c.seconds:,.0f}  ({c.events:,})" for c in worker]),
        ("  tick() with publishing, ms  p50 / p99 / max", [trio(c.transactions) for c in worker]),
        ("  DB time per tick (histogram), count / mean / p50 / p99 ms", [
            c.histogram.line() if c.histogram else "-" for c in worker
        ]),
        ("  statements per tick (all ticks, each claimed something) / per fired tier", [
            f"{c.statements / max(1, c.ticks):.1f} / {c.statements / max(1, c.events):.3f}" for c in worker
        ]),
        ("  CPU of this process per fired tier, ms (workers and their producers only)", [
            f"{1000 * c.cpu_s / max(1, c.events):.3f}  ({c.cpu_s:.2f} s)" for c in worker
        ]),
        ("  CPU of the database's PostgreSQL backends per fired tier, ms", [
            "-" if c.backend_cpu_s is None
            else f"{1000 * c.backend_cpu_s / max(1, c.events):.3f}  ({c.backend_cpu_s:.2f} s)"
            for c in worker
        ]),
        ("catch-up beside the bare loop: deadlines / s, worker / bare = ratio", [
            f"{w.rate:,.0f} / {b.rate:,.0f} = {w.rate / b.rate:.2f}x" for w, b in zip(worker, bare, strict=True)
        ]),
    ]  # fmt: skip
    columns = [f"{c.loops} loop(s)" for c in bare]
    table(f"capacity on the same table: a backlog, everything open due, LIMIT {batch}", columns, rows)


# ------------------------------------------------------------------------------------------------ main


async def measure(place: Place, args: argparse.Namespace, log_path: Path) -> None:
    settings = EscalationSettings()
    print(
        f"{args.rows:,} open deadlines on {args.cases:,} cases; stream {args.rate:,.0f} due/s for {args.seconds:,.0f} s"
        f" with 1 and 2 workers; batch {settings.batch}, max_sleep_s {settings.max_sleep_s}; run {place.run}"
    )
    await place.create()
    conn = await asyncpg.connect(place.url)
    try:
        started, now = time.perf_counter(), datetime.now(UTC)
        case_ids = await load(conn, args.rows, args.cases, now, random.Random(SEED))
        size = await conn.fetchval(
            "SELECT pg_size_pretty(pg_table_size('deadlines')) || ' table, ' || "
            "pg_size_pretty(pg_relation_size('deadlines_due')) || ' deadlines_due'"
        )
        print(f"loaded with COPY and analysed in {time.perf_counter() - started:.1f} s ({size})")
    finally:
        await conn.close()
    await show_plans(place.url, now, settings.batch)

    runs: list[Stream] = []
    async with Collector(place.kafka, place.topics.deadlines) as collector:
        for n in (1, 2):
            runs.append(await stream(place, n, args.rate, args.seconds, case_ids, collector))
            print(f"stream with {n} worker(s) done")
    stream_table(runs, args.rate, args.seconds)
    await plans_after(place.url, settings.batch)

    bare = [await bare_claims(place.url, n, args.backlog, settings.batch) for n in (1, 2)]
    worker = [await catch_up(place, n, args.catch_up) for n in (1, 2)]
    capacity_table(bare, worker, settings.batch)

    problems = [r for r in runs if r.missing or r.extra or r.messages != r.distinct]
    lines = (await asyncio.to_thread(log_path.read_text, encoding="utf-8", errors="replace")).splitlines()
    retries = sum('"escalation_retrying"' in line for line in lines)
    errors = sum('"level": "error"' in line for line in lines)
    print(
        f"\nfired once each: {'yes' if not problems else 'NO, see the table'}; worker log {log_path}: "
        f"{len(lines):,} lines, {retries} escalation_retrying, {errors} errors"
    )
    print("load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


async def main(args: argparse.Namespace) -> int:
    log_path = Path(tempfile.gettempdir()) / f"bench-escalation-{os.getpid()}.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        with contextlib.redirect_stderr(log_file):  # configure_logging keeps the stderr it finds: this file
            configure_logging("escalation", LogSettings(level="INFO", GRIDDISPATCH_LOG_JSON=True))
        return await run(args, log_path)


async def run(args: argparse.Namespace, log_path: Path) -> int:
    async with infrastructure() as local:
        place = Place(local, "escalation")
        try:
            print(await describe_stack(local, ("aiokafka", "asyncpg")))
            await asyncio.wait_for(measure(place, args, log_path), args.timeout)
        finally:
            await place.clean()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 open deadlines, a 10 s stream")
    parser.add_argument("--rows", type=int, help="open deadlines loaded (default 1,000,000)")
    parser.add_argument("--cases", type=int, default=5000, help="cases they belong to")
    parser.add_argument("--rate", type=float, default=200.0, help="deadlines coming due per second")
    parser.add_argument("--seconds", type=float, help="length of each stream (default 30 s)")
    parser.add_argument("--backlog", type=int, help="deadlines the bare loop claims per figure (default 50,000)")
    parser.add_argument("--catch-up", type=int, help="deadlines the worker catches up per figure (default 10,000)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    parsed = parser.parse_args()
    parsed.rows = parsed.rows or (100_000 if parsed.quick else 1_000_000)
    parsed.seconds = parsed.seconds or (10.0 if parsed.quick else 30.0)
    parsed.backlog = parsed.backlog or (10_000 if parsed.quick else 50_000)
    parsed.catch_up = parsed.catch_up or (5_000 if parsed.quick else 10_000)
    raise SystemExit(asyncio.run(main(parsed)))
