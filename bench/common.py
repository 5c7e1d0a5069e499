"""What every benchmark needs around its measurement: the local infrastructure, a run's own database and topic
prefix, processes of its own, a Kafka observer, /proc readings and figure formatting.

Nothing here measures anything; each bench/<name>.py says what it measures and prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from griddispatch.infra import stack
from griddispatch.infra.processes import Processes
from shared.db import migrate
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, KafkaSettings, LocalInfraSettings
from shared.topics import Topics, TopicSpec

SAMPLE = PROJECT_ROOT / "data" / "sample-district"

# ------------------------------------------------------------------------------------------------ figures


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile (q from 0 to 1) of values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:,.1f}"  # NaN: nothing measured


def trio(values: Sequence[float]) -> str:
    """p50 / p99 / max of durations in seconds, in milliseconds."""
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.99))} / {ms(max(values, default=float('nan')))}"


def table(title: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Print a table: a first column of names (headed by the title), then right-aligned value columns."""
    width = max(len(title), *(len(name) for name, _ in rows))
    cells = [len(c) for c in columns]
    for _, values in rows:
        cells = [max(w, len(v)) for w, v in zip(cells, values, strict=True)]
    print(f"\n{title:{width}}" + "".join(f"   {c:>{w}}" for c, w in zip(columns, cells, strict=True)))
    print("-" * (width + sum(w + 3 for w in cells)))
    for name, values in rows:
        print(f"{name:{width}}" + "".join(f"   {v:>{w}}" for v, w in zip(values, cells, strict=True)))


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def load1() -> str:
    """The 1-minute load average: this machine is shared, and the figures move with it."""
    return f"{os.getloadavg()[0]:.1f}"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what the platform module knows)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine(packages: Sequence[str]) -> str:
    """Python and the packages' versions, the CPU, and the load average now: the first line of a bench's output."""
    versions = ", ".join(f"{p} {version(p)}" for p in packages)
    return (
        f"python {platform.python_version()}, {versions}; CPU {cpu_model()}, {os.cpu_count()} core(s); "
        f"load average {load_average()}"
    )


async def describe_stack(local: LocalInfraSettings, packages: Sequence[str]) -> str:
    """Two lines: the machine (with the packages' versions), and the broker and database server measured."""
    return (
        f"{machine(packages)}\n"
        f"broker {local_kafka.bootstrap_of(local)}, PostgreSQL {await server_version(local)} at "
        f"127.0.0.1:{local.postgres_port}"
    )


async def server_version(local: LocalInfraSettings) -> str:
    """The version of the PostgreSQL server the local infrastructure runs."""
    conn = await asyncpg.connect(local_postgres.url_of(local))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------------ /proc


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (every thread), in clock ticks; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def children(parent: int) -> list[int]:
    """The pids of a process's live children."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry))
    return found


def backend_ticks(postmaster: int, database: str) -> int:
    """CPU ticks of the PostgreSQL backends serving `database` (by their process title): a run's, not other
    work's. A backend that has exited no longer counts."""
    total = 0
    for child in children(postmaster):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
        except OSError:
            continue
        if f" {database} " in title:
            total += cpu_ticks(child)
    return total


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/<pid>/status: resident now, and its peak."""
    found = {"VmRSS": 0, "VmHWM": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


# ------------------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Child:
    """A process of ours in its own session (its output to a log file), stopped by its process group."""

    def __init__(self, proc: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path, pipe: bool = False) -> Child:
        log = log_path.open("wb")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE if pipe else log,
            stderr=log,
            start_new_session=True,
        )
        return cls(proc, log)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        self.log.close()


async def wait_ready(child: Child, port: int, log_path: Path, name: str, timeout_s: float = 120) -> None:
    """Until the child's /readyz answers 200 on port; a clear error naming its log if it exits or never does."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if child.proc.returncode is not None:
                raise RuntimeError(f"the {name} exited ({child.proc.returncode}): see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError(f"the {name} was not ready after {timeout_s:.0f}s: see {log_path}")


# ------------------------------------------------------------------------------------------------ places


@contextlib.asynccontextmanager
async def infrastructure(*, stop_started: bool = True) -> AsyncIterator[LocalInfraSettings]:
    """This checkout's broker and database (`griddispatch infra up`), started here if they were not running
    (and stopped at the end when stop_started). Their ports are read from the pid records under .local/run, so
    that a stack started before the default ports changed is still the one measured, not another checkout's."""
    local = LocalInfraSettings()
    processes = Processes(local.dir)
    started_here = [n for n in stack.INFRA if processes.running(n) is None]
    try:
        if started_here:
            then = "stopped again at the end" if stop_started else "left running: `griddispatch infra down` stops it"
            print(f"starting {', '.join(started_here)} ({then})")
            await stack.infra_up(local)
        ports = {}
        for name, setting in ((local_postgres.NAME, "postgres_port"), (local_kafka.NAME, "kafka_port")):
            record = processes.running(name)
            port = urlsplit(record.url).port if record is not None else None
            if port is not None and port != getattr(local, setting):
                print(
                    f"{name}: this checkout's runs on port {port} (.local/run), not {getattr(local, setting)}: "
                    f"using {port}"
                )
                ports[setting] = port
        yield local.model_copy(update=ports)
    finally:
        if stop_started and local_kafka.NAME in started_here:
            processes.stop(local_kafka.NAME)
        if stop_started and local_postgres.NAME in started_here:
            processes.stop(local_postgres.NAME, sig=local_postgres.STOP_SIGNAL)


@dataclass
class Place:
    """Where one run lives: databases of its own (bench_<name>_<run>[_suffix]) and a topic prefix of its own
    (bench-<name>-<run>), all removed by clean()."""

    local: LocalInfraSettings
    name: str
    client_id: str = ""
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    databases: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        """The run's first database's name (create() makes it)."""
        return f"bench_{self.name}_{self.run}"

    @property
    def url(self) -> str:
        return self.url_of(self.database)

    def url_of(self, database: str) -> str:
        return local_postgres.url_of(self.local, database)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=local_kafka.bootstrap_of(self.local),
            topic_prefix=f"bench-{self.name}-{self.run}",
            client_id=self.client_id or f"bench-{self.name}",
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka.topic_prefix)

    async def create(self, *, registry: bool = False, extra_topics: Sequence[TopicSpec] = ()) -> None:
        """The run's database (migrated; with the sample district imported when `registry`) and its topics."""
        await self.new_database(registry=registry)
        await self.ensure_topics(extra_topics)

    async def ensure_topics(self, extra: Sequence[TopicSpec] = ()) -> None:
        from shared.kafka import ensure_topics

        await ensure_topics(self.kafka, [*self.topics.core_specs(), *extra])

    async def new_database(self, suffix: str = "", *, registry: bool = False) -> str:
        """A new migrated database of this run (named with suffix), the sample district imported if asked."""
        name = f"{self.database}_{suffix}" if suffix else self.database
        conn = await asyncpg.connect(self.url_of("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        conn = await asyncpg.connect(self.url_of(name))
        try:
            await migrate(conn)
            if registry:
                await import_directory(conn, SAMPLE, imported_by=f"bench.{self.name}")
        finally:
            await conn.close()
        return name

    async def clean(self) -> None:
        """Drop the run's databases and delete its topics; never raises (it must not hide the real error)."""
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(self.url_of("postgres"))
            try:
                for name in self.databases:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):
            admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers, client_id="bench-admin")
            await admin.start()
            try:
                ours = [t for t in await admin.list_topics() if t.startswith(self.kafka.topic_prefix)]
                if ours:
                    await admin.delete_topics(ours)
            finally:
                await admin.close()


