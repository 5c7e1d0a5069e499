"""Composition root of the intake service: builds the clients once and hands them to the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from griddispatch import __version__
from services.console.routes import mount_console
from services.field_app.routes import mount_field_app
from services.intake import open311_http
from services.intake.deps import Resources
from services.intake.limits import ContentChecks
from services.intake.operation_ids import OPERATION_IDS
from services.intake.ratelimit import RateLimiter
from services.intake.resident_deps import Residents
from services.intake.routers import (
    assessment,
    attachments,
    cases,
    console_config,
    dashboard,
    desk,
    district_map,
    me,
    oidc,
    open311,
    people_admin,
    queues,
    registry,
    reports,
    residents,
    rosters,
    schemas,
    stats,
    supervision,
)
from services.intake.routers import auth as auth_routes
from services.intake.upload_pruner import supervise_pruning
from services.intake.uploads import UPLOAD_PATHS, Uploads
from services.resident_page.routes import mount_resident_page
from shared.attachments.storage import open_store
from shared.body_limit import BodyLimit
from shared.body_text import TextInput
from shared.db import close_pool, create_pool
from shared.errors import AttachmentTooLarge, StorageUnavailable
from shared.health import standard_checks
from shared.kafka import kafka_producer
from shared.logging import get_logger
from shared.metrics import describe_service
from shared.openapi_doc import document_validation_as_problems, operation_ids, servers
from shared.people.oidc_client import RelyingParty
from shared.people.sessions import signing_key, start_session
from shared.resident_links import link_key
from shared.retention.pruner import supervise_retention
from shared.settings import (
    AttachmentSettings,
    AuthSettings,
    DatabaseSettings,
    IntakeSettings,
    KafkaSettings,
    OidcSettings,
    ResidentSettings,
    RetentionSettings,
    ServiceSettings,
    StorageSettings,
)
from shared.supervisor import Supervisor
from shared.topics import Topics
from shared.tracing import TraceRequests
from shared.web import document_unreadable_parameters, health_router, install_problem_handlers

log = get_logger(__name__)

UPLOAD_OVERHEAD = 64 * 1024  # a photo's multipart framing and form fields, over the file's own limit
BROKER_DEADLINE_MS = 5000  # a report the broker has not acknowledged by then is refused (503), never kept

DESCRIPTION = """
The front door of griddispatch for hotline systems (8890 / 12345), grid-worker apps, cameras and
department systems: reports in, actions in, cases out.

