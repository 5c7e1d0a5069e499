"""Composition root of the notify service: the fan-out consumer, the delivery worker, the live streams, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from griddispatch import __version__
from services.notify.channels.base import Channel
from services.notify.channels.sms_http import HttpSmsGateway
from services.notify.channels.smtp import SmtpChannel
from services.notify.channels.webhook import WebhookChannel
from services.notify.consumer import consume
from services.notify.cors import StreamCors
from services.notify.fanout import FanOut
from services.notify.operation_ids import OPERATION_IDS
from services.notify.rating_links import RatingLinks
from services.notify.routers import streams, subscriptions
from services.notify.streams import StreamHub
from services.notify.worker import DeliveryWorker
from shared.body_limit import BodyLimit
from shared.body_text import TextInput
from shared.db import close_pool, create_pool
from shared.domain.calendar import NO_LOCAL_DAYS, parse_local_days
from shared.errors import ConfigurationError
from shared.health import standard_checks
from shared.logging import get_logger
from shared.metrics import describe_service
from shared.openapi_doc import document_validation_as_problems, operation_ids, servers
from shared.people.duty import PeopleSnapshot
from shared.people.sessions import signing_key
from shared.resident_links import link_key, page_url
from shared.retention.pruner import supervise_retention
from shared.settings import (
    AuthSettings,
    DatabaseSettings,
    DistrictSettings,
    IntakeSettings,
    KafkaSettings,
    NotifySettings,
    ResidentSettings,
    RetentionSettings,
    ServiceSettings,
    SupervisorSettings,
)
from shared.supervisor import Supervisor
from shared.topics import Topics
from shared.web import document_unreadable_parameters, health_router, install_problem_handlers

log = get_logger(__name__)

DESCRIPTION = """Alerts out: signed webhooks with retries and a dead-letter list, a live stream per unit
(Server-Sent Events, resumable), SMS and e-mail through pluggable gateways. Every attempt is recorded."""


def channels_of(settings: NotifySettings, http: httpx.AsyncClient) -> dict[str, Channel]:
    """The channels this deployment delivers on: webhooks always, SMS and e-mail when configured."""
    channels: dict[str, Channel] = {"webhook": WebhookChannel(http, settings.webhook_timeout_s)}
    if settings.sms_gateway_url:
        channels["sms"] = HttpSmsGateway(http, settings.sms_gateway_url, settings.sms_gateway_key or "")
    if settings.smtp_host:
        channels["email"] = SmtpChannel(settings.smtp_host, settings.smtp_port, settings.smtp_sender)
    return channels


def district_calendar(district: DistrictSettings) -> PeopleSnapshot:
    """The district's time zone and working-day calendar, which rosters follow (as in dispatch)."""
    local = NO_LOCAL_DAYS
    if district.local_days_file is not None:
        try:
            text = district.local_days_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read GRIDDISPATCH_DISTRICT_LOCAL_DAYS_FILE {district.local_days_file}: {exc}"
            ) from exc
        local = parse_local_days(text, str(district.local_days_file))
    return PeopleSnapshot(calendar=local, tz=district.timezone)


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
    notify: NotifySettings | None = None,
    supervision: SupervisorSettings | None = None,
    auth: AuthSettings | None = None,
    district: DistrictSettings | None = None,
    retention: RetentionSettings | None = None,
    resident: ResidentSettings | None = None,
    intake: IntakeSettings | None = None,
) -> FastAPI:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    service = service or ServiceSettings()
    notify = notify or NotifySettings()
    auth = auth or AuthSettings()
    calendar = district_calendar(district or DistrictSettings())
    retention = retention or RetentionSettings()
    resident = resident or ResidentSettings()
    intake = intake or IntakeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        describe_service("notify", service.worker_id, __version__)
        pool = await create_pool(database)
        app.state.pool = pool
        app.state.auth = auth
        app.state.token_key = await signing_key(pool, auth)  # people's access tokens, as intake signs them
        hub = StreamHub(pool)
        supervisor = app.state.supervisor = Supervisor("notify", supervision)
        stop = supervisor.stopping
        async with httpx.AsyncClient(follow_redirects=False) as http:
            try:
                await hub.start(supervisor)
                app.state.stream_hub = hub
                channels = channels_of(notify, http)
                intake_url = intake.public_url or f"http://{service.host}:{service.intake_port}"
                links = RatingLinks(
                    await link_key(pool, resident), resident, page_url(resident, intake_url), lambda: datetime.now(UTC)
                )
                worker = DeliveryWorker(pool, channels, notify, links=links)
                app.state.worker = worker
                fanout = FanOut(notify, set(channels), calendar)
                supervisor.start("fan-out", lambda: consume(kafka, pool, fanout, stop, on_delivery=worker.wake.set))
                supervisor.start("delivery-worker", lambda: worker.run(stop))
                app.state.retention = supervise_retention(
                    supervisor, pool, "notify", Topics(kafka.topic_prefix), retention
                )
                log.info("started", port=service.notify_port, channels=sorted(channels))
                try:
                    yield
                finally:
                    hub.close_streams()  # open SSE responses end now, so the server can stop
                    await supervisor.stop()
            finally:
                await supervisor.stop()  # done already, unless the start failed half-way
                await hub.stop()
                await close_pool(pool)
                log.info("stopped")

    app = FastAPI(
        title="griddispatch notify",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        servers=servers(f"http://{service.host}:{service.notify_port}", "this notify"),
        generate_unique_id_function=operation_ids(OPERATION_IDS),
    )
    document_validation_as_problems(app)
    install_problem_handlers(app)
    document_unreadable_parameters(app)
    app.add_middleware(TextInput)  # within the size limit: readable text, JSON not too deep (400)
    app.add_middleware(BodyLimit, max_bytes=notify.max_body_bytes)
    app.add_middleware(StreamCors, origins=notify.console_origin_list)
    app.include_router(health_router(standard_checks(kafka, database), lambda: getattr(app.state, "supervisor", None)))
    app.include_router(subscriptions.router)
    app.include_router(streams.router)
    return app
