"""Entry point of `griddispatch serve dispatch`: a faust worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.worker import Worker
from pydantic import ValidationError

from shared.errors import ConfigurationError
from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, DispatchSettings, KafkaSettings, ServiceSettings


class DispatchWorker(Worker):
    """faust's worker, logging through structlog's JSON like every other service."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        configure_logging("dispatch")


def dispatch_settings() -> DispatchSettings:
    try:
        return DispatchSettings()
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigurationError(
            f"GRIDDISPATCH_DISPATCH_DEADLINE_SCALE must be a number above 0 and at most 1, not {error['input']!r} "
            f"({error['msg']})"
        ) from None


def serve(service: ServiceSettings) -> None:
    configure_logging("dispatch")
    dispatch = dispatch_settings()
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from services.dispatch.app import create_app

    app = create_app(kafka, database, service, dispatch)
    worker: Any = DispatchWorker(app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
