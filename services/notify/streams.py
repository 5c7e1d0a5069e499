"""The live stream's wake-up: one LISTEN connection per process, and how far the stream is final.

A row of stream_events gets its id (bigserial) when it is inserted but is seen only once committed, and two
fan-out transactions may commit out of order. A reader that moved its cursor past id 8 while 7 was still
uncommitted would skip 7 for good, also on resume. So readers read only up to the *horizon*: the highest id
below which every row is committed or will never exist. A hole in the ids holds the horizon until every
transaction that was writing stream_events when the hole was seen has ended (the hole was then a rollback
or an ON CONFLICT skip, whose ids are never used), or at most `gap_timeout_s`.

Subscribers never poll: the hub scans new ids once per NOTIFY for the whole process and wakes only the
subscribers of the units that got rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import asyncpg
from prometheus_client import Gauge

from shared.logging import get_logger
from shared.retriable import RETRIABLE_READING
from shared.supervisor import Supervisor, wait_any

log = get_logger(__name__)
CHANNEL = "griddispatch_stream"

OPEN_STREAMS = Gauge("griddispatch_stream_clients", "Live stream (SSE) connections open in this process")

_READ = """SELECT id, event_id, type, case_id, body::text AS body, at FROM stream_events
           WHERE unit = $1 AND id > $2 AND id <= $4 ORDER BY id LIMIT $3"""
_SCAN = "SELECT id, unit FROM stream_events WHERE id > $1 ORDER BY id LIMIT $2"
# Inserting takes this lock before the id is drawn and keeps it until commit or rollback.
_WRITING = """locktype = 'relation' AND mode = 'RowExclusiveLock' AND relation = 'stream_events'::regclass
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
_WRITERS = f"SELECT coalesce(array_agg(DISTINCT virtualtransaction), '{{}}') FROM pg_locks WHERE {_WRITING}"
_STILL_WRITING = f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE {_WRITING} AND virtualtransaction = ANY($1::text[]))"
_BIGINT_MAX = 2**63 - 1


async def events_after(
    pool: asyncpg.Pool, unit: str, last_id: int, limit: int, *, upto: int = _BIGINT_MAX
) -> list[asyncpg.Record]:
    """The unit's stream rows after `last_id` and at most `upto`, oldest first (id, event_id, type, body as text)."""
    rows: list[asyncpg.Record] = await pool.fetch(_READ, unit, last_id, limit, upto)
    return rows


@dataclass(slots=True)
class _Hole:
    """Ids missing just above `at`, and the transactions that may still fill them."""

    at: int
    writers: list[str]
    seen_at: float


