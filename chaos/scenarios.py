"""The fault scenarios: each under steady load, each ending with the ledger.

Every scenario: load before, the fault, load during, the heal (restart, resume), load after, drain, ledger.
A scenario gets a database and topic prefix of its own and fresh service processes (`processes` of each).

| name | fault |
| --- | --- |
| steady | none: the baseline (and the scale-out check) |
| kill9 | kill -9 every process of one service, load on, restart it; dispatch, escalation, notify, intake in turn |
| broker | the Kafka broker stopped (SIGTERM), load on (intake answers 503, clients retry), started again |
| postgres | PostgreSQL stopped (fast shutdown) and started again |
| pause | one dispatch worker SIGSTOPped past its session timeout (10 s): the other takes its partitions; SIGCONT |
| sever | every service's PostgreSQL backends terminated, the broker killed (-9) meanwhile; each process recovers |
| cluster | a three-broker cluster (RF 3, min.insync 2) loses one broker: kill -9, load on, restart (chaos/cluster.py) |
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from chaos.harness import Harness, Result, Target
from chaos.infra import PrivateInfra
from chaos.load import LoadSettings
from chaos.supervisor import SERVICE_ORDER, ServiceProcess, Supervisor

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


Fault = Callable[[Harness, PrivateInfra | None, Supervisor, ScenarioSettings], Awaitable[None]]


async def kill9(h: Harness, infra: PrivateInfra | None, sup: Supervisor, s: ScenarioSettings) -> None:
    await h.load_for(s.before_s)
    for service in s.kill9_services:
        victims = sup.of(service) if s.kill9_all else sup.of(service)[:1]

        async def kill(victims: list[ServiceProcess] = victims) -> None:
            for proc in victims:
                sup.kill(proc)

        async def heal(victims: list[ServiceProcess] = victims) -> None:
            for proc in victims:
                sup.restart(proc)
            if s.wait_restarted:
                await sup.wait_ready(victims)

        name = f"kill -9 {service}" if s.kill9_all else f"kill -9 {victims[0].name}"
        await h.fault(name, kill, heal, s.during_s)
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
}
CLUSTER = "cluster"  # brings three brokers of its own (chaos/cluster.py), so run_all runs it apart
NAMES = (*SCENARIOS, CLUSTER)
FAULTS = ("kill9", "broker", "postgres", "pause", "sever", CLUSTER)  # what `make chaos` runs by default


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
