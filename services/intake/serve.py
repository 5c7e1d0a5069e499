"""Entry point of `griddispatch serve intake`."""

from __future__ import annotations

import asyncio

from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings
from shared.tracing import configure_tracing
from shared.web import run_http_service


def serve(service: ServiceSettings) -> None:
    configure_logging("intake")
    configure_tracing("intake")
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from services.intake.main import create_app

    run_http_service(create_app(kafka, database, service), service.host, service.intake_port)
