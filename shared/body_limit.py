"""A request body limit for every HTTP service: 413 problem for a body over it, declared or streamed (chunked).

Pure ASGI, outside the framework: FastAPI turns any error raised while it reads a body into a 400 "error
parsing the body", so the limit cannot be enforced from inside a receive() the app calls. Instead the body is
read here first, counted as it arrives, and handed on whole only when it fits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from prometheus_client import Counter

from shared.errors import PayloadTooLarge
from shared.logging import get_logger
from shared.web import ErrorAnswer, problem_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = get_logger(__name__)

TOO_LARGE = Counter(
    "griddispatch_http_bodies_too_large_total",
    "Requests refused with 413 because their body was over the limit",
    ["framing"],  # declared: Content-Length over the limit; streamed: counted while it arrived (chunked)
)

# Before the 413, what the client still sends is read and dropped, up to this much: a client that sends its
# whole body before it reads (httpx, requests) and is cut off mid-body never sees the answer (the reset
# discards it). Past it the connection is closed.
DRAIN_BYTES = 32 * 1024 * 1024


class _ClientGone(Exception):
    """The client disconnected before its body was complete: nothing to answer."""


class BodyLimit:
    """ASGI middleware: a request whose body exceeds `max_bytes` is answered 413 before the app sees any of it."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        drain_bytes: int = DRAIN_BYTES,
        answer: ErrorAnswer = problem_for,
        larger: Mapping[str, tuple[int, type[PayloadTooLarge]]] | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes
        # Paths (exact) whose multipart/form-data bodies (files) have a limit of their own, and the refusal that
        # names it (photo uploads: a file's limit); their other bodies keep `max_bytes`.
        self.larger = dict(larger or {})
        self.drain_bytes = drain_bytes
        self.answer = answer  # how the refusal is worded: problem+json, or another face's own shape (Open311)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, refusal = self.max_bytes, PayloadTooLarge
        if self.larger and _multipart(scope):
            max_bytes, refusal = self.larger.get(scope.get("path", ""), (max_bytes, refusal))
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(scope, receive, send, "declared", max_bytes, refusal)
            return
        if declared == 0 or (declared is None and not _has_body(scope)):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(receive, max_bytes)
        except _ClientGone:
            return
        if body is None:
            await self._refuse(scope, receive, send, "streamed", max_bytes, refusal)
        else:
            await self.app(scope, replay(body, receive), send)

    async def _read(self, receive: Receive, max_bytes: int) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        framing: str,
        max_bytes: int,
        refusal: type[PayloadTooLarge] = PayloadTooLarge,
    ) -> None:
        TOO_LARGE.labels(framing).inc()
        log.info("body_too_large", path=scope.get("path"), framing=framing, max_bytes=max_bytes)
        await _drain(receive, self.drain_bytes)
        problem = refusal(f"request body larger than {max_bytes} bytes", max_bytes=max_bytes)
        response = self.answer(problem, scope)
        response.headers["Connection"] = "close"  # what is left of the body is not read
        await response(scope, _ended, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


def _has_body(scope: Scope) -> bool:
    return any(name.lower() == b"transfer-encoding" for name, _ in scope.get("headers", ()))


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop what the client still sends, up to `budget` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


async def _ended() -> Message:
    return {"type": "http.disconnect"}


def replay(body: bytes, receive: Receive) -> Receive:
    """The body read above as one message, then the client's own messages (a disconnect, for a long response)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