class StreamHub:
    """Wakes a process's stream subscribers when rows of their unit become final."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        gap_timeout_s: float = 30.0,
        recheck_s: float = 0.1,
        idle_check_s: float = 30.0,
        scan_limit: int = 5000,
    ) -> None:
        self._pool = pool
        self.gap_timeout_s = gap_timeout_s  # a hole older than this is passed over (logged): never stall forever
        self.recheck_s = recheck_s  # while a hole is open: a rollback sends no NOTIFY
        self.idle_check_s = idle_check_s  # a look without NOTIFY now and then, should one be lost
        self.scan_limit = scan_limit
        self.open_streams = 0
        self._horizon = 0
        self._top: dict[str, int] = {}  # unit -> its highest final id seen since start (a few thousand units)
        self._wakers: dict[str, asyncio.Event] = {}
        self._nudge = asyncio.Event()
        self._hole: _Hole | None = None
        self._conn: asyncpg.Connection | None = None  # the pool connection that LISTENs
        self._supervisor: Supervisor | None = None  # its own, when start() was given none
        self._stopping = asyncio.Event()
        self._closed = False

    @property
    def horizon(self) -> int:
        """Every row with an id up to this one is committed, or will never exist."""
        return self._horizon

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self, supervisor: Supervisor | None = None) -> None:
        """LISTEN, then take the current end of the stream as the horizon (writers in flight first finish).

        The hub's loop runs as the task "stream-hub" of `supervisor` (the service's: its owner stops it before
        `stop()`), or of a supervisor of its own."""
        conn = await self._listen()
        try:
            await self._wait_for_writers(conn)
            self._horizon = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM stream_events"))
        except BaseException:
            await self._drop()  # a failed start keeps no connection
            raise
        if supervisor is None:
            supervisor = self._supervisor = Supervisor("notify")
        self._stopping = supervisor.stopping  # the loop ends with its supervisor's stop, without waiting out a sleep
        supervisor.start("stream-hub", self._run)
        log.info("stream_hub_started", horizon=self._horizon)

    def close_streams(self) -> None:
        """End every open stream now (and refuse new ones); callable from a server's exit handler."""
        self._closed = True
        for event in self._wakers.values():
            event.set()
        self._wakers.clear()

    async def stop(self) -> None:
        """End every open stream, stop listening and give the connection back."""
        self.close_streams()
        if self._supervisor is not None:
            await self._supervisor.stop(grace_s=0)
            self._supervisor = None
        await self._drop()
        log.info("stream_hub_stopped", horizon=self._horizon)

    async def wait(self, unit: str, seen: int, wait_s: float) -> bool:
        """Wait up to `wait_s` for final rows of `unit` above id `seen`; True if there are some."""
        if self._top.get(unit, 0) > seen:
            return True
        if self._closed:
            return False
        event = self._wakers.setdefault(unit, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await event.wait()
        return self._top.get(unit, 0) > seen

    async def _run(self) -> None:
        """Advance the horizon on every NOTIFY (and while a hole is open); reconnect when the connection dies.

        A database error is retried here; anything else (a bug) ends the run, for the supervisor to log, count,
        show on /readyz and restart: every stream of the process hangs on the hub."""
        delay = 0.5
        stopping = self._stopping
        while not stopping.is_set():
            try:
                conn = await self._listen()
                self._nudge.clear()
                more = await self._advance(conn)
                delay = 0.5
            except RETRIABLE_READING as exc:
                log.warning("stream_hub_retrying", error=str(exc) or type(exc).__name__, delay_s=delay)
                await self._drop()
                await wait_any(delay, stopping)
                delay = min(delay * 2, 10.0)
                continue
            except BaseException:
                await self._drop()  # the next run listens afresh
                raise
            if more:
                continue
            await wait_any(self.recheck_s if self._hole else self.idle_check_s, self._nudge, stopping)

    async def _advance(self, conn: asyncpg.Connection) -> bool:
        """Move the horizon over the new rows, up to the first open hole; True if more rows wait to be scanned."""
        rows = await conn.fetch(_SCAN, self._horizon, self.scan_limit)
        horizon = self._horizon
        touched: dict[str, int] = {}
        for row in rows:
            if row["id"] != horizon + 1 and not await self._hole_settled(conn, horizon):
                break
            horizon = row["id"]
            touched[row["unit"]] = horizon
        self._publish(horizon, touched)
        return len(rows) == self.scan_limit and horizon == rows[-1]["id"]

    async def _hole_settled(self, conn: asyncpg.Connection, at: int) -> bool:
        """Whether the ids just above `at` can no longer appear."""
        hole = self._hole
        if hole is None or hole.at != at:
            # Whoever drew a missing id drew it before a later id was committed, so it holds the lock now.
            hole = self._hole = _Hole(at, list(await conn.fetchval(_WRITERS)), time.monotonic())
        settled = not hole.writers or not await conn.fetchval(_STILL_WRITING, hole.writers)
        if not settled and time.monotonic() - hole.seen_at > self.gap_timeout_s:
            log.warning("stream_hole_passed_over", after_id=at, writers=hole.writers, waited_s=self.gap_timeout_s)
            settled = True
        if settled:
            self._hole = None
        return settled

    def _publish(self, horizon: int, touched: dict[str, int]) -> None:
        self._horizon = horizon
        for unit, top in touched.items():
            self._top[unit] = top
            event = self._wakers.pop(unit, None)
            if event is not None:
                event.set()

    async def _wait_for_writers(self, conn: asyncpg.Connection) -> None:
        """Let transactions writing at start finish, so no id below the first horizon is still to come."""
        writers = list(await conn.fetchval(_WRITERS))
        deadline = time.monotonic() + self.gap_timeout_s
        # A rollback sends no NOTIFY: only pg_locks tells when it is over.
        while writers and time.monotonic() < deadline and await conn.fetchval(_STILL_WRITING, writers):  # noqa: ASYNC110
            await asyncio.sleep(self.recheck_s)

    async def _listen(self) -> asyncpg.Connection:
        if self._conn is None:
            conn = await self._pool.acquire()
            try:
                await conn.add_listener(CHANNEL, self._on_notify)
            except BaseException:
                await self._pool.release(conn)
                raise
            conn.add_termination_listener(self._on_lost)
            self._conn = conn
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # A connection lost underneath is already detached from the pool: every call on it fails, harmlessly.
        try:
            with contextlib.suppress(*RETRIABLE_READING):
                conn.remove_termination_listener(self._on_lost)
                await conn.remove_listener(CHANNEL, self._on_notify)
        finally:  # cancelled during the UNLISTEN, the connection still goes back: Pool.close waits for it
            with contextlib.suppress(*RETRIABLE_READING):
                await self._pool.release(conn)

    def _on_notify(self, *_: object) -> None:
        self._nudge.set()

    def _on_lost(self, *_: object) -> None:
        # The next scan fails and reconnects, instead of waiting idle_check_s to notice.
        self._nudge.set()
