"""The people snapshot dispatch assigns responsible persons from: loaded at start, reloaded when persons, roles or
rosters change (NOTIFY on 'griddispatch_people' from 0011's triggers), and every minute in case a NOTIFY went
unheard. No event waits for a query: a batch uses the snapshot it finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge

from shared.db.listen import PoolListener
from shared.logging import get_logger
from shared.people.duty import EMPTY, PeopleSnapshot, build_snapshot
from shared.queries import rosters
from shared.retriable import RETRIABLE_READING

log = get_logger(__name__)
REFRESH_S = 60.0
MAX_BACKOFF_S = 10.0
PEOPLE_RELOADS = Counter(
    "griddispatch_dispatch_people_reloads_total", "People snapshot loads (persons, roles, rosters)", ["outcome"]
)
PEOPLE_ACTIVE = Gauge("griddispatch_dispatch_people_active", "Active persons in dispatch's people snapshot")
ROSTERED_UNITS = Gauge("griddispatch_dispatch_rostered_units", "Units with a duty roster in the people snapshot")


class PeopleHolder:
    def __init__(self, pool: asyncpg.Pool, base: PeopleSnapshot = EMPTY, refresh_s: float = REFRESH_S) -> None:
        self._pool = pool
        self._base = base  # the district's calendar and time zone: rosters follow them
        self._refresh_s = refresh_s
        self.snapshot: PeopleSnapshot = base
        self.loads = 0
        self._changed = asyncio.Event()
        self._listener = PoolListener(pool, rosters.CHANNEL, self._on_notify, on_lost=self._changed.set)

    async def start(self) -> None:
        await self.reload()
        await self._listener.ensure()

    async def stop(self) -> None:
        await self._listener.close()

    async def reload(self) -> None:
        started = time.perf_counter()
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            active = await rosters.active_persons(conn)
            roles = await rosters.role_rows(conn)
            units = await rosters.all_rosters(conn)  # every swap: a command's clock may be set back (tests, replays)
        self.snapshot = build_snapshot(
            active, roles, units, calendar=self._base.calendar, tz=self._base.tz, version=f"load-{self.loads + 1}"
        )
        self.loads += 1
        PEOPLE_RELOADS.labels("loaded").inc()
        PEOPLE_ACTIVE.set(len(self.snapshot.active))
        ROSTERED_UNITS.set(len(self.snapshot.rosters))
        log.info(
            "people_loaded",
            persons=len(active),
            roles=len(roles),
            rosters=len(units),
            seconds=round(time.perf_counter() - started, 3),
        )

    async def run(self) -> None:
        """Until cancelled: reload on every NOTIFY (bursts coalesce), and every `refresh_s` regardless."""
        delay = 0.5
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh_s):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self._listener.ensure()
                await self.reload()
                delay = 0.5
            except RETRIABLE_READING as exc:
                PEOPLE_RELOADS.labels("failed").inc()
                log.warning("people_reload_retrying", error=str(exc) or type(exc).__name__, delay_s=delay)
                self._listener.lost()
                self._changed.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _on_notify(self, *args: Any) -> None:
        self._changed.set()
