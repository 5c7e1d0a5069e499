"""One HTTP POST attempt, classified as an Outcome: what the webhook and SMS-gateway channels share.

| answer                                          | result    |
| ----------------------------------------------- | --------- |
| 2xx                                             | DELIVERED |
| 408, 429, 5xx (Retry-After honoured if sent)    | RETRY     |
| 3xx (redirects are never followed)              | FAILED    |
| any other 4xx (and 1xx, which cannot be final)  | FAILED    |
| timeout, refused or dropped connection, I/O     | RETRY     |
| unusable URL or header (ours: retrying is vain) | FAILED    |
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

from griddispatch import __version__
from services.notify.channels.base import Outcome, Result

USER_AGENT = f"griddispatch-notify/{__version__}"
ERROR_SNIPPET_BYTES = 512  # enough of a refusal's body to tell an operator why, never a whole page
MAX_BODY_READ = 64 * 1024  # a response body past this is not read: the connection is dropped instead

_DELAY_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,6})?")
_RETRYABLE_STATUS = frozenset({408, 429})

Clock = Callable[[], float]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as UTC, not local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def classify_status(status: int) -> Result:
    """The result a final HTTP status code means for a delivery."""
    if 200 <= status < 300:
        return Result.DELIVERED
    if status >= 500 or status in _RETRYABLE_STATUS:
        return Result.RETRY
    return Result.FAILED


def outcome_of(response: httpx.Response, snippet: bytes, latency_ms: int, now: float) -> Outcome:
    """Turn a received answer into an Outcome, naming what went wrong when it is not a delivery."""
    status = response.status_code
    result = classify_status(status)
    if result is Result.DELIVERED:
        return Outcome(Result.DELIVERED, status_code=status, latency_ms=latency_ms)
    retry_after = parse_retry_after(response.headers.get("retry-after"), now) if result is Result.RETRY else None
    if 300 <= status < 400:
        error = f"HTTP {status}: redirect to {response.headers.get('location', '?')!r} not followed"
    else:
        text = snippet.decode("utf-8", errors="replace").strip()
        error = f"HTTP {status}" + (f": {text}" if text else "")
    return Outcome(result, status_code=status, latency_ms=latency_ms, error=error, retry_after_s=retry_after)


class _Stopwatch:
    """Milliseconds since the attempt started, for every Outcome however it ends."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def ms(self) -> int:
        return round((time.perf_counter() - self._started) * 1000)


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: httpx.Headers,
    *,
    timeout_s: float,
    clock: Clock = time.time,
) -> Outcome:
    """POST once, never following a redirect, within timeout_s overall; classify whatever happens."""
    watch = _Stopwatch()
    try:
        request = client.build_request("POST", url, content=body, headers=headers, timeout=httpx.Timeout(timeout_s))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:  # a bad target or header: ours
        return Outcome(Result.FAILED, latency_ms=watch.ms(), error=f"cannot build the request: {exc}")
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        # httpx's timeout bounds each phase; the deadline bounds the whole, so a trickling receiver cannot hold us
        async with asyncio.timeout_at(deadline):
            response = await client.send(request, stream=True, follow_redirects=False)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(Result.RETRY, latency_ms=watch.ms(), error=f"timed out after {timeout_s:g} s")
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        return Outcome(Result.FAILED, latency_ms=watch.ms(), error=_describe(exc))
    except httpx.TransportError as exc:  # refused, reset, dropped without an answer, proxy trouble
        return Outcome(Result.RETRY, latency_ms=watch.ms(), error=_describe(exc))
    try:
        snippet = await _read_some(response, deadline)
    finally:
        await response.aclose()
    return outcome_of(response, snippet, watch.ms(), clock())


def _describe(exc: Exception) -> str:
    """The exception's class and message (httpx's messages are sometimes empty)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _read_some(response: httpx.Response, deadline: float) -> bytes:
    """Up to MAX_BODY_READ bytes (read whole, the connection can be reused); the status has already decided."""
    read = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_bytes():
                read += chunk
                if len(read) > MAX_BODY_READ:
                    break
    except (TimeoutError, httpx.TransportError, httpx.DecodingError):
        pass  # the status has arrived: a body cut short, slow or garbled changes nothing
    return bytes(read[:ERROR_SNIPPET_BYTES])
