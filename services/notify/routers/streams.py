"""GET /v1/streams/{unit}: a unit's live stream as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, Query, Request, Security
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from starlette.types import Send

from services.notify.auth import api_key_header, api_key_query, authenticate_request, bearer, require, sees_unit
from services.notify.problems import problems
from services.notify.streams import OPEN_STREAMS, StreamHub, events_after
from shared.api_clients import Scope
from shared.errors import InfrastructureUnavailable, InvalidInput, NotFound
from shared.logging import get_logger
from shared.retention.policy import STREAM_RULE
from shared.retention.pruner import read_mark
from shared.retriable import RETRIABLE_READING

log = get_logger(__name__)
MEDIA_TYPE = "text/event-stream"
BIGINT_MAX = 2**63 - 1
_UNIT = re.compile(r"^(unit|branch|department):[A-Za-z0-9_.\-]{1,64}$")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # SSE's own line ends, and no others (U+2028 is data)
_HEARTBEAT = b": heartbeat\n\n"
EXPIRED_RESUMES = Counter(
    "griddispatch_stream_resumes_expired_total",
    "Stream resumes from before the oldest event the retention task kept (told with an `expired` event)",
)

HubOf = Callable[[Request], StreamHub]
PoolOf = Callable[[Request], asyncpg.Pool]


def hub_from_state(request: Request) -> StreamHub:
    """The hub the lifespan put on app.state.stream_hub."""
    hub: StreamHub | None = getattr(request.app.state, "stream_hub", None)
    if hub is None or hub.closed:
        raise InfrastructureUnavailable("the live stream is not running in this process")
    return hub


def pool_from_state(request: Request) -> asyncpg.Pool:
    """The pool the lifespan put on app.state.pool."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def frame(row: asyncpg.Record) -> bytes:
    """One SSE event: id, event type and the CloudEvent JSON as data."""
    data = "".join(f"data: {line}\n" for line in _NEWLINE.split(row["body"]))
    return f"id: {row['id']}\nevent: {row['type']}\n{data}\n".encode()


