"""Loading a registry directory: all four files parsed and checked, then built whole or not at all.

    loaded = load_directory("data/sample-district")   # raises RegistryFileError listing every problem
    problems = check_directory("data/sample-district")  # the same checks, returned instead of raised

The directory holds `units.geojson`, `departments.yaml` and `catalog.yaml` (either may instead be
`.yml` or `.json`: JSON is read as YAML), and optionally `buildings.csv`. See docs/registry-format.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shared.domain.catalog import CatalogError, MatterCatalog
from shared.domain.model import (
    DEFAULT_ESCALATION,
    DEFAULT_EXTENSION,
    Branch,
    Building,
    Department,
    EscalationRule,
    ExtensionRule,
    MatterType,
    Unit,
)
from shared.domain.registry import Registry, RegistryError
from shared.registry_files import parse
from shared.registry_files.validate import (
    BUILDINGS_FILE,
    CATALOG_FILE,
    DEPARTMENTS_FILE,
    UNITS_FILE,
    Problems,
    RegistryFileError,
    RegistryProblem,
    check_buildings,
    check_catalog,
    check_departments,
    check_units,
)


@dataclass(frozen=True, slots=True)
class LoadedRegistry:
    """A complete, valid registry and catalog, and where they came from."""

    registry: Registry
    catalog: MatterCatalog
    source: Path

    @property
    def version(self) -> str:
        """Content hash of registry and catalog together (16 hex digits)."""
        both = f"{self.registry.version}:{self.catalog.version}".encode()
        return hashlib.sha256(both).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Parsed:
    units: list[Unit]
    departments: list[Department]
    branches: list[Branch]
    matters: list[MatterType]
    buildings: list[Building]
    escalation: EscalationRule = DEFAULT_ESCALATION  # the district default (catalog.yaml's top-level `escalation`)
    extension: ExtensionRule = DEFAULT_EXTENSION  # the district default (catalog.yaml's top-level `extension`)


def check_directory(directory: str | Path) -> tuple[RegistryProblem, ...]:
    """Every problem with the directory's files; empty when it would load."""
    _, problems = _read(Path(directory))
    return tuple(problems.items)


def load_directory(directory: str | Path) -> LoadedRegistry:
    """The registry and catalog in the directory, or RegistryFileError naming every problem."""
    path = Path(directory)
    parsed, problems = _read(path)
    if problems:
        raise RegistryFileError(problems.items)
    try:
        registry = Registry(parsed.units, parsed.departments, parsed.branches, parsed.buildings)
        catalog = MatterCatalog(parsed.matters, parsed.escalation, parsed.extension)
    except (RegistryError, CatalogError) as exc:  # the checks above should make this unreachable
        raise RegistryFileError([RegistryProblem("-", "-", "-", str(exc))]) from exc
    return LoadedRegistry(registry=registry, catalog=catalog, source=path)


def _read(directory: Path) -> tuple[_Parsed, Problems]:
    problems = Problems()
    if not directory.is_dir():
        problems.add(str(directory), "-", "-", "not a directory")
        return _Parsed([], [], [], [], []), problems
    units_path = _find(directory, (UNITS_FILE,), problems)
    departments_path = _find(directory, _yaml_names(DEPARTMENTS_FILE), problems)
    catalog_path = _find(directory, _yaml_names(CATALOG_FILE), problems)
    buildings_path = directory / BUILDINGS_FILE

    units = parse.parse_units(units_path, problems) if units_path else []
    departments, branches = parse.parse_departments(departments_path, problems) if departments_path else ([], [])
    matters, default, limits = (
        parse.parse_catalog(catalog_path, problems) if catalog_path else ([], DEFAULT_ESCALATION, DEFAULT_EXTENSION)
    )
    buildings = parse.parse_buildings(buildings_path, problems) if buildings_path.is_file() else []

    check_units(units, problems)
    unit_index = {u.code: u for u in units}
    # without a readable file of units (or departments), every reference into it would be reported again
    units_read = units_path is not None and units_path.name not in problems.unreadable
    departments_read = departments_path is not None and departments_path.name not in problems.unreadable
    if departments_path:
        check_departments(departments, branches, unit_index, problems, departments_path.name, check_covers=units_read)
    if catalog_path and departments_read:
        check_catalog(matters, {d.code: d for d in departments}, problems, catalog_path.name)
    if units_read:
        check_buildings(buildings, unit_index, problems)
    return _Parsed(units, departments, branches, matters, buildings, default, limits), problems


def _yaml_names(canonical: str) -> tuple[str, ...]:
    stem = canonical.removesuffix(".yaml")
    return (canonical, f"{stem}.yml", f"{stem}.json")


def _find(directory: Path, names: tuple[str, ...], problems: Problems) -> Path | None:
    present = [directory / n for n in names if (directory / n).is_file()]
    if not present:
        problems.add(names[0], "-", "-", f"required file is missing from {directory}")
        return None
    if len(present) > 1:
        problems.add(names[0], "-", "-", f"give only one of {', '.join(p.name for p in present)}")
        return None
    return present[0]
