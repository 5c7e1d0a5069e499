"""The fault scenarios: each under steady load, each ending with the ledger.

Every scenario: load before, the fault, load during, the heal (restart, resume), load after, drain, ledger.
A scenario gets a database and topic prefix of its own and fresh service processes (`processes` of each).

| name | fault |
| --- | --- |
| steady | none: the baseline (and the scale-out check) |
| kill9 | kill -9 every process of a service, load on, restart it; dispatch (amid a flood), escalation, notify, intake |
| broker | the Kafka broker stopped (SIGTERM), load on (intake answers 503, clients retry), started again |
| postgres | PostgreSQL stopped (fast shutdown) and started again |
| pause | one dispatch worker SIGSTOPped past its session timeout (10 s): the other takes its partitions; SIGCONT |
| sever | every service's PostgreSQL backends terminated, the broker killed (-9) meanwhile; each process recovers |
| poison | poison messages (chaos/poison.py) put straight onto dispatch's input topics amid a flood of reports |
| cluster | a three-broker cluster (RF 3, min.insync 2) loses one broker: kill -9, load on, restart (chaos/cluster.py) |

`kill9` and `poison` also read the dead-letter topic: nothing on it but the poison, each poison once (at least
once should a dispatch worker have restarted) with the reason dispatch gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from chaos.harness import Harness, Result, Target, metric
from chaos.infra import PrivateInfra
from chaos.load import LoadSettings
from chaos.poison import DeadLetterCheck, Injector, poison_round
from chaos.supervisor import SERVICE_ORDER, ServiceProcess, Supervisor
from shared.topics import Topics

SERVICE_PORTS = range(18320, 18349)  # 18349: the webhook receiver
SESSION_TIMEOUT_S = 10.0  # BROKER_SESSION_TIMEOUT in Supervisor.env_for


@dataclass(frozen=True)
class ScenarioSettings:
    processes: int = 2  # of each service
    processes_of: dict[str, int] = field(default_factory=dict)  # per-service overrides
    kill9_services: tuple[str, ...] = SERVICE_ORDER  # the services kill9 takes down, in turn
    kill9_all: bool = True  # every process of the service (it is down); False: its first only (failover)
    wait_restarted: bool = True  # the heal waits until restarted processes are ready (False: the drain does)
    before_s: float = 10.0
    during_s: float = 8.0
    after_s: float = 10.0
    load: LoadSettings = field(default_factory=LoadSettings)
    drain_timeout_s: float = 300.0
    flood: int = 200  # reports sent at once (kill9 kills dispatch amid them; poison lands amid them); 0: none
    poison_rounds: int = 3  # of chaos.poison.poison_round (nine messages each), spread over `during_s`


Fault = Callable[[Harness, PrivateInfra | None, Supervisor, ScenarioSettings], Awaitable[None]]


def dispatch_never_restarted(sup: Supervisor) -> bool:
    return all(p.starts == 1 for p in sup.of("dispatch"))


def watch_dead_letters(h: Harness, sup: Supervisor) -> DeadLetterCheck:
    """The dead-letter topic joins the drain's checks: only the poison the returned check's `poisons` lists
    may be on it, each exactly once while no dispatch worker restarted (at least once after a restart)."""
    watch = DeadLetterCheck(
        h.target.bootstrap_servers,
        h.target.db_url,
        Topics(h.target.topic_prefix),
        exactly_once=lambda: dispatch_never_restarted(sup),
    )
    h.add_check(watch)
    return watch


async def consumed(procs: list[ServiceProcess]) -> int:
    """Events the processes have taken off Kafka (griddispatch_events_consumed_total, every outcome)."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(httpx.HTTPError):
            total += await metric(proc.url, "griddispatch_events_consumed")
    return int(total)


async def without_case(conn: asyncpg.Connection, case_ids: set[str]) -> int:
    """Of these accepted reports, how many dispatch has not yet opened (or merged) as a case."""
    if not case_ids:
        return 0
    opened: int = await conn.fetchval(
        "SELECT count(*) FROM cases WHERE case_id = ANY($1)", [uuid.UUID(c) for c in case_ids]
    )
    return len(case_ids) - opened


