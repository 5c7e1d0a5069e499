"""Entry point of `griddispatch serve dispatch`: a faust worker."""

from __future__ import annotations

import asyncio

from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings


def serve(service: ServiceSettings) -> None:
    configure_logging("dispatch")
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from faust.worker import Worker

    from services.dispatch.app import create_app

    app = create_app(kafka, database, service)
    Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False).execute_from_commandline()
