"""Refuse bodies of the wrong type (415) and NUL characters in the URL (422) before any handler reads them.

The size limit (413) is shared/body_limit.py's, which every service with bodies puts behind this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from shared.errors import GridDispatchError, InvalidInput, UnsupportedMediaType
from shared.web import problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_ONLY = ("application/json",)
BODILESS = frozenset({"/v1/auth/sign-out"})  # POSTs that take no body, so need no Content-Type
OPEN311_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")


def _nul_parameter(scope: Scope) -> str | None:
    """The name of the first query parameter (or `path`) carrying a NUL character, else None."""
    path: str = scope["path"]
    if "\x00" in path:
        return "path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in value or "\x00" in name:
            return name.replace("\x00", "")
    return None


class ContentChecks:
    """ASGI middleware: no NUL in the path or query of any request, a content type on every request with a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul = None if scope["path"].startswith("/open311/") else _nul_parameter(scope)  # Open311 answers its own way
        if nul is not None:  # PostgreSQL text cannot hold NUL: refuse it here, naming the parameter
            problem = InvalidInput(f"{nul}: NUL characters are not accepted", field=nul)
            await problem_response(problem, instance=scope["path"])(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if (
            scope["path"] in BODILESS
            and headers.get("content-length", "0") == "0"
            and "transfer-encoding" not in headers
        ):
            await self.app(scope, receive, send)  # nothing to type: a browser's fetch() of it sends none
            return
        try:
            self._check_type(scope["path"], headers.get("content-type", ""))
        except GridDispatchError as exc:
            await problem_response(exc, instance=scope["path"])(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _check_type(path: str, content_type: str) -> None:
        media = content_type.split(";", 1)[0].strip().lower()
        allowed = OPEN311_TYPES if path.startswith("/open311/") else JSON_ONLY
        if media not in allowed:
            raise UnsupportedMediaType(
                f"content type {media or '(none)'!r} is not accepted here; send {' or '.join(allowed)}",
                field="Content-Type",
            )
