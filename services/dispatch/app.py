"""Composition root of the dispatch service: the faust application, its agent, timer and web views.

faust delivers the messages and commits offsets; correctness does not rest on it. Every event is applied in
one PostgreSQL transaction that records its id (a redelivery changes nothing) and stages the events to
publish in the outbox (a crash before publishing is made good by the sweeper).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import faust
from faust.web import Request, Response, View
from mode import Service
from prometheus_client import Gauge

from griddispatch import __version__
from services.dispatch.batching import BatchQueue
from services.dispatch.runtime import MAX_BACKOFF_S, Inbound, Prepared, Runtime
from shared.errors import InfrastructureUnavailable
from shared.health import liveness, run_checks, standard_checks, tasks_part
from shared.kafka_lag import LagProbe
from shared.logging import get_logger
from shared.metrics import describe_service, render
from shared.retriable import RETRIABLE_READING
from shared.settings import DatabaseSettings, DispatchSettings, KafkaSettings, ServiceSettings

log = get_logger(__name__)
SWEEP_INTERVAL_S = 5.0
LAG_INTERVAL_S = 15.0
DEADLINE_SCALE = Gauge(
    "griddispatch_deadline_scale",
    "Every deadline's allowance is multiplied by this (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE; 1 but in a demo)",
)


def broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server.strip()]


def announce_deadline_scale(scale: float) -> None:
    """Export the scale, and say loudly when deadlines are not on the real clock."""
    DEADLINE_SCALE.set(scale)
    if scale != 1:
        log.warning(
            "deadline_scale_not_real",
            deadline_scale=scale,
            message=f"DEADLINES SHORTENED: every allowance and warning x{scale:g} (1 hour = {3600 * scale:.1f} s); "
            "for a replayed demo only, never in production (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE)",
        )
    else:
        log.info("deadline_scale", deadline_scale=scale)


async def process_until_done(runtime: Runtime, messages: Sequence[Inbound], prepared: Prepared | None = None) -> None:
    """A batch of messages, retried in place until it is processed: what escapes `runtime.process_batch` (it
    dead-letters what can never be processed) is logged, counted and shown on /readyz as the task
    "dispatch-agent", and the partitions wait; a retry of what was committed changes nothing (the event ids are
    recorded). `prepared` (decoded and routed ahead) serves the first attempt; a retry prepares again."""
    delay = 0.5
    while True:
        done = await runtime.supervisor.run_once(
            "dispatch-agent", functools.partial(_processed, runtime, messages, prepared)
        )
        if done:
            return
        prepared = None
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_S)


async def _processed(runtime: Runtime, messages: Sequence[Inbound], prepared: Prepared | None) -> bool:
    if prepared is None:
        await runtime.process_batch(messages)
    else:
        await runtime.apply_prepared(prepared)
    return True


def faust_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | None:
    """dispatch's own principal for faust's clients (the same GRIDDISPATCH_KAFKA_SASL_* as everywhere)."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    security = kafka.client_security()
    return faust.SASLCredentials(
        username=security["sasl_plain_username"],
        password=security["sasl_plain_password"],
        ssl_context=security.get("ssl_context"),
        mechanism=kafka.sasl_mechanism,
    )


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
    dispatch_settings: DispatchSettings | None = None,
) -> faust.App:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    settings = service or ServiceSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust makes only the last folder of its datadir
    app = faust.App(
        f"{kafka.topic_prefix}-dispatch",  # the consumer group: every dispatch worker of this deployment
        broker=broker_urls(kafka.bootstrap_servers),
        broker_client_id=f"{kafka.client_id}-dispatch-{settings.worker_id}",
        broker_credentials=faust_credentials(kafka),
        producer_acks=-1,
        store="memory://",
        datadir=str(settings.data_dir / "{conf.name}"),  # not "<name>-data" beside the code
        topic_replication_factor=kafka.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",  # reports sent before the first worker started are not skipped
        web_host=settings.host,
        web_port=settings.dispatch_port,
        web_in_thread=False,
        autodiscover=False,
    )
    runtime = Runtime(kafka, database, dispatch=dispatch_settings)
    announce_deadline_scale(runtime.deadline_scale)
    app.runtime = runtime  # type: ignore[attr-defined]  # reachable for tests and the web views
    topics = runtime.topics
    lag = LagProbe(kafka, app.conf.id, [topics.reports, topics.actions, topics.deadlines])

    @app.service
    class RuntimeService(Service):
        async def on_start(self) -> None:
            await runtime.start()
            await lag.start()
            runtime.supervisor.start(
                "batch-loop",
                lambda: batches.run(
                    runtime.prepare_batch,
                    lambda messages, prepared: process_until_done(runtime, messages, prepared),
                    runtime.ready,
                ),
            )
            log.info("dispatch_ready", worker_id=settings.worker_id)

        async def on_stop(self) -> None:
            await runtime.stop()  # clears `ready` first: the lag timer stops measuring
            await lag.stop()

    inputs = app.topic(
        runtime.topics.reports,
        runtime.topics.actions,
        runtime.topics.deadlines,
        value_serializer="raw",
        key_serializer="raw",
    )

    supervisor = runtime.supervisor

    batches = BatchQueue(runtime.batch_max, runtime.batch_wait_ms / 1000)

    @app.agent(inputs)
    async def dispatch(stream: Any) -> None:
        # acked by the batch loop once applied: faust commits no offset past an event not applied yet
        stream.enable_acks = False
        async for event in stream.events():
            await batches.put(stream, event)

    @app.timer(interval=SWEEP_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def sweep_outbox() -> None:
        if runtime.ready.is_set():
            published = await supervisor.run_once("outbox-sweeper", runtime.sweep_outbox)
            if published:
                log.info("outbox_swept", published=published)

    async def refresh_lag() -> None:
        try:
            await lag.refresh()
        except RETRIABLE_READING as exc:
            log.warning("lag_probe_failed", error=repr(exc))

    @app.timer(interval=LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def measure_lag() -> None:
        if runtime.ready.is_set():
            await supervisor.run_once("lag-probe", refresh_lag)

    async def registry_loaded() -> None:
        """Nothing is routed without an active registry: not ready (503 naming it) until one is loaded."""
        if not runtime.ready.is_set():
            raise InfrastructureUnavailable("dispatch is starting: no registry loaded yet")
        runtime.registry.loaded  # noqa: B018 - raises NoActiveRegistry, naming the command that imports one

    checks = standard_checks(kafka, database)
    checks["registry"] = registry_loaded
    describe_service("dispatch", settings.worker_id, __version__)

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            status, body = liveness(supervisor)
            return self.json(body, status=status)

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            started = runtime.ready.is_set()  # before the checks: "started" means they ran on a started runtime
            results = await run_checks(checks)
            tasks_ok, tasks = tasks_part(supervisor)
            ready = all(r.ok for r in results.values()) and started and tasks_ok
            body: dict[str, Any] = {
                "status": "ready" if ready else "not_ready",
                "checks": {k: asdict(v) for k, v in results.items()},
                "tasks": tasks,  # the registry listener, the agent's messages, the timers (shared/supervisor.py)
                "runtime": "started" if started else "starting",
                "deadline_scale": runtime.deadline_scale,  # a replay checks it matches its speed-up
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            payload, content_type = render()
            # aiohttp wants the charset apart from the media type; a header carries both as Prometheus sends it
            return self.bytes(payload, headers={"Content-Type": content_type})

    return app
