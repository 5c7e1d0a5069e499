"""Intake submissions: POST /v1/reports at fixed offered rates, beside the HTTP and Kafka yardsticks.

    python -m bench.intake            # 50, 100, 200, 400 reports/s, 10 s each; about 2 minutes in all
    python -m bench.intake --quick    # 50 and 200 /s, 3 s each

Needs the local Kafka and PostgreSQL of `griddispatch infra up` (LocalInfraSettings defaults). The bench makes
a database of its own (migrated, the sample district imported, one API client), a topic prefix of its own,
and serves intake exactly as deployed, `griddispatch serve intake` in a subprocess on a free loopback port
(uvicorn, JSON logs at INFO to a file). Then, open loop: requests are launched on schedule, whether or not
earlier ones have returned, from one httpx.AsyncClient with a connection pool; latency counts from the
scheduled moment, so a client that falls behind shows as latency, not as a lower offered rate. Each report is
a distinct hotline report (own source_ref, no Idempotency-Key).

Beside it, in the same run:
* a no-op FastAPI endpoint served the same way (uvicorn subprocess, same client, same bodies): what HTTP
  alone costs here;
* a bare aiokafka produce loop on the same broker: acks=all idempotent, awaited one by one (the shape of one
  202), the same with intake's producer settings (5 s delivery deadline), and N in flight.

CPU seconds of each process group (intake server, Kafka, PostgreSQL, this load generator) are read from
/proc around every intake rate and shown per accepted report: where the time goes. Everything the bench made
(database, topics, server processes) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.common import Place, cpu_model, free_port
from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from griddispatch.infra import stack
from griddispatch.infra.processes import Processes
from services.intake.main import BROKER_DEADLINE_MS
from shared.api_clients import create_client
from shared.events import encode, new_event
from shared.events.types import Location, ReportSubmitted
from shared.kafka import kafka_producer
from shared.queries import submissions
from shared.settings import KafkaSettings, LocalInfraSettings
from shared.topics import TopicSpec

TICK = os.sysconf("SC_CLK_TCK")
TITLES = (
    "路口井盖丢失",
    "楼道里堆满杂物",
    "电动车在楼道里充电",
    "路灯不亮",
    "下水道堵了，污水冒出来",
    "夜间施工噪音太大睡不着",
)


# --- what a client sends ----------------------------------------------------------------------------------


def report_bodies(run: str, count: int) -> list[bytes]:
    """Distinct hotline reports of realistic size (about 600 bytes of JSON, Chinese text)."""
    bodies = []
    for i in range(count):
        report = {
            "source_ref": f"12345-{run}-{i:06d}",
            "title": TITLES[i % len(TITLES)],
            "description": "市民来电反映：北院门与西大街路口附近的问题已经持续好几天了，晚上很危险，希望尽快派人处理。",
            "location": {
                "lon": 108.93 + (i % 97) * 0.0001,
                "lat": 34.27 + (i % 89) * 0.0001,
                "address": "莲湖区北院门街道香米园社区3号楼2单元",
            },
            "urgency": "normal",
            "reporter": {"name": "王先生", "phone": "13812345678"},
            "observed_at": "2026-11-22T08:30:00+08:00",
        }
        bodies.append(json.dumps(report, ensure_ascii=False).encode())
    return bodies


# --- open-loop load -----------------------------------------------------------------------------------------


@dataclass
class Run:
    what: str
    offered: float  # per second; 0 when not rate-driven
    sent: int = 0
    ok: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of the requests that succeeded
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    max_launch_lag: float = 0.0
    cpu_ms_per_ok: dict[str, float] = field(default_factory=dict)

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def offer(
    http: httpx.AsyncClient,
    url: str,
    bodies: Sequence[bytes],
    rate: float,
    seconds: float,
    headers: dict[str, str],
    what: str,
    max_in_flight: int,
    expect: int = 202,
) -> Run:
    """Launch rate * seconds requests, one every 1/rate s, without waiting for answers.

    A request due while `max_in_flight` (the client's connections) are unanswered is not sent and counts as
    an error ("shed"): beyond the server's capacity the backlog would otherwise grow without end, and the
    client's work with it (httpx's pool does work per waiting request), measuring the client, not the server.
    """
    run = Run(what, rate)
    count = min(len(bodies), round(rate * seconds))
    loop = asyncio.get_running_loop()
    requests = [http.build_request("POST", url, content=body, headers=headers) for body in bodies[:count]]
    in_flight = 0

    async def one(request: httpx.Request, due: float) -> None:
        nonlocal in_flight
        try:
            response = await http.send(request)
        except httpx.HTTPError as exc:
            run.errors[type(exc).__name__] += 1
            return
        finally:
            in_flight -= 1
        if response.status_code == expect:
            run.ok += 1
            run.latencies.append(loop.time() - due)
        else:
            run.errors[str(response.status_code)] += 1

    tasks = []
    start = loop.time() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        run.max_launch_lag = max(run.max_launch_lag, loop.time() - due)
        if in_flight >= max_in_flight:
            run.errors["shed"] += 1
            continue
        in_flight += 1
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    run.sent = count
    run.seconds = loop.time() - start
    return run


# --- the servers --------------------------------------------------------------------------------------------


@contextmanager
def served(argv: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Run a server in its own process group; yield its pid once /healthz answers; stop it (and only it)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer on port {port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def noop_app() -> object:
    from fastapi import FastAPI

    app = FastAPI(title="no-op")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/noop", status_code=202)
    async def noop() -> dict[str, bool]:  # the body is sent and received, not parsed
        return {"ok": True}

    return app


def serve_noop(port: int) -> None:
    from shared.web import run_http_service

    run_http_service(noop_app(), "127.0.0.1", port)  # type: ignore[arg-type]


# --- CPU by process group ------------------------------------------------------------------------------------


def _processes() -> Iterator[tuple[int, int, float, str]]:
    """(ppid, pgid, CPU seconds, command line) of every live process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        yield int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / TICK, cmdline


