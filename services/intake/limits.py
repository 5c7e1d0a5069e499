"""Refuse oversized bodies (413) and bodies of the wrong type (415) before any handler reads them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from shared.errors import GridDispatchError, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from shared.web import problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_ONLY = ("application/json",)
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


class BodyLimits:
    """ASGI middleware: a body limit on every request, a content type on every request that has a body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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
        try:
            self._check_type(scope["path"], headers.get("content-type", ""))
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large()
        except GridDispatchError as exc:
            await problem_response(exc, instance=scope["path"])(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body larger than {self.max_bytes} bytes", max_bytes=self.max_bytes)

    @staticmethod
    def _check_type(path: str, content_type: str) -> None:
        media = content_type.split(";", 1)[0].strip().lower()
        allowed = OPEN311_TYPES if path.startswith("/open311/") else JSON_ONLY
        if media not in allowed:
            raise UnsupportedMediaType(
                f"content type {media or '(none)'!r} is not accepted here; send {' or '.join(allowed)}",
                field="Content-Type",
            )

    def _counting(self, receive: Receive) -> Receive:
        """Bodies sent without a Content-Length (chunked) are counted as they arrive."""
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        return wrapped
