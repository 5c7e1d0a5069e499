"""Entry point of `griddispatch serve escalation`."""

from __future__ import annotations

import asyncio

from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings
from shared.tracing import configure_tracing
from shared.web import run_http_service


def serve(service: ServiceSettings) -> None:
    configure_logging("escalation")
    configure_tracing("escalation")
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from services.escalation.main import create_app

    run_http_service(create_app(kafka, database, service), service.host, service.escalation_port)
