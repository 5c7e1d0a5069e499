"""Entry point of `griddispatch serve dispatch`: a faust worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.worker import Worker

from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings


class DispatchWorker(Worker):
    """faust's worker, logging through structlog's JSON like every other service."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        configure_logging("dispatch")


def serve(service: ServiceSettings) -> None:
    configure_logging("dispatch")
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from services.dispatch.app import create_app

    app = create_app(kafka, database, service)
    worker: Any = DispatchWorker(app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
