"""A database restart must not end the deadline worker's loop.

Found by the fault suite (`make chaos CHAOS_SCENARIOS=postgres`): "the database system is shutting down"
(asyncpg.CannotConnectNowError) was not among the retried errors, so the worker's task ended and no deadline
fired again, while the process itself stayed up and ready.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka.errors import KafkaTimeoutError

from services.escalation.clock import SystemClock
from services.escalation.worker import DeadlineWorker
from shared.settings import EscalationSettings
from shared.topics import Topics


class _Listener:
    async def add_listener(self, *_: Any) -> None:
        return None

    async def remove_listener(self, *_: Any) -> None:
        return None


class _Acquire:
    def __init__(self, pool: _RestartingPool) -> None:
        self.pool = pool

    def __await__(self) -> Any:  # `await pool.acquire()`: the LISTEN connection
        async def listener() -> _Listener:
            return _Listener()

        return listener().__await__()

    async def __aenter__(self) -> None:  # `async with pool.acquire()`: every tick meets the restart
        self.pool.attempts += 1
        raise self.pool.errors[self.pool.attempts % len(self.pool.errors)]

    async def __aexit__(self, *_: Any) -> None:
        return None


class _RestartingPool:
    errors = (
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    )

    def __init__(self) -> None:
        self.attempts = 0

    def acquire(self) -> _Acquire:
        return _Acquire(self)

    async def release(self, _: Any) -> None:
        return None


async def test_the_worker_keeps_retrying_through_a_database_restart() -> None:
    pool = _RestartingPool()
    worker = DeadlineWorker(pool, None, Topics("t"), SystemClock(), EscalationSettings())  # type: ignore[arg-type]
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    started = datetime.now(UTC)
    while pool.attempts < 3 and (datetime.now(UTC) - started).total_seconds() < 60:  # back-off 0.5, 1, 2 s
        await asyncio.sleep(0.1)
    assert not run.done(), run.exception() if run.done() else None
    assert pool.attempts >= 3  # each of the restart's errors was met and retried
    stop.set()
    await asyncio.wait_for(run, timeout=5)


class _BrokenConnectionPool(_RestartingPool):
    """What issue 13's dead loop could meet: errors outside the old retried list."""

    errors = (  # type: ignore[assignment]
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        KafkaTimeoutError(),  # raised by aiokafka's send() itself, not wrapped by the outbox
        asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
    )


async def test_the_worker_keeps_retrying_through_a_broken_connection_and_a_send_timeout() -> None:
    pool = _BrokenConnectionPool()
    worker = DeadlineWorker(pool, None, Topics("t"), SystemClock(), EscalationSettings())  # type: ignore[arg-type]
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    started = datetime.now(UTC)
    while pool.attempts < 3 and (datetime.now(UTC) - started).total_seconds() < 10:
        await asyncio.sleep(0.1)
    assert not run.done(), run.exception() if run.done() else None
    assert pool.attempts >= 3
    stop.set()
    await asyncio.wait_for(run, timeout=5)