Systems authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key`); keys are issued with
`griddispatch clients create`. People sign in (`POST /v1/auth/sign-in`) and send their access token as
`Authorization: Bearer <token>`. Errors are `application/problem+json` (RFC 9457) with a specific `type`
and the offending `field`.
"""


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
    intake: IntakeSettings | None = None,
    auth: AuthSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    single_sign_on: OidcSettings | None = None,
    retention: RetentionSettings | None = None,
    resident: ResidentSettings | None = None,
    storage: StorageSettings | None = None,
    photos: AttachmentSettings | None = None,
) -> FastAPI:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    service = service or ServiceSettings()
    intake = intake or IntakeSettings()
    auth = auth or AuthSettings()
    now = clock or (lambda: datetime.now(UTC))
    sso = single_sign_on or OidcSettings()
    retention = retention or RetentionSettings()
    resident = resident or ResidentSettings()
    storage = storage or StorageSettings()
    photos = photos or AttachmentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        describe_service("intake", service.worker_id, __version__)
        pool = await create_pool(database)
        # Its background work (the retention of sign-in rows) runs under this, so /readyz and /healthz see it.
        supervisor = app.state.supervisor = Supervisor("intake")
        try:
            # A 202 or a 503 within seconds, and no event after a 503 (shared/kafka.py says why).
            async with (
                kafka_producer(kafka, deliver_within_ms=BROKER_DEADLINE_MS) as producer,
                open_store(storage) as store,
            ):
                public_url = intake.public_url or f"http://{service.host}:{service.intake_port}"
                topics = Topics(kafka.topic_prefix)
                notify_url = intake.console_notify_url or f"http://{service.host}:{service.notify_port}"
                token_key = await signing_key(pool, auth)
                uploads = Uploads(store, photos, intake.district_timezone)
                app.state.resources = Resources(
                    pool, producer, topics, intake, RateLimiter(), public_url, notify_url, auth, token_key, now, uploads
                )
                app.state.residents = Residents.of(resident, await link_key(pool, resident))
                rp = None
                if sso.enabled:
                    rp = RelyingParty(sso, sso.redirect_uri or f"{public_url.rstrip('/')}/v1/auth/oidc/callback")
                    app.state.oidc = oidc.SingleSignOn(rp, sso, start_session, auth)
                app.state.retention = supervise_retention(supervisor, pool, "intake", topics, retention)
                supervise_pruning(supervisor, pool, uploads, retention)
                log.info("started", port=service.intake_port, single_sign_on=sso.issuer)
                try:
                    yield
                finally:
                    await supervisor.stop()
                    if rp is not None:
                        await rp.aclose()
        finally:
            await close_pool(pool)
            log.info("stopped")

    app = FastAPI(
        title="griddispatch intake",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        servers=servers(intake.public_url or f"http://{service.host}:{service.intake_port}", "this intake"),
        generate_unique_id_function=operation_ids(OPERATION_IDS),
    )
    document_validation_as_problems(app)
    install_problem_handlers(app)
    document_unreadable_parameters(app)
    app.add_exception_handler(StarletteHTTPException, open311_http.framework_errors)  # Open311's shape on its paths
    # Outermost first: a wrong type (415) before any of the body is read, then its size (413), then whether
    # it is readable text (400); each refusal in Open311's shape on the Open311 paths.
    app.add_middleware(TextInput, answer=open311_http.answer)
    app.add_middleware(
        BodyLimit,
        max_bytes=intake.max_body_bytes,
        answer=open311_http.answer,
        larger={path: (photos.max_bytes + UPLOAD_OVERHEAD, AttachmentTooLarge) for path in UPLOAD_PATHS},
    )
    app.add_middleware(ContentChecks, answer=open311_http.answer)
    app.add_middleware(TraceRequests)  # outermost: every answer, refusals included, belongs to the caller's trace

    async def storage_check() -> None:  # the photos' store, once the lifespan has opened it
        resources = getattr(app.state, "resources", None)
        if resources is None or resources.uploads is None:
            raise StorageUnavailable("the attachments' store is not open (starting)")
        await resources.uploads.store.check()

    checks = {**standard_checks(kafka, database), "storage": storage_check}
    app.include_router(health_router(checks, lambda: getattr(app.state, "supervisor", None)))
    app.include_router(reports.router)
    app.include_router(attachments.router)
    app.include_router(queues.router)  # before cases: /v1/cases/unstaffed is not a case id
    app.include_router(cases.router)
    app.include_router(supervision.router)
    app.include_router(desk.router)
    app.include_router(dashboard.router)
    app.include_router(rosters.router)
    app.include_router(registry.router)
    app.include_router(open311.router)
    app.include_router(me.router)
    app.include_router(auth_routes.router)
    app.include_router(district_map.router)
    app.include_router(stats.router)
    if sso.enabled:
        app.include_router(oidc.router)
    app.include_router(people_admin.router)
    app.include_router(assessment.router)
    app.include_router(console_config.router)
    app.include_router(schemas.router)  # the events' data schemas (dataschema)
    app.include_router(residents.router)
    mount_console(app)  # the console's pages (services/console/), after every API route
    mount_resident_page(app)  # the residents' look-up and rating page (services/resident_page/)
    mount_field_app(app)  # the field app (services/field_app/) at /app/, after every API route
    return app
