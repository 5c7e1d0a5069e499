"""Faults for the fault tests: a database's backends terminated, a client's Kafka connections cut, a tick that raises."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaClient
from prometheus_client import REGISTRY

from chaos.scenarios import terminate_backends as chaos_terminate_backends
from shared.settings import DatabaseSettings


async def terminate_backends(database: DatabaseSettings) -> int:
    """pg_terminate_backend every other backend of this test's own database (as `make chaos` does); how many."""
    return await chaos_terminate_backends(database.url)


async def listening(database: DatabaseSettings, channel: str) -> int:
    """Backends of this database whose last statement was LISTEN on `channel` (an idle LISTEN connection)."""
    conn = await asyncpg.connect(database.url)
    try:
        n: int = await conn.fetchval(
            """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state = 'idle' AND query ILIKE $1""",
            f'LISTEN "{channel}"%',
        )
    finally:
        await conn.close()
    return n


@contextlib.asynccontextmanager
async def kafka_cut(*clients: AIOKafkaClient, every_s: float = 0.02) -> AsyncIterator[None]:
    """While inside: every connection these clients hold to the broker is closed as soon as it is open."""
    stop = asyncio.Event()

    async def cut() -> None:
        while not stop.is_set():
            for client in clients:
                for conn in list(client._conns.values()):
                    conn.close(reason=None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    cutter = asyncio.get_running_loop().create_task(cut(), name="kafka-cut")
    try:
        yield
    finally:
        stop.set()
        await cutter


def raise_once(target: Any, method: str, error: Exception) -> list[int]:
    """Make `target.method` raise `error` on its next call only; returns a list that counts the calls made."""
    original: Callable[..., Awaitable[Any]] = getattr(target, method)
    calls: list[int] = []

    async def patched(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return await original(*args, **kwargs)

    setattr(target, method, patched)
    return calls


def restarts(task: str) -> float:
    return REGISTRY.get_sample_value("griddispatch_task_restarts_total", {"task": task}) or 0.0


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f}s: {what}")
