"""asyncpg pools, with failures turned into messages that name the setting and what is wrong."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from prometheus_client import Counter

from shared.db.statements import CountingConnection
from shared.errors import ConfigurationError, DatabaseUnavailable, GridDispatchError
from shared.logging import get_logger
from shared.settings import DatabaseSettings

log = get_logger(__name__)
_SETTING = "GRIDDISPATCH_DB_URL"
CLOSE_TIMEOUT_S = 10.0
POOL_CLOSE_TIMEOUTS = Counter(
    "griddispatch_db_pool_close_timeouts_total",
    "Pools that still had connections out at stop and were terminated after the close timeout (a connection leak)",
)


def describe_dsn(url: str) -> str:
    """The DSN with its password masked, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _translate(settings: DatabaseSettings, exc: BaseException) -> GridDispatchError:
    where = describe_dsn(settings.url)
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return ConfigurationError(f"PostgreSQL refused the credentials in {where} (setting {_SETTING}): {exc}")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return ConfigurationError(f"PostgreSQL has no such database in {where} (setting {_SETTING}): {exc}")
    if isinstance(exc, asyncpg.ClientConfigurationError | ValueError):
        return ConfigurationError(f"malformed database URL {where} (setting {_SETTING}): {exc}")
    return DatabaseUnavailable(f"PostgreSQL unreachable at {where} (setting {_SETTING}): {exc or type(exc).__name__}")


_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)


async def create_pool(settings: DatabaseSettings | None = None, **overrides: object) -> asyncpg.Pool:
    """A pool whose connections count every statement they send (`griddispatch_db_statements_total`,
    shared/db/statements.py), unless `connection_class` is overridden."""
    settings = settings or DatabaseSettings()
    overrides.setdefault("connection_class", CountingConnection)
    try:
        pool = await asyncpg.create_pool(
            settings.url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.connect_timeout_s,
            **overrides,
        )
    except _CONNECT_ERRORS as exc:
        raise _translate(settings, exc) from exc
    assert pool is not None
    return pool


async def connect(settings: DatabaseSettings | None = None) -> asyncpg.Connection:
    settings = settings or DatabaseSettings()
    try:
        return await asyncpg.connect(settings.url, timeout=settings.connect_timeout_s)
    except _CONNECT_ERRORS as exc:
        raise _translate(settings, exc) from exc


async def check_database(settings: DatabaseSettings | None = None) -> None:
    """Raise a GridDispatchError unless PostgreSQL answers a query."""
    conn = await connect(settings)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def close_pool(pool: asyncpg.Pool, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
    """Close gracefully: wait up to `timeout_s` for every connection to come back (Pool.close alone waits for
    ever on one that never does), then terminate, logged as an error with how many were still out: a leak.
    True when it closed cleanly."""
    out_at_stop = _checked_out(pool)
    try:
        async with asyncio.timeout(timeout_s):
            await pool.close()  # on the timeout's cancellation asyncpg terminates the pool itself
    except TimeoutError:
        POOL_CLOSE_TIMEOUTS.inc()
        log.error(
            "pool_close_timed_out", seconds=timeout_s, connections_out_at_stop=out_at_stop, tasks=_tasks_waiting()
        )
        pool.terminate()
        return False
    return True


def _tasks_waiting() -> list[str]:
    """Where each other task of the loop waits, along its chain of awaits: which one holds the connection."""
    current = asyncio.current_task()
    return sorted(f"{t.get_name()}: {_awaiting(t.get_coro())}" for t in asyncio.all_tasks() if t is not current)


def _awaiting(coro: object, depth: int = 12) -> str:
    steps = []
    while coro is not None and depth > 0:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            steps.append(f"{frame.f_code.co_name}@{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        depth -= 1
    return " > ".join(steps)


def _checked_out(pool: asyncpg.Pool) -> int:
    """Connections taken and not given back, a broken one included (get_size() and get_idle_size() count only
    connected ones: the connection a leak keeps is usually broken). asyncpg has no public count of these."""
    return sum(1 for holder in getattr(pool, "_holders", ()) if getattr(holder, "_in_use", None) is not None)
