"""Composition root of the notify service: builds the clients once and hands them on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from griddispatch import __version__
from shared.db import create_pool
from shared.health import standard_checks
from shared.logging import get_logger
from shared.metrics import describe_service
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings
from shared.web import health_router, install_problem_handlers

log = get_logger(__name__)


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
) -> FastAPI:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    service = service or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        describe_service("notify", service.worker_id, __version__)
        pool = await create_pool(database)
        app.state.pool = pool
        log.info("started", port=service.notify_port, worker_id=service.worker_id)
        try:
            yield
        finally:
            await pool.close()
            log.info("stopped")

    app = FastAPI(
        title="griddispatch notify",
        version=__version__,
        description="Alerts out: webhooks, live streams, SMS and e-mail gateways.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(health_router(standard_checks(kafka, database)))
    return app
