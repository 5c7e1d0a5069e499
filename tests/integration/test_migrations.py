"""Migrations on the real PostgreSQL: from empty, again as a no-op, twice at once, and a changed file refused."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from shared.db import migrate
from shared.db.migrate import MIGRATIONS_DIR, discover
from shared.errors import MigrationError
from shared.settings import DatabaseSettings


async def _applied(conn: asyncpg.Connection) -> list[int]:
    return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]


async def test_apply_from_empty_then_again_as_no_op(empty_database: DatabaseSettings) -> None:
    conn = await asyncpg.connect(empty_database.url)
    try:
        applied = await migrate(conn)
        expected = [f"{m.version:04d}_{m.name}" for m in discover()]
        assert applied == expected
        assert await _applied(conn) == [m.version for m in discover()]
        assert await conn.fetchval("SELECT to_regclass('processed_events') IS NOT NULL")

        assert await migrate(conn) == []
        assert await _applied(conn) == [m.version for m in discover()]
    finally:
        await conn.close()


async def test_two_concurrent_runs_do_not_collide(empty_database: DatabaseSettings) -> None:
    first, second = await asyncio.gather(asyncpg.connect(empty_database.url), asyncpg.connect(empty_database.url))
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
        assert sorted(len(r) for r in results) == [0, len(discover())]  # one did the work, the other found it done
        rows = await first.fetch("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
        assert all(r["n"] == 1 for r in rows)
    finally:
        await asyncio.gather(first.close(), second.close())


async def test_a_changed_applied_migration_is_refused(empty_database: DatabaseSettings, tmp_path: Path) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn, tmp_path)
        first = sorted(tmp_path.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after the fact\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    empty_database: DatabaseSettings, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_database.url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, tmp_path)
        assert await _applied(conn) == [1]
        assert await conn.fetchval("SELECT to_regclass('half') IS NULL")
    finally:
        await conn.close()
