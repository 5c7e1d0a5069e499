"""What dispatch workers sent to PostgreSQL and committed over a stretch of a `bench.dispatch` run.

* **Statements**: `griddispatch_db_statements_total` (shared/db/statements.py) read from each worker's /metrics
  at the stretch's ends (or this process's own count, for the in-process flow): exact when read.
* **Commits**: `pg_stat_database.xact_commit` of the worker's own database, read from the `postgres` database
  (so that reading it commits nothing there), less the transactions this bench ran on the worker's database
  meanwhile (counting rows and the outbox: each statement of ours is a transaction of its own, counted as sent,
  and so is each connection's start; the connection is closed before the figure is read). Every committed
  transaction counts, read-only ones too.

PostgreSQL (15+) keeps a backend's statistics to itself for up to 10 s after it goes idle (PGSTAT_IDLE_INTERVAL)
and flushes them at once when it exits; so a stretch ends either with the worker stopped (its backends gone) or
after `settle()` has waited out the flush since the worker's last work. One exception: a backend that LISTENs
reads each NOTIFY it is woken by in a transaction of its own (the deadlines and case_events triggers notify)
and publishes that count only when it next runs a statement or exits, so a stretch ended by `settle()` may miss
some of those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.db.statements import CountingConnection, sent

T = TypeVar("T")
STATS_FLUSH_S = 10.5  # an idle backend's statistics reach pg_stat_database within 10 s (PostgreSQL's own constant)
OWN_APP = "bench-dispatch"  # application_name of this bench's connections to a worker's database
STATEMENTS = "griddispatch_db_statements"


async def scrape_statements(ports: Sequence[int]) -> dict[str, float]:
    """griddispatch_db_statements_total by kind, summed over the workers listening on these ports."""
    total: dict[str, float] = {}
    async with httpx.AsyncClient() as http:
        for port in ports:
            response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            response.raise_for_status()
            for family in text_string_to_metric_families(response.text):
                if family.name == STATEMENTS:
                    for sample in family.samples:
                        if sample.name == f"{STATEMENTS}_total":
                            kind = sample.labels["kind"]
                            total[kind] = total.get(kind, 0.0) + sample.value
    if not total:
        raise RuntimeError(f"no {STATEMENTS}_total on the workers' /metrics (ports {list(ports)})")
    return total


@dataclass(frozen=True)
class Mark:
    statements: dict[str, float]
    commits: int


@dataclass(frozen=True)
class Stretch:
    """Statements and commits between two marks, for `reports` reports."""

    reports: int
    statements: dict[str, float]
    commits: int

    @classmethod
    def between(cls, before: Mark, after: Mark, reports: int) -> Stretch:
        kinds = set(before.statements) | set(after.statements)
        delta = {k: after.statements.get(k, 0.0) - before.statements.get(k, 0.0) for k in kinds}
        return cls(reports, {k: v for k, v in delta.items() if v}, after.commits - before.commits)

    @property
    def statements_per_report(self) -> float:
        return sum(self.statements.values()) / self.reports if self.reports else float("nan")

    @property
    def commits_per_report(self) -> float:
        return self.commits / self.reports if self.reports else float("nan")

    def by_kind(self) -> str:
        ordered = sorted(self.statements.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{kind} {n / self.reports:.2f}" for kind, n in ordered)


class Ledger:
    """One worker database's commit count, net of this bench's own transactions on it."""

    def __init__(self, admin: asyncpg.Connection, url: str, database: str) -> None:
        self.admin = admin  # a connection to the `postgres` database
        self.url = url
        self.database = database
        self.own = 0  # transactions this bench has run on the database so far

    async def commits(self) -> int:
        """xact_commit of the database, less ours."""
        total: int = await self.admin.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", self.database
        )
        return total - self.own

    async def mark(self, statements: dict[str, float]) -> Mark:
        return Mark(statements, await self.commits())

    async def query(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`work` on a connection of our own to the database; each of its statements is counted as one transaction
        of ours, and its backend has exited (its statistics flushed) when this returns."""
        conn = await asyncpg.connect(
            self.url, connection_class=CountingConnection, server_settings={"application_name": OWN_APP}
        )
        pid = conn.get_server_pid()
        before = sum(sent().values())
        try:
            return await work(conn)
        finally:
            self.own += 1 + sum(sent().values()) - before  # 1: a backend's start commits a transaction of its own
            await conn.close()
            await self._gone([pid])

    async def backends(self) -> list[int]:
        """The pids of the PostgreSQL backends serving the workers (not ours)."""
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2", self.database, OWN_APP
        )
        return [r["pid"] for r in rows]

    async def workers_gone(self, timeout_s: float = 60) -> None:
        """Until no worker backend serves the database (stopped workers: their statistics are flushed)."""
        await self._gone(await self.backends(), timeout_s)

    async def _gone(self, pids: list[int], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while pids and time.monotonic() < deadline:
            left = await self.admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids)
            if not left:
                return
            await asyncio.sleep(0.05)


async def settle(since: float) -> None:
    """Until the statistics of what the workers did up to `since` (time.monotonic) have reached pg_stat_database."""
    await asyncio.sleep(max(0.0, since + STATS_FLUSH_S - time.monotonic()))