# ------------------------------------------------------------------------------------------------ observing


Classify = Callable[[ConsumerRecord[bytes, bytes]], tuple[str, str] | None]


def lead_assignment(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str] | None:
    """A CaseAssigned event whose role is lead, by case id."""
    if record.value is None:
        return None
    data = json.loads(record.value)["data"]
    return (data["case_id"], "assigned") if data["role"] == "lead" else None


class Observer:
    """A plain aiokafka consumer (no group) that notes when each key's first result arrives, by `clock`."""

    def __init__(
        self, bootstrap: str, topics: list[str], classify: Classify, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            client_id="bench-observer",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        self.classify = classify
        self.clock = clock
        self.arrived: dict[str, tuple[float, str]] = {}
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        deadline = time.monotonic() + 30
        while not self.consumer.assignment():
            if time.monotonic() > deadline:
                raise RuntimeError("the observer got no partitions")
            await asyncio.sleep(0.05)
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)  # offsets resolved now, not when the first result is due
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            now = self.clock()
            for records in batch.values():
                for record in records:
                    found = self.classify(record)
                    if found is not None and found[0] not in self.arrived:
                        self.arrived[found[0]] = (now, found[1])
            if batch:
                self.changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def wait_for(self, keys: Iterable[str], stall_s: float = 60.0) -> bool:
        """True when every key has a result; False when none has come for `stall_s` seconds."""
        missing = {k for k in keys if k not in self.arrived}
        last = time.monotonic()
        while missing:
            if self._task is not None and self._task.done():
                self._task.result()  # the consumer died: say why
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)
            before = len(missing)
            missing = {k for k in missing if k not in self.arrived}
            if len(missing) < before:
                last = time.monotonic()
            elif time.monotonic() - last > stall_s:
                return False
        return True


# ------------------------------------------------------------------------------------------------ statements


class StatementTimer:
    """Counts and times every statement asyncpg sends (Connection methods wrapped), by kind(query), between
    install() and remove(). A bench says what a kind is by overriding kind()."""

    METHODS = ("execute", "fetch", "fetchval", "fetchrow", "executemany")

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._saved: dict[str, Any] = {}

    @staticmethod
    def kind(query: str) -> str:
        return " ".join(query.split())[:40]

    def install(self) -> None:
        for method in self.METHODS:
            original = getattr(asyncpg.connection.Connection, method)
            self._saved[method] = original
            setattr(asyncpg.connection.Connection, method, self._wrap(original))

    def remove(self) -> None:
        for method, original in self._saved.items():
            setattr(asyncpg.connection.Connection, method, original)
        self._saved.clear()

    def _wrap(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        timer = self

        async def timed(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(conn, query, *args, **kwargs)
            finally:
                kind = timer.kind(query)
                timer.calls[kind] += 1
                timer.seconds[kind] += time.perf_counter() - started

        return timed
