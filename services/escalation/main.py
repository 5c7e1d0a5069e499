"""Composition root of the escalation service: the deadline worker in the background, health and metrics in front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from griddispatch import __version__
from services.escalation import gauges
from services.escalation.clock import Clock, SystemClock
from services.escalation.worker import DeadlineWorker
from shared.body_text import TextInput
from shared.db import close_pool, create_pool
from shared.health import standard_checks
from shared.kafka import kafka_producer
from shared.logging import get_logger
from shared.metrics import describe_service
from shared.openapi_doc import document_validation_as_problems, operation_ids, servers
from shared.settings import DatabaseSettings, EscalationSettings, KafkaSettings, ServiceSettings, SupervisorSettings
from shared.supervisor import Supervisor
from shared.topics import Topics
from shared.web import document_unreadable_parameters, health_router, install_problem_handlers

log = get_logger(__name__)

DESCRIPTION = """Durable deadlines: warnings before a deadline, overdue and escalation at it, re-alerts at the
top rung. Every deadline lives in PostgreSQL; fired tiers go to the deadlines topic for dispatch and notify."""


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
    escalation: EscalationSettings | None = None,
    clock: Clock | None = None,
    supervision: SupervisorSettings | None = None,
) -> FastAPI:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    service = service or ServiceSettings()
    escalation = escalation or EscalationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        describe_service("escalation", service.worker_id, __version__)
        pool = await create_pool(database)
        supervisor = app.state.supervisor = Supervisor("escalation", supervision)
        stop = supervisor.stopping
        try:
            async with kafka_producer(kafka) as producer:
                worker = DeadlineWorker(pool, producer, Topics(kafka.topic_prefix), clock or SystemClock(), escalation)
                app.state.worker = worker
                supervisor.start("deadline-loop", lambda: worker.run(stop))
                supervisor.start("case-gauges", lambda: gauges.run(pool, stop, escalation.case_gauges_s))
                log.info("started", port=service.escalation_port, worker_id=service.worker_id)
                try:
                    yield
                finally:
                    await supervisor.stop()
        finally:
            await close_pool(pool)
            log.info("stopped")

    app = FastAPI(
        title="griddispatch escalation",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        servers=servers(f"http://{service.host}:{service.escalation_port}", "this escalation"),
        generate_unique_id_function=operation_ids({}),
    )
    document_validation_as_problems(app)
    install_problem_handlers(app)
    document_unreadable_parameters(app)
    app.add_middleware(TextInput)  # a NUL or bytes that are not UTF-8 in the URL: 400 naming it, as everywhere
    app.include_router(health_router(standard_checks(kafka, database), lambda: getattr(app.state, "supervisor", None)))
    return app
