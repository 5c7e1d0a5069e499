"""The retention task: deletes what the rules (policy.py) let go, in small batches that never hold up the hot
path: each batch is one short transaction that takes only rows nobody has locked (SKIP LOCKED) and gives up
at once on a lock it would have to wait for (lock_timeout), with a pause between batches.

A pass works through every rule, each up to `max_batches` batches (a backlog is worked off over passes); the
supervisor restarts the task when a pass fails, and /readyz shows it while it is down."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from shared.logging import get_logger
from shared.retention.policy import Rule, rules_for
from shared.settings import RetentionSettings, ServiceName
from shared.supervisor import Supervisor
from shared.topics import Topics

log = get_logger(__name__)

DELETED = Counter("griddispatch_retention_deleted_total", "Rows deleted by the retention task", ["rule"])
BATCH_SECONDS = Histogram(
    "griddispatch_retention_batch_seconds", "Time of one retention DELETE batch (one transaction)", ["rule"]
)
SKIPPED = Counter(
    "griddispatch_retention_batches_skipped_total",
    "Retention batches given up because they would have waited on a lock (tried again next pass)",
    ["rule"],
)
LAST_PASS = Gauge("griddispatch_retention_last_pass_timestamp_seconds", "When the last retention pass ended")

MARKS = "retention_marks"


def delete_batch_sql(rule: Rule) -> str:
    """One batch: the oldest-enough rows matching the rule, their children first; returns how many went and,
    for a marked rule, the highest key deleted. `= ANY(ARRAY(...))` keeps it a TID or index scan."""
    parts = [
        f"doomed AS (SELECT {rule.key} AS k FROM {rule.table}"
        f" WHERE {rule.age_column} < $1 AND ({rule.condition}) LIMIT $2 FOR UPDATE SKIP LOCKED)"
    ]
    parts += [
        f"child_{i} AS (DELETE FROM {child.table} WHERE {child.column} = ANY(ARRAY(SELECT k FROM doomed)))"
        for i, child in enumerate(rule.children)
    ]
    parts.append(
        f"gone AS (DELETE FROM {rule.table} WHERE {rule.key} = ANY(ARRAY(SELECT k FROM doomed))"
        f" RETURNING {rule.key} AS k)"
    )
    top = "max(k)" if rule.mark else "NULL::bigint"
    return "WITH " + ",\n     ".join(parts) + f"\nSELECT count(*) AS n, {top} AS top FROM gone"


async def read_mark(conn: asyncpg.Pool | asyncpg.Connection, name: str) -> int | None:
    """The highest key a marked rule has deleted (None: nothing yet)."""
    value = await conn.fetchval(f"SELECT up_to FROM {MARKS} WHERE name = $1", name)
    return None if value is None else int(value)


class Pruner:
    """Enforces `rules` on `pool`: `run` until stopped (under a supervisor), `prune` for one pass."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        rules: Sequence[Rule],
        settings: RetentionSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.rules = tuple(rules)
        self.settings = settings
        self.clock = clock
        self._sql = {rule.name: delete_batch_sql(rule) for rule in self.rules}

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.prune()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.interval_s)

    async def prune(self) -> dict[str, int]:
        """One pass over every rule; how many rows each deleted."""
        now = self.clock()
        started = time.monotonic()
        deleted = {rule.name: await self._prune_rule(rule, now) for rule in self.rules}
        LAST_PASS.set_to_current_time()
        if any(deleted.values()):
            log.info("retention_pass", deleted=deleted, seconds=round(time.monotonic() - started, 3))
        return deleted

    async def _prune_rule(self, rule: Rule, now: datetime) -> int:
        cutoff, total = now - rule.keep, 0
        for _ in range(self.settings.max_batches):
            n = await self._batch(rule, cutoff)
            if n is None:
                break
            total += n
            if n < self.settings.batch_rows:
                break
            await asyncio.sleep(self.settings.pause_s)  # pacing: let the hot path's statements go first
        return total

    async def _batch(self, rule: Rule, cutoff: datetime) -> int | None:
        started = time.monotonic()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '1s'; SET LOCAL statement_timeout = '30s'")
                row = await conn.fetchrow(self._sql[rule.name], cutoff, self.settings.batch_rows)
                if rule.mark and row["top"] is not None:
                    await conn.execute(
                        f"""INSERT INTO {MARKS} (name, up_to) VALUES ($1, $2)
                            ON CONFLICT (name) DO UPDATE SET up_to = GREATEST({MARKS}.up_to, EXCLUDED.up_to),
                                                             at = now()""",
                        rule.name,
                        row["top"],
                    )
        except asyncpg.LockNotAvailableError:
            SKIPPED.labels(rule.name).inc()
            log.warning("retention_batch_skipped", rule=rule.name, reason="lock_timeout")
            return None
        BATCH_SECONDS.labels(rule.name).observe(time.monotonic() - started)
        n = int(row["n"])
        DELETED.labels(rule.name).inc(n)
        return n


def supervise_retention(
    supervisor: Supervisor, pool: asyncpg.Pool, service: ServiceName, topics: Topics, settings: RetentionSettings
) -> Pruner | None:
    """Start the service's retention task under its supervisor (rules checked now: a horizon shorter than what
    depends on it stops the start); None when it is switched off or the service owns no rule."""
    rules = rules_for(service, settings, topics)
    if not settings.enabled or not rules:
        return None
    pruner = Pruner(pool, rules, settings)
    supervisor.start("retention", lambda: pruner.run(supervisor.stopping))
    log.info("retention_started", rules={r.name: str(r.keep) for r in rules}, interval_s=settings.interval_s)
    return pruner
