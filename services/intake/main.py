"""Composition root of the intake service: builds the clients once and hands them to the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from griddispatch import __version__
from shared.db import create_pool
from shared.health import standard_checks
from shared.kafka import kafka_producer
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
        describe_service("intake", service.worker_id, __version__)
        pool = await create_pool(database)
        try:
            async with kafka_producer(kafka) as producer:
                app.state.pool = pool
                app.state.producer = producer
                log.info("started", port=service.intake_port)
                yield
        finally:
            await pool.close()
            log.info("stopped")

    app = FastAPI(
        title="griddispatch intake",
        version=__version__,
        description="Reports in (hotline, grid-worker apps, cameras, Open311), actions in, case reads out.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(health_router(standard_checks(kafka, database)))
    return app
