"""What every FastAPI service shares: /healthz, /readyz, /metrics, and errors as RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from http import HTTPStatus

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from shared.errors import Conflict, GridDispatchError, InfrastructureUnavailable, InvalidInput, NotFound
from shared.health import Check, run_checks
from shared.metrics import render

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://griddispatch.dev/problems/"

_STATUS: list[tuple[type[GridDispatchError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (InfrastructureUnavailable, 503),
]


def health_router(checks: Mapping[str, Check]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and PostgreSQL answer")
    async def readyz() -> JSONResponse:
        results = await run_checks(checks)
        ready = all(r.ok for r in results.values())
        body = {"status": "ready" if ready else "not_ready", "checks": {k: asdict(v) for k, v in results.items()}}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        payload, content_type = render()
        return Response(payload, media_type=content_type)

    return router


def problem_response(exc: GridDispatchError, instance: str | None = None) -> JSONResponse:
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
    body = {
        "type": PROBLEM_BASE + exc.code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": exc.message,
        **({"instance": instance} if instance else {}),
        **exc.detail,
    }
    headers = {"Retry-After": "5"} if exc.retriable else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GridDispatchError)
        return problem_response(exc, instance=request.url.path)

    app.add_exception_handler(GridDispatchError, handle)


def run_http_service(app: FastAPI, host: str, port: int) -> None:
    """Serve an ASGI app with uvicorn, leaving logging to structlog's set-up."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
