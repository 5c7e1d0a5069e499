"""Registry imports into the real PostgreSQL: versions, atomic activation, and bad imports leaving nothing."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.db import migrate
from shared.errors import NotFound
from shared.registry_files.validate import RegistryFileError
from shared.registry_store import activate, active_version, import_directory, list_versions, load_active
from shared.settings import PROJECT_ROOT, DatabaseSettings

SAMPLE = PROJECT_ROOT / "data" / "sample-district"


@pytest.fixture
async def conn(empty_database: DatabaseSettings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_database.url)
    await migrate(connection)
    yield connection
    await connection.close()


def _edited_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / name
    shutil.copytree(SAMPLE, target)
    catalog = target / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert old in text
    catalog.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


async def test_import_stores_every_record_and_activates(conn: asyncpg.Connection) -> None:
    result = await import_directory(conn, SAMPLE, imported_by="tester")
    assert result.created and result.active
    assert await active_version(conn) == result.version

    loaded = await load_active(conn)
    assert loaded.version == result.version
    registry = loaded.registry
    assert await conn.fetchval("SELECT count(*) FROM registry_units") == len(registry.units)
    assert await conn.fetchval("SELECT count(*) FROM registry_buildings") == len(registry.buildings)
    assert await conn.fetchval("SELECT count(*) FROM registry_branches") == len(registry.branches)
    assert await conn.fetchval("SELECT count(*) FROM matter_types") == len(list(loaded.catalog))
    assert result.counts["units"]["micro_grid"] >= 200
    assert result.counts["departments"] >= 17 and result.counts["matter_types"] >= 50

    micro_grid = next(u for u in registry.units.values() if u.level.value == "micro_grid")
    row = await conn.fetchrow("SELECT * FROM registry_units WHERE code = $1", micro_grid.code)
    assert row["parent"] == micro_grid.parent and row["name"] == micro_grid.name
    assert '"Polygon"' in row["boundary"] or '"MultiPolygon"' in row["boundary"]


async def test_same_content_twice_is_one_version(conn: asyncpg.Connection) -> None:
    first = await import_directory(conn, SAMPLE, imported_by="tester")
    second = await import_directory(conn, SAMPLE, imported_by="tester")
    assert second.version == first.version and not second.created
    assert len(await list_versions(conn)) == 1


async def test_new_version_switches_and_old_one_can_be_reactivated(conn: asyncpg.Connection, tmp_path: Path) -> None:
    old = await import_directory(conn, SAMPLE, imported_by="tester")
    edited = _edited_copy(tmp_path, "v2", "name_en: ", "name_en: Revised ")
    new = await import_directory(conn, edited, imported_by="tester")
    assert new.created and new.version != old.version
    assert await active_version(conn) == new.version
    assert [v.active for v in await list_versions(conn)] == [False, True]

    await activate(conn, old.version, switched_by="supervisor")
    assert await active_version(conn) == old.version
    assert (await load_active(conn)).version == old.version
    assert (await load_active(conn, new.version)).version == new.version  # still stored, loadable by name


async def test_bad_import_leaves_the_active_version_untouched(conn: asyncpg.Connection, tmp_path: Path) -> None:
    good = await import_directory(conn, SAMPLE, imported_by="tester")
    broken = _edited_copy(tmp_path, "broken", "lead_department: ", "lead_department: NO_SUCH_DEPT_")
    with pytest.raises(RegistryFileError) as caught:
        await import_directory(conn, broken, imported_by="tester")
    assert any(p.file == "catalog.yaml" and p.field == "lead_department" for p in caught.value.problems)
    assert await active_version(conn) == good.version
    assert len(await list_versions(conn)) == 1
    assert await conn.fetchval("SELECT count(DISTINCT version_id) FROM registry_units") == 1


async def test_activation_is_announced_to_listeners(conn: asyncpg.Connection, empty_database: DatabaseSettings) -> None:
    listener = await asyncpg.connect(empty_database.url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("griddispatch_registry", lambda *args: heard.put_nowait(args[3]))
    try:
        result = await import_directory(conn, SAMPLE, imported_by="tester")
        assert await asyncio.wait_for(heard.get(), timeout=30) == result.version
    finally:
        await listener.close()


async def test_unknown_version_cannot_be_activated(conn: asyncpg.Connection) -> None:
    with pytest.raises(NotFound):
        await activate(conn, "0000000000000000", switched_by="x")
    with pytest.raises(NotFound, match="no registry version is active"):
        await load_active(conn)
