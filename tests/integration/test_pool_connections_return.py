"""Every connection taken from a pool goes back, even when its first statement fails or its task is cancelled.

`Pool.close()` waits for every connection out, for ever: one that never comes back hangs the service's stop
(a full-suite run hung 300 s in a dispatch fixture's teardown this way). On the real PostgreSQL, with pools of
one connection, so a connection kept is a connection missing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from services.dispatch.unit_of_work import UnitOfWork
from shared.db import close_pool, create_pool
from shared.db.listen import PoolListener
from shared.settings import DatabaseSettings


async def _begin(conn: asyncpg.Connection) -> None:
    await conn.execute("BEGIN")  # a transaction opened by hand: asyncpg refuses to start another one on it


@pytest.fixture
def one(database_settings: DatabaseSettings) -> DatabaseSettings:
    return database_settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})


async def test_a_unit_of_work_whose_begin_fails_gives_its_connection_back(one: DatabaseSettings) -> None:
    pool = await create_pool(one, setup=_begin)  # every acquire hands out a connection BEGIN then fails on
    try:
        with pytest.raises(asyncpg.InterfaceError, match="manually started transaction"):
            async with UnitOfWork(pool, ctx=None):  # type: ignore[arg-type]  # __aenter__ never reaches the context
                pass
        assert pool.get_idle_size() == pool.get_size() == 1  # back in the pool
    finally:
        assert await close_pool(pool, timeout_s=5)


async def test_a_listener_cancelled_while_it_unlistens_gives_its_connection_back(one: DatabaseSettings) -> None:
    pool = await create_pool(one)
    try:
        listener = PoolListener(pool, "griddispatch_test_cancelled", lambda *_: None)
        await listener.ensure()
        assert pool.get_idle_size() == 0
        closing = asyncio.get_running_loop().create_task(listener.close())
        await asyncio.sleep(0)  # the task runs up to its UNLISTEN and waits for the server's answer
        closing.cancel()  # a supervisor stopping it right there
        with pytest.raises(asyncio.CancelledError):
            await closing
        assert closing.cancelled() and not listener.listening
        async with asyncio.timeout(5):
            async with pool.acquire() as conn:  # the pool's only connection is there to take
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        assert await close_pool(pool, timeout_s=5)


@pytest.mark.leaks_a_connection
async def test_a_pool_with_a_connection_never_returned_is_terminated_and_the_leak_logged(
    one: DatabaseSettings,
) -> None:
    pool = await create_pool(one)
    kept: Any = await pool.acquire()  # never released
    with capture_logs() as logs:
        assert not await close_pool(pool, timeout_s=0.5)
    (timed_out,) = [e for e in logs if e["event"] == "pool_close_timed_out"]
    assert timed_out["log_level"] == "error" and timed_out["connections_out_at_stop"] == 1
    with pytest.raises(asyncpg.InterfaceError, match="released back to the pool"):
        await kept.fetchval("SELECT 1")  # terminated with the pool, rather than waited for