def cpu_seconds(group: int, *, children_matching: str | None = None) -> float:
    """User + system CPU of a process group (the JVM's threads, uvicorn), or of a PostgreSQL postmaster's
    backends whose title names `children_matching` (each backend is a session of its own)."""
    if children_matching is None:
        return sum(cpu for _, pgid, cpu, _ in _processes() if pgid == group)
    return sum(cpu for ppid, _, cpu, cmdline in _processes() if ppid == group and children_matching in cmdline)


def listener(port: int) -> int | None:
    """The process listening on this TCP port (the one the bench really talks to), if any."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):  # a JVM listens on an IPv6 socket, IPv4-mapped
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with suppress(OSError):
            if os.readlink(fd) in inodes:
                return int(fd.parent.parent.name)
    return None


def cpu_now(
    server: int, broker: int | None = None, postmaster: int | None = None, database: str = ""
) -> dict[str, float]:
    """CPU seconds so far of the server, Kafka, our PostgreSQL backends and this load generator."""
    now = {"server": cpu_seconds(server)}
    if broker is not None:
        now["kafka broker"] = cpu_seconds(broker)
    if postmaster is not None:
        now["postgres (ours)"] = cpu_seconds(postmaster, children_matching=database)
    now["load generator"] = time.process_time()
    return now


def per_request(before: dict[str, float], after: dict[str, float], ok: int) -> dict[str, float]:
    return {name: 1000 * (after[name] - before[name]) / max(ok, 1) for name in after}


# --- Kafka yardstick -----------------------------------------------------------------------------------------


def event_payload() -> tuple[bytes, bytes]:
    """One report event as intake produces it (key, value)."""
    now = datetime.now(UTC)
    data = ReportSubmitted(
        case_id=str(uuid.uuid4()),
        case_number="GD-261122-000001",
        source="hotline",
        source_ref="12345-20261122-000001",
        title=TITLES[0],
        description="市民来电反映：北院门与西大街路口附近的问题已经持续好几天了，晚上很危险，希望尽快派人处理。",
        location=Location(lon=108.9352, lat=34.2721, address="莲湖区北院门街道香米园社区3号楼2单元"),
        received_at=now,
        observed_at=now,
        submitted_by=str(uuid.uuid4()),
    )
    encoded = encode(new_event(data, source="/griddispatch/intake", subject=data.case_id))
    return encoded.key, encoded.value


async def kafka_runs(settings: KafkaSettings, topic: str, one_by_one: int, in_flight: int, total: int) -> list[Run]:
    key, value = event_payload()
    runs = []
    for what, options in (
        ("kafka produce, acks=all idempotent, one by one", {}),
        (
            f"kafka produce, as intake ({BROKER_DEADLINE_MS} ms deadline), one by one",
            {"deliver_within_ms": BROKER_DEADLINE_MS},
        ),
    ):
        async with kafka_producer(settings, **options) as producer:
            for _ in range(50):  # warm-up: connections, metadata
                await producer.send_and_wait(topic, value, key=key)
            run = Run(what, 0.0)
            started = time.perf_counter()
            for _ in range(one_by_one):
                at = time.perf_counter()
                await producer.send_and_wait(topic, value, key=key)
                run.latencies.append(time.perf_counter() - at)
            run.seconds = time.perf_counter() - started
            run.sent = run.ok = one_by_one
            runs.append(run)
    async with kafka_producer(settings) as producer:
        run = Run(f"kafka produce, acks=all idempotent, {in_flight} in flight", 0.0)
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with gate:
                at = time.perf_counter()
                await producer.send_and_wait(topic, value, key=str(i).encode())
                run.latencies.append(time.perf_counter() - at)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        run.seconds = time.perf_counter() - started
        run.sent = run.ok = total
        runs.append(run)
    return runs


# --- set-up and clean-up ---------------------------------------------------------------------------------------


@dataclass
class Bench:
    local: LocalInfraSettings
    run_id: str
    db_name: str
    kafka: KafkaSettings
    key: str

    @property
    def db_url(self) -> str:
        return local_postgres.url_of(self.local, self.db_name)


@asynccontextmanager
async def bench_resources(local: LocalInfraSettings) -> AsyncIterator[Bench]:
    place = Place(local, "intake", client_id="bench")
    raw = TopicSpec(f"{place.kafka.topic_prefix}.raw", partitions=6, retention_ms=3600_000)
    try:
        await place.create(registry=True, extra_topics=[raw])
        conn = await asyncpg.connect(place.url)
        try:
            _, key = await create_client(
                conn, name="bench hotline", scopes=["submit"], units=["*"], source="hotline", rate_per_min=10**9
            )
        finally:
            await conn.close()
        yield Bench(local, place.run, place.database, place.kafka, key)
    finally:
        await place.clean()


# --- the run ------------------------------------------------------------------------------------------------------


async def warm_up(http: httpx.AsyncClient, url: str, bodies: Sequence[bytes], headers: dict[str, str]) -> None:
    for body in bodies:
        (await http.post(url, content=body, headers=headers)).raise_for_status()


async def measure(args: argparse.Namespace) -> tuple[list[Run], list[Run], list[Run], tuple[int, int]]:
    local = LocalInfraSettings()
    broker, postmaster = listener(local.kafka_port), listener(local.postgres_port)
    if broker is None or postmaster is None:
        raise SystemExit(
            f"nothing listens on Kafka's port {local.kafka_port} and PostgreSQL's {local.postgres_port}: "
            "start them with `griddispatch infra up`"
        )
    processes = Processes(local.dir)
    ours = {name: rec.pid for name in stack.INFRA if (rec := processes.running(name)) is not None}
    if ours != {local_kafka.NAME: broker, local_postgres.NAME: postmaster}:
        print(f"  note: the processes on those ports ({broker}, {postmaster}) are not the ones {local.dir} records")
    rates: list[float] = args.rates
    per_rate = [round(rate * args.seconds) for rate in rates]
    async with bench_resources(local) as bench:
        bodies = report_bodies(bench.run_id, sum(per_rate) + 2 * args.warm_up)
        json_headers = {"Content-Type": "application/json"}
        intake_headers = {**json_headers, "Authorization": f"Bearer {bench.key}"}
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
            noop_port, intake_port = free_port(), free_port()
            env = {
                **os.environ,
                "GRIDDISPATCH_DB_URL": bench.db_url,
                "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": bench.kafka.bootstrap_servers,
                "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": bench.kafka.topic_prefix,
                "GRIDDISPATCH_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{intake_port}",
                "GRIDDISPATCH_LOG_JSON": "true",
            }
            noop_argv = [sys.executable, "-m", "bench.intake", "--serve-noop", str(noop_port)]
            intake_argv = [sys.executable, "-m", "griddispatch.cli", "serve", "intake", "--port", str(intake_port)]
            noop_runs, intake_runs = [], []
            async with httpx.AsyncClient(limits=limits, timeout=args.timeout) as http:
                with served(noop_argv, env, noop_port, Path(tmp) / "noop.log") as noop_pid:
                    url = f"http://127.0.0.1:{noop_port}/noop"
                    await warm_up(http, url, bodies[: args.warm_up], json_headers)
                    for rate in rates:
                        before = cpu_now(noop_pid)
                        run = await offer(
                            http, url, bodies, rate, args.seconds, json_headers, "no-op", args.connections
                        )
                        run.cpu_ms_per_ok = per_request(before, cpu_now(noop_pid), run.ok)
                        noop_runs.append(run)
                        print(f"  no-op  {rate:>5.0f}/s done", flush=True)
                with served(intake_argv, env, intake_port, Path(tmp) / "intake.log") as pid:
                    url = f"http://127.0.0.1:{intake_port}/v1/reports"
                    await warm_up(http, url, bodies[-args.warm_up :], intake_headers)
                    offset = 0
                    for rate, count in zip(rates, per_rate, strict=True):
                        mine = bodies[offset : offset + count]
                        offset += count

                        before = cpu_now(pid, broker, postmaster, bench.db_name)
                        run = await offer(
                            http, url, mine, rate, args.seconds, intake_headers, "intake", args.connections
                        )
                        after = cpu_now(pid, broker, postmaster, bench.db_name)
                        run.cpu_ms_per_ok = {k: 1000 * (after[k] - before[k]) / max(run.ok, 1) for k in after}
                        intake_runs.append(run)
                        print(f"  intake {rate:>5.0f}/s done", flush=True)
        conn = await asyncpg.connect(bench.db_url)
        try:
            stored = await submissions.count(conn)
        finally:
            await conn.close()
        answered = sum(r.ok for r in intake_runs) + args.warm_up
        # More only when clients gave up (timeouts) on reports the server then accepted all the same.
        assert stored >= answered, f"{stored} submissions stored, but {answered} reports answered 202"
        print("  kafka yardstick ...", flush=True)
        kafka = await kafka_runs(
            bench.kafka, f"{bench.kafka.topic_prefix}.raw", args.one_by_one, args.in_flight, args.in_flight_total
        )
    return noop_runs, intake_runs, kafka, (stored, answered)


# --- the table ------------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f}"


def _errors(run: Run) -> str:
    return ", ".join(f"{k}:{v}" for k, v in sorted(run.errors.items())) or "0"


def print_tables(noop: list[Run], intake: list[Run], kafka: list[Run]) -> None:
    head = f"{'what':54} {'offered/s':>9} {'sent':>6} {'ok':>6} {'achieved/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{head} {'max ms':>8}  errors")
    print("-" * (len(head) + 18))
    for run in [*noop, *intake]:
        name = "no-op FastAPI endpoint, POST" if run.what == "no-op" else "intake POST /v1/reports (202)"
        print(
            f"{name:54} {run.offered:>9.0f} {run.sent:>6} {run.ok:>6} {run.achieved:>10.1f} "
            f"{_ms(run.percentile(0.5))} {_ms(run.percentile(0.99))} {_ms(max(run.latencies, default=0))}  "
            f"{_errors(run)}"
        )
    for run in kafka:
        print(
            f"{run.what:54} {'-':>9} {run.sent:>6} {run.ok:>6} {run.achieved:>10.1f} "
            f"{_ms(run.percentile(0.5))} {_ms(run.percentile(0.99))} {_ms(max(run.latencies))}  0"
        )
    print()
    names = ["server", "kafka broker", "postgres (ours)", "load generator"]
    print(f"{'CPU ms per answered request':30}" + "".join(f"{n:>16}" for n in names) + f"{'total':>10}")
    for run in [*noop, *intake]:
        cells = "".join(f"{run.cpu_ms_per_ok[n]:>16.2f}" if n in run.cpu_ms_per_ok else f"{'-':>16}" for n in names)
        label = f"{'no-op' if run.what == 'no-op' else 'intake'} at {run.offered:.0f}/s"
        print(f"{label:30}{cells}{sum(run.cpu_ms_per_ok.values()):>10.2f}")
    lag = max((r.max_launch_lag for r in [*noop, *intake]), default=0.0)
    print(f"\nlargest launch delay of the load generator: {1000 * lag:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 and 200 /s, 3 s each, smaller Kafka loops")
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200, 400], help="offered rates per s")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate")
    parser.add_argument(
        "--connections", type=int, default=32, help="client connection pool size, and most requests in flight"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--warm-up", type=int, default=50, help="requests sent one by one before measuring")
    parser.add_argument("--one-by-one", type=int, default=2000, help="Kafka sends awaited one by one")
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--in-flight-total", type=int, default=20_000)
    parser.add_argument("--serve-noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop:
        serve_noop(args.serve_noop)
        return
    if args.quick:
        args.rates, args.seconds, args.one_by_one, args.in_flight_total = [50, 200], 3.0, 300, 3000
    load = os.getloadavg()
    print(
        f"intake bench: python {platform.python_version()}, {os.cpu_count()} core(s) {cpu_model()}; "
        f"open loop, {args.seconds:.0f} s per rate, {args.connections} connections; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    noop, intake, kafka, (stored, answered) = asyncio.run(measure(args))
    print(
        f"checked: {stored} submissions in PostgreSQL, {answered} reports answered 202 (warm-up included); "
        f"{stored - answered} accepted after their client had given up\n"
    )
    print_tables(noop, intake, kafka)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
