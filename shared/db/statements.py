"""Every SQL statement a pooled connection sends, counted by its first keyword (`griddispatch_db_statements_total`).

`CountingConnection` (the connection class of `create_pool`) counts each call of `execute`, `fetch`, `fetchrow`,
`fetchval`, each argument row of `executemany` and `fetchmany` (PostgreSQL executes the statement once per row,
in one round trip), and each COPY (`copy_records_to_table`, `copy_to_table`, `copy_from_table`,
`copy_from_query`), with or without arguments, failed ones too. asyncpg sends its own statements through
`execute`, so these count as well: the BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE of `conn.transaction()`,
the pool's reset query when a connection is released (one message of four commands: counted once, kind
`reset`), the ROLLBACK of a transaction left open at release, and LISTEN / UNLISTEN. Not counted: asyncpg's type
introspection (one to three statements the first time a connection meets a type it has no codec for),
statements run through `Connection.prepare()` or a cursor (nothing in this project does), and the Parse/Describe
of preparing a statement (an execution is what counts; a cached statement is not prepared again).

Why not asyncpg's query logger (`Connection.add_query_logger`), which sees the same statements plus the
introspection but neither COPY nor executemany's rows beyond the first: with any logger registered asyncpg times
every statement in a context manager, builds a LoggedQuery and schedules the logger with `call_soon`: 10-15 us
more CPU per statement on this project's 2-core machine, against 4 us for these overrides (`python -m
bench.db_statements` measures the three ways).

The same connection resets its session on release only when it changed the session: asyncpg's reset (advisory
locks, cursors, LISTEN, settings) is a round trip of four commands at every release, about ten per case. A
statement that can leave session state behind marks the connection (`leaves_session_state`): any statement of
kind `other` but SET LOCAL and SHOW (SET, LISTEN, DECLARE, CREATE TEMP ..., DDL), and any that names an advisory lock or
set_config. An open transaction is still rolled back at release, and listener callbacks are still removed.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Iterable, Iterator
from typing import Any

import asyncpg
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

KINDS = (
    "select",
    "insert",
    "update",
    "delete",
    "with",
    "begin",
    "commit",
    "rollback",
    "savepoint",
    "copy",
    "reset",
    "other",
)
_FIRST_WORDS = {
    "SELECT": "select",
    "INSERT": "insert",
    "UPDATE": "update",
    "DELETE": "delete",
    "WITH": "with",
    "BEGIN": "begin",
    "START": "begin",
    "COMMIT": "commit",
    "END": "commit",
    "ROLLBACK": "rollback",
    "ABORT": "rollback",
    "SAVEPOINT": "savepoint",
    "RELEASE": "savepoint",
    "COPY": "copy",
}
# Plain ints, read by the collector at each scrape: a prometheus_client Counter's inc() (a lock) costs about as
# much again as the rest of the counting, and a connection is only ever used from its event loop's thread.
_COUNTS: dict[str, int] = dict.fromkeys(KINDS, 0)  # every kind exported from the start, at 0
_KIND_BY_QUERY: dict[str, str] = {}  # statement text -> its kind: a few dozen texts per service
_KIND_BY_QUERY_MAX = 4096  # SQL built on the fly must not grow it without bound: beyond this, classified every time


def kind_of(query: str) -> str:
    """The `kind` label of a statement: its first keyword (select, insert, ..., commit), `reset` for the pool's
    reset query, `savepoint` for SAVEPOINT / RELEASE / ROLLBACK TO, else `other`."""
    words = query.lstrip(" \t\r\n(").split(None, 2)
    if not words:
        return "other"
    first = words[0].rstrip(";").upper()
    if first == "SELECT" and "RESET ALL" in query and "UNLISTEN *" in query:
        return "reset"  # asyncpg's reset on release: SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; ...
    if first == "ROLLBACK" and len(words) > 1 and words[1].upper() == "TO":
        return "savepoint"
    if first in ("CLOSE", "UNLISTEN") and query.rstrip().endswith("RESET ALL;"):
        return "reset"  # the same, on a server without advisory locks
    return _FIRST_WORDS.get(first, "other")


def leaves_session_state(query: str, kind: str) -> bool:
    """Whether a statement may change the session beyond its transaction (so the pool must reset it on release)."""
    if kind == "reset":
        return False
    lowered = query.lower()
    if ("advisory" in lowered and "advisory_xact" not in lowered) or "set_config" in lowered:
        return True
    return kind == "other" and not lowered.lstrip(" \t\r\n(").startswith(("set local ", "show "))


_SESSION_BY_QUERY: dict[str, bool] = {}


def note(query: str, statements: int = 1) -> bool:
    """Count statements sent with this text; whether it may leave session state behind."""
    kind = _KIND_BY_QUERY.get(query)
    if kind is None:
        kind = kind_of(query)
        if len(_KIND_BY_QUERY) < _KIND_BY_QUERY_MAX:
            _KIND_BY_QUERY[query] = kind
            _SESSION_BY_QUERY[query] = leaves_session_state(query, kind)
        _COUNTS[kind] += statements
        return leaves_session_state(query, kind)
    _COUNTS[kind] += statements
    return _SESSION_BY_QUERY[query]


class _Statements(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "griddispatch_db_statements",
            "SQL statements sent to PostgreSQL on pooled connections (shared/db/statements.py), by first keyword",
            labels=["kind"],
        )
        for kind, statements in _COUNTS.items():
            family.add_metric([kind], statements)
        yield family


REGISTRY.register(_Statements())


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection that counts the statements it sends (see the module's docstring for what counts), and resets
    its session on release only when a statement may have changed it."""

    __slots__ = ("_session_changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_changed = False

    def _note(self, query: str, statements: int = 1) -> None:
        if note(query, statements):
            self._session_changed = True
        elif _KIND_BY_QUERY.get(query) == "reset":
            self._session_changed = False

    def get_reset_query(self) -> str:
        """asyncpg's reset query when the session may have changed, else none (no round trip at release)."""
        if self._session_changed:
            return super().get_reset_query()  # type: ignore[no-any-return]
        return ""

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().execute(query, *args, **kwargs)  # type: ignore[no-any-return]
        finally:
            self._note(query)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return await super().fetch(query, *args, **kwargs)  # type: ignore[no-any-return]
        finally:
            self._note(query)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().fetchrow(query, *args, **kwargs)
        finally:
            self._note(query)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().fetchval(query, *args, **kwargs)
        finally:
            self._note(query)

    async def executemany(self, command: str, args: Iterable[Any], **kwargs: Any) -> None:
        args, rows = _rows(args)
        try:
            await super().executemany(command, args, **kwargs)
        finally:
            self._note(command, rows[0])

    async def fetchmany(self, query: str, args: Iterable[Any], **kwargs: Any) -> list[Any]:
        args, rows = _rows(args)
        try:
            return await super().fetchmany(query, args, **kwargs)  # type: ignore[no-any-return]
        finally:
            self._note(query, rows[0])

    async def copy_from_table(self, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().copy_from_table(*args, **kwargs)  # type: ignore[no-any-return]
        finally:
            _COUNTS["copy"] += 1

    async def copy_from_query(self, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().copy_from_query(*args, **kwargs)  # type: ignore[no-any-return]
        finally:
            _COUNTS["copy"] += 1

    async def copy_to_table(self, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().copy_to_table(*args, **kwargs)  # type: ignore[no-any-return]
        finally:
            _COUNTS["copy"] += 1

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().copy_records_to_table(*args, **kwargs)  # type: ignore[no-any-return]
        finally:
            _COUNTS["copy"] += 1


def _rows(args: Any) -> tuple[Any, list[int]]:
    """The argument rows to pass on, and a cell that holds how many there are once they have been sent."""
    if isinstance(args, collections.abc.Sized):
        return args, [len(args)]
    if isinstance(args, collections.abc.AsyncIterable):
        return args, [1]  # not counted row by row
    seen = [0]
    return _counted(args, seen), seen


def _counted(rows: Iterable[Any], seen: list[int]) -> Iterator[Any]:
    for row in rows:
        seen[0] += 1
        yield row


def sent() -> dict[str, int]:
    """What this process has counted so far, by kind (for tests and in-process benchmarks)."""
    return dict(_COUNTS)