async def kill_in_flood(
    h: Harness, sup: Supervisor, victims: list[ServiceProcess], s: ScenarioSettings, timeout_s: float = 90.0
) -> dict[str, int]:
    """kill -9 `victims` in the middle of a batch: they are held (SIGSTOP) while intake accepts a flood of
    `s.flood` reports, so a backlog waits for them on Kafka; let go (SIGCONT), they take it in batches, and are
    killed as soon as their consumed counter has moved (a batch is through, the next one is being applied);
    at the latest after `timeout_s`.

    Returns the figures: `in_flight`, the flood's accepted reports still without a case just after the kill
    (on Kafka, or taken by the worker and not committed); `flood_accepted`, the flood's 202s before the kill;
    `consumed_moved`, how far the victims' consumed counter moved from their release to the kill;
    `kill_after_ms`, from the flood's start to the kill (part of the fault's heal time)."""
    conn = await asyncpg.connect(h.target.db_url, timeout=10)
    try:
        before = await consumed(victims)
        for proc in victims:
            sup.pause(proc)
        flood = h.load.burst(s.flood)
        began = time.monotonic()
        give_up_at = began + timeout_s
        while time.monotonic() < give_up_at:
            if flood.done or len(flood.accepted) >= 0.9 * s.flood:
                break
            await asyncio.sleep(0.05)
        for proc in victims:
            sup.resume(proc)
        moved = 0
        while time.monotonic() < give_up_at:
            moved = await consumed(victims) - before
            if moved > 0:
                break
            await asyncio.sleep(0.01)
        at_kill = set(flood.accepted)
        for proc in victims:
            sup.kill(proc)
        kill_after_ms = int((time.monotonic() - began) * 1000)
        in_flight = await without_case(conn, at_kill)
    finally:
        await conn.close()
    return {
        "flood": s.flood,
        "kill_after_ms": kill_after_ms,
        "flood_accepted": len(at_kill),
        "consumed_moved": moved,
        "in_flight": in_flight,
    }


