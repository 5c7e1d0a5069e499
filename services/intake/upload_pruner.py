"""Uploads bound to no case a day after they came (an app that uploaded and then never reported) are deleted,
rows and files, by a supervised task of intake's, at the retention task's pace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Counter

from services.intake.uploads import Uploads
from shared.errors import GridDispatchError
from shared.logging import get_logger
from shared.queries import attachments
from shared.settings import RetentionSettings
from shared.supervisor import Supervisor

log = get_logger(__name__)

PRUNED = Counter("griddispatch_attachments_pruned_total", "Uploads deleted because no case was bound to them in time")


async def prune_unbound(
    pool: asyncpg.Pool, uploads: Uploads, now: datetime, batch_rows: int = 1000, max_batches: int = 100
) -> int:
    """One pass: how many uploads went. A file whose delete fails is logged and left (its row is gone)."""
    cutoff, total = now - timedelta(hours=uploads.settings.unbound_hours), 0
    for _ in range(max_batches):
        async with pool.acquire() as conn, conn.transaction():
            keys = await attachments.delete_unbound(conn, cutoff, batch_rows)
        for key in (k for pair in keys for k in pair):
            try:
                await uploads.store.delete(key)
            except GridDispatchError as exc:
                log.warning("attachment_file_left", key=key, code=exc.code)
        total += len(keys)
        if len(keys) < batch_rows:
            break
    if total:
        PRUNED.inc(total)
        log.info("attachments_pruned", count=total, older_than=cutoff.isoformat())
    return total


def supervise_pruning(
    supervisor: Supervisor,
    pool: asyncpg.Pool,
    uploads: Uploads,
    settings: RetentionSettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    if not settings.enabled:
        return

    async def run() -> None:
        while not supervisor.stopping.is_set():
            await prune_unbound(pool, uploads, clock(), settings.batch_rows, settings.max_batches)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(supervisor.stopping.wait(), settings.interval_s)

    supervisor.start("attachment_pruning", run)
