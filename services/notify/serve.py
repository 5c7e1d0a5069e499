"""Entry point of `griddispatch serve notify`."""

from __future__ import annotations

import asyncio

from shared.logging import configure_logging
from shared.runtime import prepare
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings
from shared.tracing import configure_tracing
from shared.web import run_http_service


def serve(service: ServiceSettings) -> None:
    configure_logging("notify")
    configure_tracing("notify")
    kafka, database = KafkaSettings(), DatabaseSettings()
    asyncio.run(prepare(kafka, database))
    from services.notify.main import create_app

    app = create_app(kafka, database, service)

    def end_streams() -> None:
        hub = getattr(app.state, "stream_hub", None)
        if hub is not None:
            hub.close_streams()

    run_http_service(app, service.host, service.notify_port, on_exit=end_streams)
