"""How the Open311 face answers: JSON or XML, errors in Open311's own shape, the api_key and the jurisdiction."""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.deps import Resources, client_from_key, require
from shared.api_clients import ApiClient, Scope
from shared.errors import (
    GridDispatchError,
    InfrastructureUnavailable,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from shared.logging import get_logger
from shared.web import http_exception_problem, problem_for, status_of

log = get_logger(__name__)

_ITEM_TAG = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "endpoints": "endpoint",
    "formats": "format",
}

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot carry

OPEN311_PREFIX = "/open311/"

# Open311 says 400 for bad fields and 403 for a missing or bad api_key; every other status is the API's own.
OPEN311_STATUS: dict[type[GridDispatchError], int] = {InvalidInput: 400, Unauthenticated: 403}


class Open311Route(APIRoute):
    """Errors on this face leave in Open311's shape, [{"code", "description"}], not as problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            fmt = _format_of(request.url.path)
            try:
                return await handler(request)
            except GridDispatchError as exc:
                return _error(fmt, exc)
            except RequestValidationError as exc:
                return error_response(fmt, 400, _invalid_parameter(exc))
            except StarletteHTTPException as exc:  # a body the form parser cannot read
                return error_response(fmt, exc.status_code, str(exc.detail))

        return answer


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def answer(exc: GridDispatchError, scope: Mapping[str, Any]) -> Response:
    """The middlewares' refusals (413, 415, 400 unreadable) in Open311's shape on its paths, problem+json elsewhere."""
    path = str(scope.get("path", ""))
    if path.startswith(OPEN311_PREFIX):
        return _error(_format_of(path), exc)
    return problem_for(exc, scope)


async def framework_errors(request: Request, exc: Exception) -> Response:
    """The router's own errors (404 for a path no operation has, 405) in Open311's shape on its paths."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if not path.startswith(OPEN311_PREFIX):
        return await http_exception_problem(request, exc)
    description = {404: f"{path}: no such endpoint; see {OPEN311_PREFIX}v2/discovery.json"}.get(exc.status_code)
    if exc.status_code == 405:
        description = f"method {request.method} not allowed here; allowed: {(exc.headers or {}).get('Allow', '')}"
    return error_response(_format_of(path), exc.status_code, description or str(exc.detail), exc.headers)


def _error(fmt: str, exc: GridDispatchError) -> Response:
    status = status_of(exc, OPEN311_STATUS)
    description = exc.message
    if isinstance(exc, Unauthenticated):
        description = f"api_key: {exc.message}"
    field = exc.detail.get("field")
    if isinstance(field, str) and not description.startswith(field):
        description = f"{field}: {description}"
    headers = {}
    if exc.retriable:
        headers["Retry-After"] = str(exc.detail.get("retry_after", 5))
    if isinstance(exc, InfrastructureUnavailable):
        log.warning("open311_unavailable", reason=exc.message)
        description = "temporarily unavailable: nothing was accepted; retry after Retry-After seconds"
    return error_response(fmt, status, description, headers)


def _invalid_parameter(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "request: invalid"
    parts = [str(p) for p in errors[0]["loc"]]
    name = ".".join(parts[1:] if parts and parts[0] in ("query", "path", "header", "body") else parts)
    return f"{name}: {errors[0]['msg']}"


def check_jurisdiction(res: Resources, jurisdiction_id: str | None) -> None:
    ours = res.settings.open311_jurisdiction_id
    if jurisdiction_id is not None and jurisdiction_id != ours:
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} not found; this is {ours!r}", field="jurisdiction_id")


def _api_key(request: Request, given: str | None) -> str | None:
    """api_key as Open311 sends it, else the API's usual headers; HTTP Basic takes the key as user name."""
    if given:
        return given
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic":
        return _basic_key(credentials.strip())
    return request.headers.get("x-api-key") or request.query_params.get("api_key")


def _basic_key(credentials: str) -> str | None:
    try:
        user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or password or None


async def open311_client(res: Resources, request: Request, given: str | None, *scopes: Scope) -> ApiClient:
    key = _api_key(request, given)
    if not key:
        raise Unauthenticated("not provided; send api_key (or Authorization: Bearer <key>)")
    client = await client_from_key(res, key)
    require(client, *scopes)
    return client


def render(fmt: str, root: str, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """One Open311 answer as JSON or as XML under `root` (XML lists take the singular of their tag)."""
    if fmt == "xml":
        return Response(to_xml(root, payload), status, headers, media_type="text/xml; charset=utf-8")
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(body, status, headers, media_type="application/json; charset=utf-8")


def error_response(fmt: str, status: int, description: str, headers: Mapping[str, str] | None = None) -> Response:
    return render(fmt, "errors", [{"code": status, "description": description}], status, headers)


def to_xml(root: str, payload: Any) -> bytes:
    element = _element(root, payload)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode").encode()


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        element.extend(_element(k, v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        element.extend(_element(_ITEM_TAG.get(tag, "item"), v) for v in value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))
    return element
