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
# a transaction the database rolled back to break a deadlock or a serialization conflict: the same work again
# succeeds once the other transaction is through
CONFLICT_ERRORS: tuple[type[BaseException], ...] = (asyncpg.TransactionRollbackError,)

# Retry in place: a passing outage (ours, the database's, the broker's, or the network's: OSError covers
# ConnectionError and TimeoutError). What an event handler retries rather than dead-letters.
RETRIABLE: tuple[type[BaseException], ...] = (
    InfrastructureUnavailable,
    OSError,
    *DATABASE_ERRORS,
    *CONFLICT_ERRORS,
    *BROKER_ERRORS,
)
# A loop that only reads, listens, probes or reloads has no event to dead-letter and loses nothing by trying
# later: it also retries a failed statement (a table not migrated yet, a statement cancelled by a restarting
# server) and any broker error, rather than stop.
RETRIABLE_READING: tuple[type[BaseException], ...] = (*RETRIABLE, asyncpg.PostgresError, KafkaError)
# Publishing from the outbox: whatever the broker answers, the rows stay in the outbox for the next sweep, so
# every KafkaError (send() raising before the delivery, a refusal) defers the publish rather than stop the loop.
RETRIABLE_PUBLISHING: tuple[type[BaseException], ...] = (*RETRIABLE, KafkaError)


def is_retriable(exc: BaseException, *, reading: bool = False, publishing: bool = False) -> bool:
    """Whether a loop should wait and try again: RETRIABLE, a KafkaError that says it is retriable, and with
    `reading` any database or broker error (RETRIABLE_READING), with `publishing` any broker error
    (RETRIABLE_PUBLISHING). Anything else is a bug or bad input."""
    if isinstance(exc, RETRIABLE):
        return True
    if isinstance(exc, KafkaError):
        return reading or publishing or bool(exc.retriable)
    return reading and isinstance(exc, asyncpg.PostgresError)


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
