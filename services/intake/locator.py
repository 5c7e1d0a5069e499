"""Where a point lies (GET /v1/locate): the active registry held in memory, rebuilt when another version is
activated. Built lazily on the first look-up, off the event loop (a large district takes seconds)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import Counter, Histogram
from shapely.geometry import mapping

from shared.domain.model import Unit
from shared.domain.registry import Registry
from shared.errors import NotFound
from shared.logging import get_logger
from shared.registry_files.load import load_directory
from shared.registry_store import active_version

log = get_logger(__name__)
LOOKUPS = Counter(
    "griddispatch_locate_lookups_total",
    "GET /v1/locate answers, by how the place was found (point, containing_area, outside, unit)",
    ["method"],
)
LOAD_SECONDS = Histogram(
    "griddispatch_locate_registry_load_seconds", "Time taken to build the registry held for GET /v1/locate"
)

FILES = """SELECT f.name, f.content FROM registry_files f JOIN registry_versions v ON v.id = f.version_id
           WHERE v.version = $1"""


@dataclass(frozen=True, slots=True)
class Place:
    """A point's place: the micro-grid holding it (`method` point), else the smallest unit (`containing_area`)."""

    unit: Unit | None
    method: str | None
    chain: tuple[Unit, ...]


def _build(files: list[tuple[str, bytes]]) -> Registry:
    with tempfile.TemporaryDirectory(prefix="griddispatch-locate-") as tmp:
        for name, content in files:
            (Path(tmp) / name).write_bytes(content)
        return load_directory(tmp).registry


class Locator:
    def __init__(self) -> None:
        self._version: str | None = None
        self._registry: Registry | None = None
        self._lock = asyncio.Lock()

    async def registry(self, conn: asyncpg.Connection) -> Registry:
        version = await active_version(conn)
        if version is None:
            raise NotFound("no registry version is active: run `griddispatch registry import DIR`")
        if self._registry is not None and version == self._version:
            return self._registry
        async with self._lock:
            if self._registry is None or version != self._version:
                started = time.monotonic()
                rows = await conn.fetch(FILES, version)
                self._registry = await asyncio.to_thread(_build, [(r["name"], r["content"]) for r in rows])
                self._version = version
                elapsed = time.monotonic() - started
                LOAD_SECONDS.observe(elapsed)
                log.info("locate_registry_loaded", registry_version=version, seconds=round(elapsed, 3))
        assert self._registry is not None
        return self._registry

    async def locate(self, conn: asyncpg.Connection, lon: float, lat: float) -> Place:
        registry = await self.registry(conn)
        micro = registry.locate_point(lon, lat)
        unit, method = (micro, "point") if micro is not None else (registry.smallest_containing(lon, lat), None)
        if micro is None and unit is not None:
            method = "containing_area"
        LOOKUPS.labels(method or "outside").inc()
        return Place(unit, method, registry.chain(unit.code) if unit is not None else ())

    async def place_of(self, conn: asyncpg.Connection, code: str) -> Place:
        registry = await self.registry(conn)
        if code not in registry.units:
            raise NotFound(f"no unit {code!r} in the active registry", field="unit")
        unit = registry.unit(code)
        LOOKUPS.labels("unit").inc()
        return Place(unit, "unit", registry.chain(code))


def unit_view(unit: Unit, *, boundary: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"code": unit.code, "name": unit.name, "level": unit.level.value, "parent": unit.parent}
    if boundary:
        view["boundary"] = mapping(unit.boundary) if unit.boundary is not None else None
    return view
