"""Refuse bodies of the wrong type (415) before any handler reads them, but only where a body is taken.

A path no operation has is 404 and a method the path does not allow is 405, whatever the body's type: the
check runs only for a request that matches an operation fully (path and method). The size limit (413) is
shared/body_limit.py's and readable text (400) shared/body_text.py's, both behind this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.routing import Match, Mount

from shared.errors import GridDispatchError, UnsupportedMediaType
from shared.web import ErrorAnswer, problem_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_ONLY = ("application/json",)
BODILESS = frozenset({"/v1/auth/sign-out"})  # POSTs that take no body, so need no Content-Type
OPEN311 = "/open311/"
OPEN311_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
MULTIPART_ONLY = ("multipart/form-data",)
UPLOADS = frozenset({"/v1/attachments"})  # photos, as files in a form


class ContentChecks:
    """ASGI middleware: a content type this API reads on every request with a body to an operation that takes one."""

    def __init__(self, app: ASGIApp, answer: ErrorAnswer = problem_for) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _an_operation(scope):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        empty = headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers
        # Nothing to type: a browser's fetch() of a body-less POST sends none, and an Open311 client may send
        # every field in the query string.
        if empty and (scope["path"] in BODILESS or scope["path"].startswith(OPEN311)):
            await self.app(scope, receive, send)
            return
        try:
            _check_type(scope["path"], headers.get("content-type", ""))
        except GridDispatchError as exc:
            await self.answer(exc, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _an_operation(scope: Scope) -> bool:
    """Whether an operation of the app matches this request's path and method (else the router answers 404/405)."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        return True  # not inside a Starlette app: check every request
    # Operations only (also as included routers); a Mount (the console's files) takes no body.
    return any(not isinstance(r, Mount) and r.matches(scope)[0] is Match.FULL for r in routes)


def _check_type(path: str, content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    allowed = OPEN311_TYPES if path.startswith(OPEN311) else MULTIPART_ONLY if path in UPLOADS else JSON_ONLY
    if media not in allowed:
        raise UnsupportedMediaType(
            f"content type {media or '(none)'!r} is not accepted here; send {' or '.join(allowed)}",
            field="Content-Type",
        )
