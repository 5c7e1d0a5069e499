"""Open and overdue cases per level, counted in PostgreSQL now and then for the dashboards and alerts.

A case is open until it is closed, cancelled or merged; it is overdue while one of its deadlines is still
owed past its due time. Two aggregate queries per refresh, each a sequential read (of cases, of deadlines):
their cost grows with the tables, not with the rate of events. At a million cases (750,000 open, 37,000
overdue) they took 2.5-3.5 s together on this project's 2-core machine under a load average of 15, so the
default is once a minute (GRIDDISPATCH_ESCALATION_CASE_GAUGES_S). Every escalation worker counts, so a
dashboard takes the max over workers; a worker that cannot reach the database keeps the last counts and
logs why.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
from prometheus_client import Gauge

from shared.logging import get_logger
from shared.queries import cases, deadlines
from shared.retriable import RETRIABLE_READING

log = get_logger(__name__)
LEVELS = ("micro_grid", "grid", "community", "street", "district")
NO_LEVEL = "none"  # not routed yet (triage), or routed to a department without a territorial level
REFRESH_S = 60.0

OPEN = Gauge("griddispatch_cases_open", "Cases not closed, cancelled or merged, by the level handling them", ["level"])
OVERDUE = Gauge("griddispatch_cases_overdue", "Open cases with a deadline owed past its due time, by level", ["level"])


async def count(pool: asyncpg.Pool, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Open and overdue cases per level; every known level is present, with 0 when it has none."""
    async with pool.acquire() as conn:
        open_by_level = await cases.open_by_level(conn)
        overdue_by_level = await deadlines.overdue_cases_by_level(conn, now)
    zero = dict.fromkeys((*LEVELS, NO_LEVEL), 0)
    return (
        zero | {NO_LEVEL if level is None else level: n for level, n in open_by_level.items()},
        zero | {NO_LEVEL if level is None else level: n for level, n in overdue_by_level.items()},
    )


async def refresh(pool: asyncpg.Pool, now: datetime | None = None) -> None:
    """Set the gauges from the database now."""
    open_by_level, overdue_by_level = await count(pool, now or datetime.now(UTC))
    for level, n in open_by_level.items():
        OPEN.labels(level).set(n)
    for level, n in overdue_by_level.items():
        OVERDUE.labels(level).set(n)


async def run(pool: asyncpg.Pool, stop: asyncio.Event, every_s: float = REFRESH_S) -> None:
    """Refresh every `every_s` seconds until `stop`."""
    while not stop.is_set():
        try:
            await refresh(pool)
        except RETRIABLE_READING as exc:
            log.warning("case_gauges_failed", error=str(exc) or type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
