"""asyncpg pools, with failures turned into messages that name the setting and what is wrong."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db.statements import CountingConnection
from shared.errors import ConfigurationError, DatabaseUnavailable, GridDispatchError
from shared.settings import DatabaseSettings

_SETTING = "GRIDDISPATCH_DB_URL"


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
