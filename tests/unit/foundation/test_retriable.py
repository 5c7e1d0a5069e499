"""One classification of what a loop retries in place, and every loop at least as tolerant as its old list."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    UnknownTopicOrPartitionError,
)

from shared.errors import BrokerUnavailable, DatabaseUnavailable, InfrastructureUnavailable, InvalidInput
from shared.retriable import RETRIABLE, RETRIABLE_PUBLISHING, RETRIABLE_READING, is_retriable

PASSING = [
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError("refused"),
    ConnectionResetError("reset by peer"),
    TimeoutError(),
    OSError("no route to host"),
    KafkaConnectionError("No connection to node"),
    KafkaTimeoutError(),
    NotLeaderForPartitionError(),  # a KafkaError that says it is retriable
    DatabaseUnavailable("down"),
    BrokerUnavailable("down"),
]
STATEMENT = asyncpg.UndefinedTableError('relation "cases" does not exist')
REFUSED = MessageSizeTooLargeError()  # a KafkaError that is not retriable


@pytest.mark.parametrize("exc", PASSING, ids=lambda e: type(e).__name__)
def test_a_passing_outage_is_retried_everywhere(exc: BaseException) -> None:
    assert is_retriable(exc) and is_retriable(exc, reading=True) and is_retriable(exc, publishing=True)


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyError("x"), InvalidInput("bad"), RuntimeError("bug")])
def test_a_bug_or_bad_input_is_never_retried(exc: BaseException) -> None:
    assert not any(is_retriable(exc, reading=r, publishing=p) for r in (False, True) for p in (False, True))
    assert not isinstance(exc, RETRIABLE_READING + RETRIABLE_PUBLISHING)


def test_a_failed_statement_is_retried_only_by_a_loop_that_only_reads() -> None:
    assert not is_retriable(STATEMENT) and not is_retriable(STATEMENT, publishing=True)
    assert is_retriable(STATEMENT, reading=True) and isinstance(STATEMENT, RETRIABLE_READING)
    assert not isinstance(STATEMENT, RETRIABLE) and not isinstance(STATEMENT, RETRIABLE_PUBLISHING)


def test_a_broker_refusal_defers_a_publish_but_is_a_bug_in_an_event_handler() -> None:
    assert not REFUSED.retriable and not is_retriable(REFUSED)
    assert is_retriable(REFUSED, publishing=True) and isinstance(REFUSED, RETRIABLE_PUBLISHING)
    assert is_retriable(UnknownTopicOrPartitionError(), publishing=True)


def test_the_tuples_and_the_function_agree() -> None:
    for exc in [*PASSING, STATEMENT, REFUSED]:
        assert is_retriable(exc, reading=True) is isinstance(exc, RETRIABLE_READING)
        assert is_retriable(exc, publishing=True) is isinstance(exc, RETRIABLE_PUBLISHING)
        if not isinstance(exc, KafkaError):
            assert is_retriable(exc) is isinstance(exc, RETRIABLE)


# The lists each loop had before this classification (issue 14): each loop must still retry what it retried.
_BEFORE: dict[str, tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]] = {
    "dispatch runtime (event)": (
        (
            InfrastructureUnavailable,
            OSError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.OperatorInterventionError,
            asyncpg.InternalClientError,
        ),
        RETRIABLE,
    ),
    "dispatch runtime (publish, sweep, topics)": (
        (InfrastructureUnavailable, KafkaError, OSError),
        RETRIABLE_PUBLISHING,
    ),
    "escalation worker": (
        (
            InfrastructureUnavailable,
            OSError,
            KafkaError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.OperatorInterventionError,
            asyncpg.InternalClientError,
        ),
        RETRIABLE_PUBLISHING,
    ),
    "notify consumer and worker": (
        (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.OperatorInterventionError,
            asyncpg.InternalClientError,
        ),
        RETRIABLE,
    ),
    "dispatch registry holder": (
        (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, DatabaseUnavailable),
        RETRIABLE_READING,
    ),
    "notify streams, db listen, case gauges": (
        (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError),
        RETRIABLE_READING,
    ),
    "dispatch lag probe": ((KafkaError, BrokerUnavailable, OSError), RETRIABLE_READING),
}


@pytest.mark.parametrize("loop", sorted(_BEFORE))
def test_every_loop_still_retries_what_it_retried(loop: str) -> None:
    before, now = _BEFORE[loop]
    for kind in before:
        assert issubclass(kind, now), f"{loop}: {kind.__name__} is no longer retried"
