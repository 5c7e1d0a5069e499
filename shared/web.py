"""What every FastAPI service shares: /healthz, /readyz, /metrics, and errors as RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from http import HTTPStatus
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    Conflict,
    Forbidden,
    Gone,
    GridDispatchError,
    InfrastructureUnavailable,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    UnreadableBody,
    UnreadableParameter,
    UnsupportedMediaType,
)
from shared.health import Check, liveness, run_checks, tasks_part
from shared.logging import get_logger
from shared.metrics import render
from shared.retriable import BROKER_ERRORS, DATABASE_ERRORS, as_unavailable
from shared.supervisor import Supervisor

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://griddispatch.dev/problems/"

# First match wins: specific classes before their bases.
_STATUS: list[tuple[type[GridDispatchError], int]] = [
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (UnreadableBody, 400),
    (UnreadableParameter, 400),
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (InfrastructureUnavailable, 503),
]


class Problem(BaseModel):
    """An error as `application/problem+json` (RFC 9457): `type` names it, `field` the offending input."""

    model_config = ConfigDict(extra="allow")  # and what the problem adds: errors, retry_after, allowed, ...

    type: str = Field(examples=["https://griddispatch.dev/problems/invalid_input"])
    title: str = Field(examples=["Unprocessable Entity"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["title: String should have at least 1 character"])
    instance: str | None = Field(None, examples=["/v1/reports"])
    field: str | None = Field(None, examples=["title"])


_PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}


def problem_responses(
    descriptions: Mapping[int, str], *statuses: int, **described: str
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for errors, each `application/problem+json` (what the handlers below send), with the
    description from `descriptions` or from `described` by status (`_409="..."`)."""
    content = {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}
    return {
        status: {
            "description": described.get(f"_{status}", descriptions[status]),
            "content": content,
            **({"headers": _PROBLEM_HEADERS[status]} if status in _PROBLEM_HEADERS else {}),
        }
        for status in statuses
    }


UNREADABLE_PARAMETER = "`unreadable_parameter`: a NUL or %-encoded bytes that are not UTF-8 in the path or a query"


def document_unreadable_parameters(app: FastAPI) -> None:
    """Every operation with a path or query parameter documents the 400 TextInput (shared/body_text.py) answers
    for one that cannot be read as text, beside whatever 400 it documents already."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or not operation.get("parameters"):
                    continue
                if not any(p.get("in") in ("path", "query") for p in operation["parameters"]):
                    continue
                answers = operation.setdefault("responses", {})
                if "400" in answers:
                    answers["400"]["description"] += f"; {UNREADABLE_PARAMETER}"
                else:
                    answers["400"] = {"description": UNREADABLE_PARAMETER, "content": content}
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def status_of(exc: GridDispatchError, overrides: Mapping[type[GridDispatchError], int] | None = None) -> int:
    """The HTTP status of one of our errors; `overrides` lets another face (Open311) differ on a few classes."""
    table = [(cls, (overrides or {}).get(cls, status)) for cls, status in _STATUS]
    return next((status for cls, status in table if isinstance(exc, cls)), 500)


def health_router(checks: Mapping[str, Check], supervisor: Callable[[], Supervisor | None] = lambda: None) -> APIRouter:
    """/healthz (the process lives and no background task keeps dying), /readyz (the dependencies answer and
    every background task runs), /metrics. `supervisor` gives the one the lifespan started (None before)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive and its background tasks are not failing repeatedly")
    async def healthz() -> JSONResponse:
        status, body = liveness(supervisor())
        return JSONResponse(body, status_code=status)

    @router.get("/readyz", summary="Kafka and PostgreSQL answer, and every background task runs")
    async def readyz() -> JSONResponse:
        results = await run_checks(checks)
        tasks_ok, tasks = tasks_part(supervisor())
        ready = all(r.ok for r in results.values()) and tasks_ok
        body = {
            "status": "ready" if ready else "not_ready",
            "checks": {k: asdict(v) for k, v in results.items()},
            "tasks": tasks,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        payload, content_type = render()
        return Response(payload, media_type=content_type)

    return router


def problem_response(exc: GridDispatchError, instance: str | None = None) -> JSONResponse:
    status = status_of(exc)
    body = {
        "type": PROBLEM_BASE + exc.code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": exc.message,
        **({"instance": instance} if instance else {}),
        **exc.detail,
    }
    headers: dict[str, str] = {}
    if exc.retriable:
        headers["Retry-After"] = str(exc.detail.get("retry_after", 5))
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="griddispatch"'

    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


ErrorAnswer = Callable[[GridDispatchError, Mapping[str, Any]], Response]
"""How an ASGI middleware words a refusal for the request in `scope` (a problem, or another face's shape)."""


def problem_for(exc: GridDispatchError, scope: Mapping[str, Any]) -> Response:
    """The default ErrorAnswer: the error as application/problem+json, its instance the request's path."""
    return problem_response(exc, instance=scope.get("path"))


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "location", "lon")` -> `location.lon`; headers and query keep their own name."""
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] in ("body", "query", "path", "header") else parts)


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message, without the "Value error, " it puts before what our own validators say."""
    return str(error["msg"]).removeprefix("Value error, ")


async def http_exception_problem(request: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (404 for an unknown path, 405, ...) as application/problem+json."""
    assert isinstance(exc, StarletteHTTPException)
    body = {
        "type": PROBLEM_BASE + f"http_{exc.status_code}",
        "title": HTTPStatus(exc.status_code).phrase,
        "status": exc.status_code,
        "detail": str(exc.detail),
        "instance": request.url.path,
    }
    return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as application/problem+json: ours, request validation, and the framework's own."""

    async def ours(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GridDispatchError)
        return problem_response(exc, instance=request.url.path)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        problem = InvalidInput(
            f"{first['field'] or 'request'}: {first['message']}", field=first["field"], errors=errors
        )
        return problem_response(problem, instance=request.url.path)

    async def passing(request: Request, exc: Exception) -> JSONResponse:
        problem = as_unavailable(exc)
        if problem is None:  # a KafkaError that is not retriable: a bug, shown as one
            raise exc
        log.warning("request_infrastructure_failed", path=request.url.path, error=problem.message)
        return problem_response(problem, instance=request.url.path)

    app.add_exception_handler(GridDispatchError, ours)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_exception_problem)
    for infrastructure in (*DATABASE_ERRORS, *BROKER_ERRORS, KafkaError, ConnectionError, TimeoutError):
        app.add_exception_handler(infrastructure, passing)  # 503 with Retry-After, never a 500


def run_http_service(app: FastAPI, host: str, port: int, on_exit: Callable[[], None] | None = None) -> None:
    """Serve an ASGI app with uvicorn, leaving logging to structlog's set-up.

    `on_exit` runs as soon as a stop signal arrives, before uvicorn waits for open connections to finish:
    long-lived responses (live streams) must end there, or the server never stops.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if on_exit is not None:
                on_exit()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    Server(config).run()