def parse_event_id(value: str, field: str) -> int:
    """A stream id as the client sent it back; 422 problem unless it is one."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) > BIGINT_MAX:
        raise InvalidInput(f"{field} must be the id of a stream event (a non-negative integer)", field=field)
    return int(text)


def start_after(header: str | None, query: str | None, since: int | None, horizon: int) -> int:
    """Where the stream starts: Last-Event-ID (a browser's reconnect sends it), then since, else from now."""
    if header is not None and header.strip():
        return parse_event_id(header, "Last-Event-ID")
    if query is not None and query.strip():
        return parse_event_id(query, "last_event_id")
    return since if since is not None else horizon


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that closes its generator when it ends, so the stream's cleanup runs at once."""

    media_type = MEDIA_TYPE

    # status_code is named (not left in **kwargs): FastAPI reads its default to document the route's answer.
    def __init__(self, events: AsyncIterator[bytes], status_code: int = 200, **kwargs: Any) -> None:
        super().__init__(events, status_code=status_code, media_type=MEDIA_TYPE, **kwargs)
        self._events = events

    async def stream_response(self, send: Send) -> None:
        aclose = getattr(self._events, "aclose", None)
        try:
            await super().stream_response(send)
        finally:
            if aclose is not None:
                await aclose()


def expired_frame(cursor: int, deleted_up_to: int) -> bytes:
    """Told first to a client resuming from before what the retention task kept: events after its cursor up
    to `deleted_up_to` may be gone, so it should reload what it shows (no id: Last-Event-ID stays as it was)."""
    data = json.dumps({"resume_after": cursor, "deleted_up_to": deleted_up_to}, separators=(",", ":"))
    return f"event: expired\ndata: {data}\n\n".encode()


async def sse_events(
    pool: asyncpg.Pool,
    hub: StreamHub,
    unit: str,
    cursor: int,
    *,
    heartbeat_s: float,
    batch: int,
    retry_ms: int,
    deleted_up_to: int | None = None,
) -> AsyncIterator[bytes]:
    """Everything of `unit` after `cursor`, then live, with heartbeats; ends when the hub stops. When the
    retention task has deleted events after `cursor` (`deleted_up_to`), an `expired` event comes first."""
    hub.open_streams += 1
    OPEN_STREAMS.inc()
    try:
        yield f"retry: {retry_ms}\n\n".encode()
        if deleted_up_to is not None and cursor < deleted_up_to:
            EXPIRED_RESUMES.inc()
            log.info("stream_resume_expired", unit=unit, after_id=cursor, deleted_up_to=deleted_up_to)
            yield expired_frame(cursor, deleted_up_to)
        written = time.monotonic()
        while not hub.closed:
            upto = hub.horizon
            rows = await events_after(pool, unit, cursor, batch, upto=upto)
            if rows:
                cursor = rows[-1]["id"]
                yield b"".join(frame(r) for r in rows)
                written = time.monotonic()
                if len(rows) == batch:
                    continue  # a backlog: read on before waiting
            if await hub.wait(unit, upto, max(0.0, heartbeat_s - (time.monotonic() - written))):
                continue
            if time.monotonic() - written >= heartbeat_s:
                yield _HEARTBEAT  # keeps proxies from closing a quiet connection
                written = time.monotonic()
    except RETRIABLE_READING as exc:
        # The client reconnects with Last-Event-ID and loses nothing.
        log.warning("stream_ended_on_database_error", unit=unit, last_id=cursor, error=str(exc) or type(exc).__name__)
    finally:
        hub.open_streams -= 1
        OPEN_STREAMS.dec()
        log.info("stream_closed", unit=unit, last_id=cursor)


def make_stream_router(
    *,
    hub_of: HubOf = hub_from_state,
    pool_of: PoolOf = pool_from_state,
    heartbeat_s: float = 15.0,
    batch: int = 500,
    retry_ms: int = 3000,
) -> APIRouter:
    """The stream endpoint; by default it finds the hub and pool on app.state (stream_hub, pool)."""
    router = APIRouter(tags=["streams"])

    @router.get(
        "/v1/streams/{unit}",
        summary="A unit's live stream (Server-Sent Events)",
        response_class=EventStreamResponse,
        dependencies=[Security(bearer), Security(api_key_header), Security(api_key_query)],
        responses={
            200: {
                "content": {MEDIA_TYPE: {}},
                "description": (
                    "id: stream id, event: CloudEvent type, data: CloudEvent (with `unstaffed: true` when nobody"
                    " answers for the unit an alert concerns)"
                ),
            },
            **problems(
                401,
                403,
                404,
                422,
                503,
                _401="no key, unknown key, revoked key",
                _403="the key lacks the read scope",
                _404="no such unit, or not one this client may see",
                _422="Last-Event-ID, last_event_id or since is not a stream id",
                _503="the live stream is not running in this process, or PostgreSQL is unreachable",
            ),
        },
    )
    async def stream(
        request: Request,
        unit: str,
        last_event_id_header: Annotated[
            str | None, Header(alias="Last-Event-ID", description="resume after this id (EventSource sends it)")
        ] = None,
        last_event_id: Annotated[str | None, Query(description="resume after this id, as a parameter")] = None,
        since: Annotated[
            int | None, Query(ge=0, le=BIGINT_MAX, description="without Last-Event-ID: start after this id (0: all)")
        ] = None,
    ) -> EventStreamResponse:
        """Events of the unit as they happen; Last-Event-ID (or ?last_event_id=) resumes after that event."""
        pool, hub = pool_of(request), hub_of(request)
        client = await authenticate_request(request, pool, allow_query=True)
        require(client, Scope.READ)
        if not _UNIT.match(unit) or not await sees_unit(pool, client, unit):
            raise NotFound(f"no stream {unit!r}")  # one that exists but is not visible looks the same
        cursor = start_after(last_event_id_header, last_event_id, since, hub.horizon)
        deleted_up_to = await read_mark(pool, STREAM_RULE) if cursor < hub.horizon else None
        log.info("stream_opened", unit=unit, client_id=str(client.id), after_id=cursor)
        events = sse_events(
            pool,
            hub,
            unit,
            cursor,
            heartbeat_s=heartbeat_s,
            batch=batch,
            retry_ms=retry_ms,
            deleted_up_to=deleted_up_to,
        )
        return EventStreamResponse(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router


router = make_stream_router()

__all__ = ["EventStreamResponse", "make_stream_router", "router", "sse_events"]
