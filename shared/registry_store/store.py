"""Importing a registry directory into PostgreSQL as a new version, switching the active one, loading it back.

An import validates the whole directory first (nothing is written if any file has a problem), then writes
the version, its source files and its rows in one transaction. Importing content that is already stored
creates no second copy. Activation is a single-row UPDATE plus a NOTIFY on `griddispatch_registry`, so
running services can reload; in the same transaction the people the version lists become persons with its
roles (shared/people/registry_sync.py).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import asyncpg
from shapely.geometry import mapping

from shared.domain.model import MatterType
from shared.errors import NotFound
from shared.people import registry_sync as people
from shared.people.from_registry import listed_people
from shared.people.metrics import REGISTRY_IMPORT_SECONDS
from shared.registry_files.load import LoadedRegistry, load_directory

NOTIFY_CHANNEL = "griddispatch_registry"
SOURCE_FILES = (
    "units.geojson",
    "departments.yaml",
    "departments.yml",
    "departments.json",
    "catalog.yaml",
    "catalog.yml",
    "catalog.json",
    "buildings.csv",
)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    imported_at: datetime
    imported_by: str
    source: str
    counts: dict[str, Any]
    active: bool


@dataclass(frozen=True, slots=True)
class ImportResult:
    version: str
    created: bool  # False: the same content was already stored
    active: bool
    counts: dict[str, Any]
    people: people.RegistrySync | None = None  # what activating changed among persons and roles


def counts_of(loaded: LoadedRegistry) -> dict[str, Any]:
    registry, catalog = loaded.registry, loaded.catalog
    levels = Counter(unit.level.value for unit in registry.units.values())
    return {
        "units": dict(sorted(levels.items())),
        "departments": len(registry.departments),
        "branches": len(registry.branches),
        "buildings": len(registry.buildings),
        "matter_types": len(list(catalog)),
    }


async def import_directory(
    conn: asyncpg.Connection, directory: str | Path, *, imported_by: str, activate_it: bool = True
) -> ImportResult:
    """Validate and store a registry directory; raises RegistryFileError (listing every problem) before writing."""
    directory = Path(directory)
    loaded = load_directory(directory)  # all or nothing: a bad directory never reaches the database
    files = {name: (directory / name).read_bytes() for name in SOURCE_FILES if (directory / name).is_file()}
    counts = counts_of(loaded)
    async with conn.transaction():
        version_id = await conn.fetchval(
            """INSERT INTO registry_versions (version, imported_by, source, counts)
               VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (version) DO NOTHING RETURNING id""",
            loaded.version,
            imported_by,
            str(directory.resolve()),
            json.dumps(counts),
        )
        created = version_id is not None
        if created:
            await _write_rows(conn, version_id, loaded, files)
        synced = await activate(conn, loaded.version, switched_by=imported_by, loaded=loaded) if activate_it else None
    return ImportResult(loaded.version, created, activate_it, counts, synced)


async def activate(
    conn: asyncpg.Connection, version: str, *, switched_by: str, loaded: LoadedRegistry | None = None
) -> people.RegistrySync:
    """Make a stored version the active one, atomically, bring persons and their registry roles in line with
    the people it lists, and tell listening services. `loaded`: the version already read (else it is rebuilt
    from its stored files)."""
    async with conn.transaction():
        version_id = await conn.fetchval("SELECT id FROM registry_versions WHERE version = $1", version)
        if version_id is None:
            raise NotFound(f"no registry version {version!r} is stored", version=version)
        await conn.execute(
            """INSERT INTO registry_active (version_id, switched_by) VALUES ($1, $2)
               ON CONFLICT (singleton) DO UPDATE
               SET version_id = EXCLUDED.version_id, switched_at = now(), switched_by = EXCLUDED.switched_by""",
            version_id,
            switched_by,
        )
        if loaded is None or loaded.version != version:
            loaded = await load_active(conn, version)
        with REGISTRY_IMPORT_SECONDS.time():
            synced = await people.sync_registry(conn, listed_people(loaded.registry), version=version)
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, version)
    return synced


async def active_version(conn: asyncpg.Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT v.version FROM registry_active a JOIN registry_versions v ON v.id = a.version_id"
    )
    return value


async def list_versions(conn: asyncpg.Connection) -> list[VersionInfo]:
    rows = await conn.fetch(
        """SELECT v.*, (a.version_id IS NOT NULL) AS active
           FROM registry_versions v LEFT JOIN registry_active a ON a.version_id = v.id ORDER BY v.id"""
    )
    return [
        VersionInfo(r["version"], r["imported_at"], r["imported_by"], r["source"], json.loads(r["counts"]), r["active"])
        for r in rows
    ]


async def load_active(conn: asyncpg.Connection, version: str | None = None) -> LoadedRegistry:
    """The active (or a named) version, rebuilt from its stored files through the same validating loader."""
    version = version or await active_version(conn)
    if version is None:
        raise NotFound("no registry version is active: run `griddispatch registry import DIR`")
    rows = await conn.fetch(
        """SELECT f.name, f.content FROM registry_files f JOIN registry_versions v ON v.id = f.version_id
           WHERE v.version = $1""",
        version,
    )
    if not rows:
        raise NotFound(f"no registry version {version!r} is stored", version=version)
    with tempfile.TemporaryDirectory(prefix="griddispatch-registry-") as tmp:
        for row in rows:
            (Path(tmp) / row["name"]).write_bytes(row["content"])
        return load_directory(tmp)


async def _write_rows(
    conn: asyncpg.Connection, version_id: int, loaded: LoadedRegistry, files: dict[str, bytes]
) -> None:
    registry = loaded.registry
    await conn.copy_records_to_table(
        "registry_files", records=[(version_id, name, content) for name, content in files.items()]
    )
    await conn.copy_records_to_table(
        "registry_units",
        columns=["version_id", "code", "name", "level", "parent", "boundary", "people"],
        records=[
            (
                version_id,
                u.code,
                u.name,
                u.level.value,
                u.parent,
                json.dumps(mapping(u.boundary)) if u.boundary is not None else None,
                json.dumps([asdict(p) for p in u.people], ensure_ascii=False),
            )
            for u in registry.units.values()
        ],
    )
    await conn.copy_records_to_table(
        "registry_departments",
        records=[(version_id, d.code, d.name, d.name_en) for d in registry.departments.values()],
    )
    await conn.copy_records_to_table(
        "registry_branches",
        records=[(version_id, b.code, b.department, b.name, list(b.covers)) for b in registry.branches.values()],
    )
    await conn.copy_records_to_table(
        "registry_buildings",
        records=[(version_id, b.code, b.address, b.micro_grid, b.lon, b.lat) for b in registry.buildings.values()],
    )
    await conn.copy_records_to_table(
        "matter_types",
        records=[
            (version_id, m.code, m.name, m.name_en, m.level.value, m.lead_department, _matter_json(m))
            for m in loaded.catalog
        ],
    )


def _matter_json(matter: MatterType) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return json.dumps({k: plain(v) for k, v in asdict(matter).items()}, ensure_ascii=False)
