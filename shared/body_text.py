"""Readable text in, for every HTTP service: NUL in the URL, and bodies that are not storable text, refused first.

A body (JSON, form-encoded or multipart) that is not UTF-8, carries a NUL or a lone surrogate in a string, or is
JSON nested deeper than any API needs, is answered 400 naming the field (shared/text_checks.py) before the app
parses it: PostgreSQL would refuse it later as a 500, and a form parser would keep Latin-1 mojibake. A NUL or
%-encoded bytes that are not UTF-8 in the path or a query parameter are 400 `unreadable_parameter` naming it
(`path`, or the parameter's name).

It sits inside shared/body_limit.py's BodyLimit, so the body it reads whole is already bounded.
"""

from __future__ import annotations

from prometheus_client import Counter

from shared.body_limit import ASGIApp, Receive, Scope, Send, replay
from shared.errors import UnreadableBody, UnreadableParameter
from shared.logging import get_logger
from shared.text_checks import MAX_DEPTH, Unreadable, form_problem, json_problem, multipart_problem, url_problem
from shared.web import ErrorAnswer, problem_for

log = get_logger(__name__)

UNREADABLE = Counter(
    "griddispatch_http_bodies_unreadable_total",
    "Requests refused with 400 because their body was not storable text or nested too deeply",
    ["media"],  # json, form, multipart
)


URL_UNREADABLE = Counter(
    "griddispatch_http_urls_unreadable_total",
    "Requests refused with 400 because their path or a query parameter was not storable text",
)


def url_unreadable(scope: Scope) -> Unreadable | None:
    """The path or the first query parameter that is not storable text (NUL, not UTF-8 once %-decoded)."""
    raw_path = scope.get("raw_path") or str(scope["path"]).encode("utf-8", errors="surrogateescape")
    path = bytes(raw_path).partition(b"?")[0]  # some servers (httpx's ASGI transport) pass the query along
    return url_problem(path, bytes(scope.get("query_string", b"")))


class TextInput:
    """ASGI middleware: no NUL in the URL; every JSON, form or multipart body storable text, JSON not too deep."""

    def __init__(self, app: ASGIApp, answer: ErrorAnswer = problem_for, max_depth: int = MAX_DEPTH) -> None:
        self.app = app
        self.answer = answer
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        unreadable = url_unreadable(scope)
        if unreadable is not None:  # PostgreSQL text cannot hold it: refuse it here, naming the parameter
            URL_UNREADABLE.inc()
            log.info("url_unreadable", field=unreadable.field, reason=unreadable.message)
            refused = UnreadableParameter(unreadable.detail, field=unreadable.field)
            await self.answer(refused, scope)(scope, receive, send)
            return
        media, boundary = _media(scope)
        if scope["method"] not in ("POST", "PUT", "PATCH") or media is None:
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        if body is None:  # the client left before its body was complete: nothing to answer
            return
        found = self._check(media, boundary, body)
        if found is not None:
            UNREADABLE.labels(media).inc()
            log.info("body_unreadable", path=scope.get("path"), media=media, field=found.field, reason=found.message)
            problem = UnreadableBody(found.detail, field=found.field)
            await self.answer(problem, scope)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    def _check(self, media: str, boundary: bytes | None, body: bytes) -> Unreadable | None:
        if media == "json":
            return json_problem(body, self.max_depth)
        if media == "form":
            return form_problem(body)
        return multipart_problem(body, boundary) if boundary else None


def _media(scope: Scope) -> tuple[str | None, bytes | None]:
    """Which of the bodies this reads the request says it carries (json, form, multipart), and its boundary."""
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            content_type = bytes(value)
            break
    media, *params = content_type.split(b";")
    media = media.strip().lower()
    if media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json")):
        return "json", None
    if media == b"application/x-www-form-urlencoded":
        return "form", None
    if media == b"multipart/form-data":
        for param in params:
            key, _, value = param.strip().partition(b"=")
            if key.lower() == b"boundary":
                return "multipart", value.strip(b'"')
        return "multipart", None
    return None, None


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