async def kill9(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    watch_dead_letters(h, sup)  # no poison here: nothing may be dead-lettered
    await h.load_for(s.before_s)
    for service in s.kill9_services:
        victims = sup.of(service) if s.kill9_all else sup.of(service)[:1]
        notes: dict[str, int] = {}

        async def kill(victims: list[ServiceProcess] = victims, notes: dict[str, int] = notes) -> None:
            if victims[0].service == "dispatch" and s.flood:
                notes.update(await kill_in_flood(h, sup, victims, s))
                return
            for proc in victims:
                sup.kill(proc)

        async def heal(victims: list[ServiceProcess] = victims) -> None:
            for proc in victims:
                sup.restart(proc)
            if s.wait_restarted:
                await sup.wait_ready(victims)

        name = f"kill -9 {service}" if s.kill9_all else f"kill -9 {victims[0].name}"
        await h.fault(name, kill, heal, s.during_s, notes=notes)
        await h.load_for(s.after_s / 2)
    await h.load_for(s.after_s / 2)


async def broker(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    assert infra is not None, "the broker scenario stops a broker of its own"
    await h.load_for(s.before_s)
    await h.fault("kafka stopped", lambda: asyncio.to_thread(infra.stop_kafka), infra.start_kafka, s.during_s)
    await h.load_for(s.after_s)


async def postgres(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    assert infra is not None, "the postgres scenario restarts a database of its own"
    await h.load_for(s.before_s)
    await h.fault(
        "postgres restarted", lambda: asyncio.to_thread(infra.stop_postgres), infra.start_postgres, s.during_s
    )
    await h.load_for(s.after_s)


async def pause(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    worker = sup.of("dispatch")[0]

    async def stop() -> None:
        sup.pause(worker)

    async def cont() -> None:
        sup.resume(worker)

    await h.load_for(s.before_s)
    await h.fault("dispatch SIGSTOP", stop, cont, max(s.during_s, SESSION_TIMEOUT_S + 5))
    await h.load_for(s.after_s)


async def terminate_backends(db_url: str) -> int:
    """pg_terminate_backend every other backend of the scenario's own database; returns how many."""
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        n: int = await conn.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
    finally:
        await conn.close()
    return n


async def sever(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    """The services' connections cut, not the servers: each process must notice, reconnect (its LISTENs too) and
    be ready again by itself, nothing restarted by hand."""
    assert infra is not None, "the sever scenario kills a broker of its own"
    await h.load_for(s.before_s)

    async def cut() -> None:
        await terminate_backends(h.target.db_url)
        await asyncio.to_thread(infra.stop_kafka, signal.SIGKILL)
        await terminate_backends(h.target.db_url)

    async def heal() -> None:
        await infra.start_kafka()
        await terminate_backends(h.target.db_url)  # once more, as the broker comes back
        await sup.wait_ready(sup.processes)  # /readyz 200 again: dependencies and every background task

    await h.fault("backends terminated, kafka -9", cut, heal, s.during_s)
    await h.load_for(s.after_s)


async def an_accepted_case(h: Harness) -> tuple[str, float, float]:
    """The case number and point of a case opened for an accepted report."""
    conn = await asyncpg.connect(h.target.db_url, timeout=10)
    try:
        row = await conn.fetchrow(
            """SELECT case_number, lon, lat FROM cases WHERE case_id = ANY($1) AND lon IS NOT NULL
               ORDER BY random() LIMIT 1""",
            [uuid.UUID(c) for c in h.load.accepted],
        )
    finally:
        await conn.close()
    if row is None:
        raise RuntimeError("no case opened yet to take a case number from")
    return row["case_number"], row["lon"], row["lat"]


async def poison(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    """Poison (chaos/poison.py) on reports, actions and deadlines amid a flood of reports and the steady load's
    actions: the ledger holds for the valid traffic, each poison is dead-lettered with its reason (or, an
    action on an unknown case, answered with a `rejected` event) and nothing valid is dead-lettered."""
    watch = watch_dead_letters(h, sup)
    injector = Injector(h.target.bootstrap_servers)
    watch.poisons = injector.sent
    topics = Topics(h.target.topic_prefix)
    notes: dict[str, int] = {}
    await h.load_for(s.before_s)

    async def inject() -> None:
        await injector.start()
        try:
            if s.flood:
                h.load.burst(s.flood)
            for _ in range(s.poison_rounds):
                number, lon, lat = await an_accepted_case(h)
                await injector.send(poison_round(topics, number, lon, lat), s.during_s / s.poison_rounds)
        finally:
            await injector.stop()
        notes.update(poison=len(injector.sent), flood=s.flood)

    async def nothing() -> None:
        return None

    await h.fault("poison", inject, nothing, 0.0, notes=notes)
    await h.load_for(s.after_s)


async def steady(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    """No fault: the baseline, and the scale-out check (work shared between processes)."""
    await h.load_for(s.before_s + s.during_s + s.after_s)


SCENARIOS: dict[str, Fault] = {
    "steady": steady,
    "kill9": kill9,
    "broker": broker,
    "postgres": postgres,
    "pause": pause,
    "sever": sever,
    "poison": poison,
}
CLUSTER = "cluster"  # brings three brokers of its own (chaos/cluster.py), so run_all runs it apart
NAMES = (*SCENARIOS, CLUSTER)
FAULTS = ("kill9", "broker", "postgres", "pause", "sever", "poison", CLUSTER)  # what `make chaos` runs by default


async def create_database(admin_url: str, name: str) -> str:
    """A new database beside the one at `admin_url`; returns its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def run_scenario(
    name: str,
    target: Target,
    workdir: Path,
    settings: ScenarioSettings,
    infra: PrivateInfra | None = None,
    ports: range = SERVICE_PORTS,
    env_extra: dict[str, str] | None = None,
    inspect: Callable[[Harness, Supervisor], Awaitable[None]] | None = None,
    fault: Fault | None = None,
) -> Result:
    """Start `settings.processes` of each service against `target`, run the scenario, stop them all.

    `fault` (default `SCENARIOS[name]`) is what happens under load, e.g. a scenario of another module's own;
    `inspect`, when given, runs after the ledger and before the processes stop (to read their /metrics)."""
    fault = fault or SCENARIOS[name]
    env = Supervisor.env_for(target.bootstrap_servers, target.db_url, target.topic_prefix, env_extra)
    supervisor = Supervisor(env, workdir / name, ports)
    harness = Harness(target, supervisor, settings.load)
    try:
        harness.prepare_database()
        for service in SERVICE_ORDER:
            supervisor.start(service, settings.processes_of.get(service, settings.processes))
        await supervisor.wait_ready(supervisor.processes)
        async with harness:
            await fault(harness, infra, supervisor, settings)
            result = await harness.check(name, settings.drain_timeout_s)
            if inspect is not None:
                await inspect(harness, supervisor)
            return result
    finally:
        await asyncio.to_thread(supervisor.stop_all)


async def run_all(names: list[str], workdir: Path, settings: ScenarioSettings) -> list[Result]:
    """The suite on a private broker and database (ports 29392/29393, 25732), one database per scenario."""
    infra = PrivateInfra(workdir / ".local")
    results = []
    try:
        await infra.start()
        for name in names:
            try:
                result = await _run_one(name, workdir, settings, infra)
            except Exception as exc:  # noqa: BLE001 - one scenario that cannot run must not hide the others' results
                print(f"{name}: ERROR, could not run: {exc!r}", flush=True)  # noqa: T201
                continue
            results.append(result)
            print(result.line(), flush=True)  # noqa: T201  # the suite's report, line by line
            for violation in result.violations[:20]:
                print(f"  {violation}", flush=True)  # noqa: T201
    finally:
        await asyncio.to_thread(infra.stop)
    return results


async def _run_one(name: str, workdir: Path, settings: ScenarioSettings, infra: PrivateInfra) -> Result:
    if name == CLUSTER:  # its own three-broker cluster; its database on our private PostgreSQL
        from chaos.cluster import run_cluster

        return await run_cluster(workdir, settings, admin_db_url=infra.db_url)
    prefix = f"chaos-{name}-{uuid.uuid4().hex[:6]}"
    db_url = await create_database(infra.db_url, prefix.replace("-", "_"))
    return await run_scenario(name, Target(infra.bootstrap_servers, db_url, prefix), workdir, settings, infra)
