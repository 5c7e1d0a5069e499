"""griddispatch_db_statements_total moves by exactly what a pooled connection sends to the real PostgreSQL.

Every service's pool comes from `shared.db.create_pool`; the counter is what `bench.dispatch` divides by the
number of reports. Each test makes its own table and its own pool, and reads the counter of this process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.db import create_pool
from shared.db.statements import KINDS, sent
from shared.metrics import render
from shared.settings import DatabaseSettings


@pytest.fixture
async def pool(database_settings: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    one = database_settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})  # the same connection
    pool = await create_pool(one)
    yield pool
    await pool.close()


@pytest.fixture
async def table(database_settings: DatabaseSettings) -> AsyncIterator[str]:
    name = f"stmt_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_settings.url)  # not a counted one: the setup is not measured
    try:
        await conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, body text NOT NULL)")
        yield name
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {name}")
        await conn.close()


def moved_by(before: dict[str, int]) -> dict[str, int]:
    """The counter's movement since `before`, by kind (counted as each statement returns or fails)."""
    now = sent()
    return {kind: n for kind in KINDS if (n := now[kind] - before[kind])}


def rows(n: int, start: int = 0) -> Iterator[tuple[int, str]]:
    return ((i, f"row {i}") for i in range(start, start + n))


async def test_a_transaction_counts_every_statement_it_sends(pool: asyncpg.Pool, table: str) -> None:
    async with pool.acquire() as conn:
        await conn.fetchval(f"SELECT count(*) FROM {table}")  # the statement and its types known to this connection
    before = sent()
    async with pool.acquire() as conn, conn.transaction():  # BEGIN
        await conn.execute(f"INSERT INTO {table} VALUES ($1, $2)", 1, "one")
        await conn.execute(f"INSERT INTO {table} VALUES (2, 'two')")  # no arguments: the simple protocol
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", list(rows(3, start=10)))  # 3 executions
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows(2, start=20))  # an iterator: 2
        await conn.copy_records_to_table(table, records=list(rows(4, start=30)))  # one COPY
        async with conn.transaction():  # SAVEPOINT
            await conn.execute(f"UPDATE {table} SET body = 'uno' WHERE id = 1")
        # RELEASE SAVEPOINT
        await conn.fetchrow(f"SELECT * FROM {table} WHERE id = $1", 1)
        await conn.fetchval(f"SELECT count(*) FROM {table}")
        await conn.fetch(f"DELETE FROM {table} WHERE id >= 30 RETURNING id")
        await conn.fetchmany(f"UPDATE {table} SET body = $2 WHERE id = $1 RETURNING id", [(10, "x"), (11, "y")])
        # COMMIT
    # nothing here changed the session: the pool releases the connection without a reset

    assert moved_by(before) == {
        "begin": 1,
        "insert": 7,
        "copy": 1,
        "savepoint": 2,
        "update": 3,
        "select": 2,
        "delete": 1,
        "commit": 1,
    }
    async with pool.acquire() as conn:  # and the database holds what was sent
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE body IN ('uno', 'x', 'y')") == 3
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 7


async def test_a_failed_statement_and_its_rollback_count(pool: asyncpg.Pool, table: str) -> None:
    await pool.execute(f"INSERT INTO {table} VALUES (1, 'one')")
    before = sent()
    with pytest.raises(asyncpg.UniqueViolationError):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES ($1, $2)", 1, "again")
    await pool.executemany(f"INSERT INTO {table} VALUES ($1, $2)", list(rows(2, start=5)))  # on the pool itself

    assert moved_by(before) == {"begin": 1, "insert": 3, "rollback": 1}


async def test_the_exposition_shows_the_counts(pool: asyncpg.Pool, table: str) -> None:
    await pool.fetchval(f"SELECT count(*) FROM {table}")
    families = {f.name: f for f in text_string_to_metric_families(render()[0].decode())}
    samples = {s.labels["kind"]: s.value for s in families["griddispatch_db_statements"].samples}
    assert samples == {kind: float(n) for kind, n in sent().items()}  # every kind, read at the scrape
    assert samples["select"] >= 1


async def test_a_session_changed_is_reset_on_release_and_only_then(pool: asyncpg.Pool, table: str) -> None:
    """A setting, a LISTEN or a session advisory lock does not outlive its acquirer; a plain one costs no reset."""
    before = sent()
    async with pool.acquire() as conn:
        await conn.execute("SET application_name = 'left behind'")
    async with pool.acquire() as conn:  # the same connection (a pool of one)
        assert await conn.fetchval("SHOW application_name") != "left behind"
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(77123)")
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = $1 AND objid = 77123", "advisory") == 0
        )
    async with pool.acquire() as conn:
        await conn.add_listener("stmt_channel", _ignore)
        await conn.remove_listener("stmt_channel", _ignore)  # the callback goes; the LISTEN would stay
        await conn.execute("LISTEN stmt_channel")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    assert moved_by(before).get("reset") == 3
    before = sent()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = off")  # gone with its transaction
        await conn.execute(f"INSERT INTO {table} VALUES (1, 'one')")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
    assert "reset" not in moved_by(before)


async def test_a_transaction_left_open_is_rolled_back_at_release(pool: asyncpg.Pool, table: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute(f"INSERT INTO {table} VALUES (1, 'uncommitted')")
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def _ignore(*_: object) -> None:
    pass
