"""Which infrastructure failures are passing: the database or the broker down, restarting or out of reach.

One classification, so that a request that meets one answers 503 with Retry-After (never 500) and a loop that
meets one waits and tries again, whichever service it is in.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from shared.errors import BrokerUnavailable, DatabaseUnavailable, InfrastructureUnavailable

# a connection lost, refused, shut down under us, or left broken by a terminated backend ("cannot switch to state")
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
)
BROKER_ERRORS: tuple[type[BaseException], ...] = (KafkaConnectionError, KafkaTimeoutError)


def as_unavailable(exc: BaseException) -> InfrastructureUnavailable | None:
    """Our 503 error for a passing infrastructure failure; None for anything else (a bug, bad input)."""
    if isinstance(exc, InfrastructureUnavailable):
        return exc
    if isinstance(exc, DATABASE_ERRORS):
        return DatabaseUnavailable(f"the database connection failed: {type(exc).__name__}: {exc}", retry_after=2)
    if isinstance(exc, BROKER_ERRORS) or (isinstance(exc, KafkaError) and exc.retriable):
        return BrokerUnavailable(f"the broker did not answer: {type(exc).__name__}: {exc}", retry_after=2)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return InfrastructureUnavailable(f"a connection failed: {type(exc).__name__}: {exc}", retry_after=2)
    return None
