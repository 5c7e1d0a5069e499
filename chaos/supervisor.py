"""N processes per service, each `griddispatch serve NAME --port P --worker-id W`: start, kill -9, pause, restart.

Every process runs in a process group of its own, so a signal reaches the whole service and nothing else.
The supervisor only ever signals processes it started itself (by their pid), never by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

Launch = Callable[[str, int, str], Sequence[str]]
SERVICE_ORDER = ("dispatch", "escalation", "notify", "intake")  # consumers first: intake's 202s are worked on


def serve_command(service: str, port: int, worker_id: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "griddispatch.cli",
        "serve",
        service,
        "--port",
        str(port),
        "--worker-id",
        worker_id,
    ]


@dataclass
class ServiceProcess:
    service: str
    worker_id: str
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: int = 0
    paused: bool = False

    @property
    def name(self) -> str:
        return f"{self.service}-{self.worker_id}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Supervisor:
    env: dict[str, str]
    workdir: Path
    ports: Iterable[int]
    launch: Launch = serve_command
    processes: list[ServiceProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._free_ports = list(self.ports)
        self.workdir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def env_for(
        bootstrap_servers: str, db_url: str, topic_prefix: str, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The services' environment: the target, JSON logs, and short timings so faults heal in seconds."""
        return {
            **os.environ,
            "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": topic_prefix,
            "GRIDDISPATCH_DB_URL": db_url,
            "GRIDDISPATCH_LOG_JSON": "true",
            "GRIDDISPATCH_ESCALATION_MAX_SLEEP_S": "2",
            "GRIDDISPATCH_NOTIFY_BACKOFF_BASE_S": "0.5",
            "GRIDDISPATCH_NOTIFY_BACKOFF_MAX_S": "5",
            "GRIDDISPATCH_NOTIFY_MAX_ATTEMPTS": "100",
            # faust reads these itself: a silent dispatch worker leaves its group after 10 s, not 60 s
            "BROKER_SESSION_TIMEOUT": "10",
            "BROKER_HEARTBEAT_INTERVAL": "1",
            **(extra or {}),
        }

    def of(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.service == service]

    def start(self, service: str, count: int = 1) -> list[ServiceProcess]:
        started = []
        for _ in range(count):
            worker_id = str(len(self.of(service)) + 1)
            port = self._free_ports.pop(0)
            proc = ServiceProcess(service, worker_id, port, self.workdir / f"{service}-{worker_id}.log")
            self.processes.append(proc)
            self._spawn(proc)
            started.append(proc)
        return started

    def _spawn(self, proc: ServiceProcess) -> None:
        if proc.log is not None:
            proc.log.close()
        proc.log = open(proc.log_path, "ab")  # noqa: SIM115  # closed when the process is stopped
        cwd = self.workdir / proc.name  # faust keeps a data directory in its working directory
        cwd.mkdir(exist_ok=True)
        proc.popen = subprocess.Popen(
            list(self.launch(proc.service, proc.port, proc.worker_id)),
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=proc.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.starts += 1
        proc.paused = False

    def signal(self, proc: ServiceProcess, sig: signal.Signals) -> None:
        if proc.popen is not None and proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, sig)

    def kill(self, proc: ServiceProcess) -> None:
        """kill -9 the process group, and reap it."""
        self.signal(proc, signal.SIGKILL)
        if proc.popen is not None:
            proc.popen.wait(timeout=30)
        proc.paused = False

    def pause(self, proc: ServiceProcess) -> None:
        self.signal(proc, signal.SIGSTOP)
        proc.paused = True

    def resume(self, proc: ServiceProcess) -> None:
        self.signal(proc, signal.SIGCONT)
        proc.paused = False

    def restart(self, proc: ServiceProcess) -> None:
        if proc.alive:
            self.kill(proc)
        self._spawn(proc)

    async def wait_ready(self, procs: Iterable[ServiceProcess], timeout_s: float = 180.0) -> None:
        """Until each answers 200 on /readyz (broker and database reachable, runtime started)."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=3) as http:
            for proc in procs:
                while True:
                    if not proc.alive:
                        raise RuntimeError(f"{proc.name} exited during start; {proc.log_path}:\n{proc.tail()}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{proc.url}/readyz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        where = f"{proc.url}/readyz; {proc.log_path}"
                        raise RuntimeError(f"{proc.name} not ready at {where}:\n{proc.tail()}")
                    await asyncio.sleep(0.3)

    def stop(self, proc: ServiceProcess, timeout_s: float = 20.0) -> None:
        """SIGTERM (after SIGCONT, should it be paused), then SIGKILL after the timeout."""
        if proc.popen is not None and proc.popen.poll() is None:
            self.signal(proc, signal.SIGCONT)
            self.signal(proc, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
        if proc.log is not None:
            proc.log.close()
            proc.log = None

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)
