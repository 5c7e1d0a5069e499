"""A private Kafka broker and PostgreSQL for the fault suite, on ports of its own, in a directory of its own.

The shared broker and database other work relies on are never touched: the faults (broker stopped,
PostgreSQL restarted) happen to these. Built on `griddispatch.infra` (the same runner `infra up` uses).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from griddispatch.infra import kafka, postgres
from griddispatch.infra.processes import Processes
from shared.settings import LocalInfraSettings

KAFKA_PORT = 29392
KAFKA_CONTROLLER_PORT = 29393
POSTGRES_PORT = 25732


@dataclass
class PrivateInfra:
    local_dir: Path
    kafka_port: int = KAFKA_PORT
    kafka_controller_port: int = KAFKA_CONTROLLER_PORT
    postgres_port: int = POSTGRES_PORT

    def __post_init__(self) -> None:
        self.local = LocalInfraSettings(
            dir=self.local_dir,
            cache_dir=LocalInfraSettings().cache_dir,  # the Kafka jars every checkout's runner already fetched
            kafka_port=self.kafka_port,
            kafka_controller_port=self.kafka_controller_port,
            postgres_port=self.postgres_port,
            kafka_heap="-Xms256m -Xmx512m",
        )
        self.processes = Processes(self.local_dir)

    @property
    def bootstrap_servers(self) -> str:
        return kafka.bootstrap_of(self.local)

    @property
    def db_url(self) -> str:
        return postgres.url_of(self.local)

    async def start(self) -> None:
        postgres.start(self.local, self.processes)
        kafka.start(self.local, self.processes)
        await asyncio.gather(
            postgres.wait_ready(self.local, self.processes), kafka.wait_ready(self.local, self.processes)
        )

    def stop_kafka(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.processes.stop(kafka.NAME, sig=sig)

    async def start_kafka(self) -> None:
        kafka.start(self.local, self.processes)
        await kafka.wait_ready(self.local, self.processes)

    def stop_postgres(self) -> None:
        self.processes.stop(postgres.NAME, sig=postgres.STOP_SIGNAL)

    async def start_postgres(self) -> None:
        postgres.start(self.local, self.processes)
        await postgres.wait_ready(self.local, self.processes)

    def stop(self) -> None:
        """Stop both, and remove a database kept outside the directory (as root, under /var/tmp)."""
        self.stop_kafka()
        self.stop_postgres()
        link = self.local_dir / "postgres"
        if link.is_symlink():
            shutil.rmtree(link.resolve().parent, ignore_errors=True)
