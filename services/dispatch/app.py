"""Composition root of the dispatch service: the faust application, its web views and (later) agents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import faust
from faust.web import Request, Response, View

from griddispatch import __version__
from shared.health import run_checks, standard_checks
from shared.metrics import describe_service, render
from shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings


def broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server.strip()]


def create_app(
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    service: ServiceSettings | None = None,
) -> faust.App:
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    service = service or ServiceSettings()
    app = faust.App(
        f"{kafka.topic_prefix}-dispatch",
        broker=broker_urls(kafka.bootstrap_servers),
        broker_client_id=f"{kafka.client_id}-dispatch-{service.worker_id}",
        producer_acks=-1,
        store="memory://",
        topic_replication_factor=kafka.replication_factor,
        topic_allow_declare=True,
        web_host=service.host,
        web_port=service.dispatch_port,
        web_in_thread=False,
        autodiscover=False,
    )
    checks = standard_checks(kafka, database)
    describe_service("dispatch", service.worker_id, __version__)

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            results = await run_checks(checks)
            ready = all(r.ok for r in results.values())
            body: dict[str, Any] = {
                "status": "ready" if ready else "not_ready",
                "checks": {k: asdict(v) for k, v in results.items()},
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            payload, content_type = render()
            # aiohttp wants the charset apart from the media type; a header carries both as Prometheus sends it
            return self.bytes(payload, headers={"Content-Type": content_type})

    return app
