"""The local stack as a whole: infrastructure (Kafka, PostgreSQL) and the four services, by pid file."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass

from griddispatch.infra import kafka, postgres
from griddispatch.infra.processes import Processes
from griddispatch.infra.readiness import read_readiness
from shared.errors import ConfigurationError, InfrastructureUnavailable
from shared.settings import SERVICE_NAMES, LocalInfraSettings, ServiceSettings

INFRA = (postgres.NAME, kafka.NAME)


@dataclass(frozen=True, slots=True)
class PartStatus:
    name: str
    kind: str  # infrastructure or service
    state: str  # running or stopped
    pid: int | None
    url: str | None
    log: str | None
    ready: str | None = None  # a running service's /readyz in words: "ready", "not ready: no registry", ...


async def infra_up(local: LocalInfraSettings) -> dict[str, str]:
    """Start PostgreSQL and Kafka (whichever is not running) and wait until both really answer."""
    processes = Processes(local.dir)
    pg = postgres.start(local, processes)
    broker = kafka.start(local, processes)
    await asyncio.gather(postgres.wait_ready(local, processes), kafka.wait_ready(local, processes))
    return {"postgres": pg.url, "kafka": broker.url}


def infra_down(local: LocalInfraSettings) -> list[str]:
    """Stop what `infra_up` started, services first; returns the names stopped."""
    processes = Processes(local.dir)
    stopped = services_down(local)
    if processes.stop(kafka.NAME):
        stopped.append(kafka.NAME)
    if processes.stop(postgres.NAME, sig=postgres.STOP_SIGNAL):
        stopped.append(postgres.NAME)
    return stopped


def service_env(local: LocalInfraSettings) -> dict[str, str]:
    """The environment services started by `up` get: pointed at the local infrastructure."""
    env = dict(os.environ)
    env.setdefault("GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_of(local))
    env.setdefault("GRIDDISPATCH_DB_URL", postgres.url_of(local))
    env.setdefault("GRIDDISPATCH_LOG_JSON", "true")
    return env


def services_up(local: LocalInfraSettings, services: ServiceSettings, timeout_s: float = 180.0) -> dict[str, str]:
    """Start each service not already running as `griddispatch serve NAME`, and wait until it is ready."""
    processes = Processes(local.dir)
    env = service_env(local)
    urls: dict[str, str] = {}
    for name in SERVICE_NAMES:
        url = f"http://{services.host}:{services.port_of(name)}"
        if processes.running(name) is None:
            argv = [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(services.port_of(name))]
            processes.start(name, argv, marker=f"serve {name}", url=url, env=env)
        urls[name] = url
    deadline = time.monotonic() + timeout_s
    for service, url in urls.items():
        _wait_healthy(processes, service, url, deadline)
    return urls


def _wait_healthy(processes: Processes, name: str, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if processes.exited_early(name):
            raise InfrastructureUnavailable(f"service {name} exited during start:\n{processes.tail(name)}")
        # ready, not just alive: dispatch, for one, answers /healthz before its runtime has started; a dispatch
        # waiting only for a registry is up (`up` says how to import one), or `make demo` could never import it
        readiness = read_readiness(url, timeout_s=5)
        if readiness.ready or readiness.waits_for_registry_only:
            return
        time.sleep(0.3)
    raise InfrastructureUnavailable(f"service {name} did not become ready at {url}/readyz:\n{processes.tail(name)}")


def services_down(local: LocalInfraSettings) -> list[str]:
    processes = Processes(local.dir)
    return [name for name in reversed(SERVICE_NAMES) if processes.stop(name, timeout_s=30)]


def status(local: LocalInfraSettings) -> list[PartStatus]:
    processes = Processes(local.dir)
    parts: list[PartStatus] = []
    for name, kind in [*((n, "infrastructure") for n in INFRA), *((n, "service") for n in SERVICE_NAMES)]:
        rec = processes.running(name)
        parts.append(
            PartStatus(
                name=name,
                kind=kind,
                state="running" if rec else "stopped",
                pid=rec.pid if rec else None,
                url=rec.url if rec else None,
                log=str(processes.log_file(name)),
                ready=read_readiness(rec.url).text if rec and rec.url and kind == "service" else None,
            )
        )
    return parts


def require_infra_running(local: LocalInfraSettings) -> None:
    processes = Processes(local.dir)
    down = [n for n in INFRA if processes.running(n) is None]
    if down:
        raise ConfigurationError(f"not running: {', '.join(down)}; start them with `griddispatch infra up`")
