"""A database outage during the outbox sweep defers it; it must not escape into faust's timer.

Found by the fault suite (`make chaos CHAOS_SCENARIOS=postgres`): before, the exception stopped the timer,
faust crashed the app, and both dispatch workers stayed up without working after PostgreSQL restarted.
"""

from __future__ import annotations

from types import TracebackType

import asyncpg
import pytest

from services.dispatch.runtime import Runtime
from shared.settings import DatabaseSettings, KafkaSettings


class _Refusing:
    """A pool whose every connection is refused the way PostgreSQL refuses it while it restarts."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def acquire(self) -> _Refusing:
        return self

    async def __aenter__(self) -> None:
        raise self.error

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def _runtime(error: Exception) -> Runtime:
    runtime = Runtime(KafkaSettings(), DatabaseSettings())
    runtime.pool = _Refusing(error)  # type: ignore[assignment]
    runtime.producer = None  # type: ignore[assignment]  # never reached: the database refuses first
    return runtime


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
)
async def test_a_database_outage_defers_the_sweep(error: Exception) -> None:
    runtime = _runtime(error)
    assert await runtime.sweep_outbox() == 0


async def test_a_bug_in_the_sweep_still_surfaces() -> None:
    runtime = _runtime(asyncpg.UndefinedTableError('relation "outbox" does not exist'))
    with pytest.raises(asyncpg.UndefinedTableError):
        await runtime.sweep_outbox()
