"""Validation of registry files: one error type, every problem collected, none half-reported.

A `RegistryProblem` names the file, the record (a code, or a position when the code is missing), the
field and what is wrong. `RegistryFileError` carries all problems of one load. The checks here work on
values already parsed (see `parse.py`); per-field problems (missing, mistyped, unknown values) are found
while parsing, everything that relates records to one another is found here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np
import shapely
from shapely.validation import explain_validity

from shared.domain.model import Assignee, AssigneeKind, Branch, Building, Department, Level, MatterType, Unit
from shared.domain.registry import Registry, normalise_address
from shared.errors import InvalidInput

UNITS_FILE = "units.geojson"
DEPARTMENTS_FILE = "departments.yaml"
CATALOG_FILE = "catalog.yaml"
BUILDINGS_FILE = "buildings.csv"

# A child may stick out of its parent by this fraction of its own area (digitising noise), no more.
OUTSIDE_PARENT_TOLERANCE = 0.005
# Siblings may overlap by this fraction of the smaller one's area (shared edges drawn twice), no more.
SIBLING_OVERLAP_TOLERANCE = 0.001
# A building's point may lie this far (degrees, about 5 m) outside its micro-grid.
BUILDING_POINT_TOLERANCE = 0.00005


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """One thing wrong with one field of one record of one file."""

    file: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.record}: {self.field}: {self.message}"


class RegistryFileError(InvalidInput, ValueError):
    """A registry directory cannot be loaded; `problems` lists everything wrong with it."""

    code = "registry_files_invalid"

    def __init__(self, problems: Sequence[RegistryProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the registry files:\n{lines}",
            problems=[asdict(p) for p in self.problems],
        )


@dataclass
class Problems:
    """Collects problems while a directory is parsed and checked."""

    items: list[RegistryProblem] = field(default_factory=list)
    # Codes of records already reported as unreadable: references to them are not reported again.
    broken: set[str] = field(default_factory=set)
    # Files that could not be read at all: references into them are not reported either.
    unreadable: set[str] = field(default_factory=set)

    def add(self, file: str, record: str, field: str, message: str) -> None:
        self.items.append(RegistryProblem(file, record, field, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


# --- units ----------------------------------------------------------------------------------------


def check_units(units: Sequence[Unit], problems: Problems) -> None:
    """Codes, parents, levels, cycles, geometry validity, containment and sibling overlaps."""
    by_code = _unique(units, UNITS_FILE, "unit", problems)
    _check_people(units, problems)
    for u in units:
        _check_parent(u, by_code, problems)
    _check_cycles(by_code, problems)
    valid = {u.code: u.boundary for u in by_code.values() if _geometry_ok(u, problems)}
    _check_inside_parents(by_code, valid, problems)
    _check_sibling_overlaps(by_code, valid, problems)


_Coded = TypeVar("_Coded", Unit, Department, Branch, Building, MatterType)


def _unique(items: Iterable[_Coded], file: str, kind: str, problems: Problems) -> dict[str, _Coded]:
    out: dict[str, _Coded] = {}
    for item in items:
        if item.code in out:
            problems.add(file, item.code, "code", f"duplicate {kind} code {item.code!r}")
        else:
            out[item.code] = item
    return out


def _check_people(units: Sequence[Unit], problems: Problems) -> None:
    seen: set[str] = set()
    for u in units:
        for p in u.people:
            if p.id in seen:
                problems.add(UNITS_FILE, u.code, "people", f"duplicate person id {p.id!r}")
            seen.add(p.id)


def _check_parent(u: Unit, by_code: Mapping[str, Unit], problems: Problems) -> None:
    if u.parent is None:
        if u.level is not Level.DISTRICT:
            problems.add(UNITS_FILE, u.code, "parent", f"only a district may have no parent; this is a {u.level}")
        return
    parent = by_code.get(u.parent)
    if parent is None and u.parent in problems.broken:
        return
    if parent is None:
        problems.add(UNITS_FILE, u.code, "parent", f"unknown parent {u.parent!r}")
    elif u.level.up() is not parent.level:
        problems.add(
            UNITS_FILE,
            u.code,
            "level",
            f"a {u.level} must sit exactly one level below its parent, but parent {parent.code!r} is a {parent.level}",
        )


def _check_cycles(by_code: Mapping[str, Unit], problems: Problems) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(by_code):
        path: list[str] = []
        code: str | None = start
        while code is not None and code in by_code and state.get(code) is None:
            state[code] = 1
            path.append(code)
            code = by_code[code].parent
        if code is not None and state.get(code) == 1:
            loop = path[path.index(code) :]
            problems.add(UNITS_FILE, code, "parent", "cycle: " + " -> ".join([*loop, code]))
        for c in path:
            state[c] = 2


def _geometry_ok(u: Unit, problems: Problems) -> bool:
    g = u.boundary
    if g is None:
        return False
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        problems.add(UNITS_FILE, u.code, "geometry", f"must be a Polygon or MultiPolygon, not {g.geom_type}")
        return False
    if g.is_empty:
        problems.add(UNITS_FILE, u.code, "geometry", "empty polygon")
        return False
    minx, miny, maxx, maxy = g.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        problems.add(UNITS_FILE, u.code, "geometry", "coordinates out of lon/lat range (WGS84, lon first)")
        return False
    if not g.is_valid:
        problems.add(UNITS_FILE, u.code, "geometry", f"invalid polygon: {explain_validity(g)}")
        return False
    if g.area == 0:
        problems.add(UNITS_FILE, u.code, "geometry", "polygon has no area")
        return False
    return True


def _check_inside_parents(
    by_code: Mapping[str, Unit], valid: Mapping[str, shapely.Geometry], problems: Problems
) -> None:
    pairs: list[tuple[str, str]] = []
    for code in sorted(valid):
        parent = by_code[code].parent
        if parent is not None and parent in valid:
            pairs.append((code, parent))
    if not pairs:
        return
    children = np.array([valid[c] for c, _ in pairs], dtype=object)
    parents = np.array([valid[p] for _, p in pairs], dtype=object)
    outside = shapely.area(shapely.difference(children, parents)) / shapely.area(children)
    for (code, parent), share in zip(pairs, outside, strict=True):
        if share > OUTSIDE_PARENT_TOLERANCE:
            problems.add(UNITS_FILE, code, "geometry", f"{share:.1%} of the unit lies outside its parent {parent!r}")


def _check_sibling_overlaps(
    by_code: Mapping[str, Unit], valid: Mapping[str, shapely.Geometry], problems: Problems
) -> None:
    by_level: dict[Level, list[str]] = defaultdict(list)
    for code in sorted(valid):
        by_level[by_code[code].level].append(code)
    for codes in by_level.values():
        geoms = np.array([valid[c] for c in codes], dtype=object)
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        parents = [by_code[c].parent for c in codes]
        same_parent = np.array([parents[i] == parents[j] for i, j in zip(left, right, strict=True)], dtype=bool)
        if not same_parent.any():
            continue
        left, right = left[same_parent], right[same_parent]
        # Neighbours that only share an edge are the normal case; only interiors that meet can overlap.
        inner = ~shapely.touches(geoms[left], geoms[right])
        left, right = left[inner], right[inner]
        overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
        for i, j, area, small in zip(left, right, overlap, smaller, strict=True):
            if area > SIBLING_OVERLAP_TOLERANCE * small:
                a, b = codes[int(i)], codes[int(j)]
                problems.add(UNITS_FILE, b, "geometry", f"overlaps sibling {a!r} by {area / small:.1%}")


# --- departments, catalog, buildings --------------------------------------------------------------


def check_departments(
    departments: Sequence[Department],
    branches: Sequence[Branch],
    units: Mapping[str, Unit],
    problems: Problems,
    file: str = DEPARTMENTS_FILE,
    *,
    check_covers: bool = True,
) -> None:
    _unique(departments, file, "department", problems)
    _unique(branches, file, "branch", problems)
    for b in branches:
        for covered in b.covers:
            if check_covers and covered not in units and covered not in problems.broken:
                problems.add(file, b.code, "covers", f"covers unknown unit {covered!r}")
        for code, n in Counter(b.covers).items():
            if n > 1:
                problems.add(file, b.code, "covers", f"lists {code!r} {n} times")


def check_catalog(
    matters: Sequence[MatterType],
    departments: Mapping[str, Department],
    problems: Problems,
    file: str = CATALOG_FILE,
) -> None:
    _unique(matters, file, "matter type", problems)
    for m in matters:
        lead = m.lead_department
        if lead is not None and lead not in departments and lead not in problems.broken:
            problems.add(file, m.code, "lead_department", f"unknown department {lead!r}")
        for d in m.assisting_departments:
            if d not in departments and d not in problems.broken:
                problems.add(file, m.code, "assisting_departments", f"unknown department {d!r}")
        if m.lead_department is not None and m.lead_department in m.assisting_departments:
            problems.add(file, m.code, "assisting_departments", "the lead department cannot also assist")


def check_buildings(buildings: Sequence[Building], units: Mapping[str, Unit], problems: Problems) -> None:
    _unique(buildings, BUILDINGS_FILE, "building", problems)
    addresses: dict[str, str] = {}
    located: list[tuple[Building, shapely.Geometry]] = []
    for b in buildings:
        key = normalise_address(b.address)
        if key in addresses and addresses[key] != b.code:
            problems.add(BUILDINGS_FILE, b.code, "address", f"same address as building {addresses[key]!r}")
        addresses.setdefault(key, b.code)
        unit = units.get(b.micro_grid)
        if unit is None and b.micro_grid in problems.broken:
            continue
        if unit is None:
            problems.add(BUILDINGS_FILE, b.code, "micro_grid", f"unknown unit {b.micro_grid!r}")
        elif unit.level is not Level.MICRO_GRID:
            problems.add(BUILDINGS_FILE, b.code, "micro_grid", f"{b.micro_grid!r} is a {unit.level}, not a micro-grid")
        elif b.lon is not None and b.lat is not None and unit.boundary is not None:
            located.append((b, unit.boundary))
    _check_building_points(located, problems)


def _check_building_points(located: Sequence[tuple[Building, shapely.Geometry]], problems: Problems) -> None:
    if not located:
        return
    areas = np.array([g for _, g in located], dtype=object)
    valid = shapely.is_valid(areas)
    points = shapely.points([(b.lon, b.lat) for b, _ in located])
    distance = shapely.distance(areas, points)
    for (b, _), ok, d in zip(located, valid, distance, strict=True):
        if ok and d > BUILDING_POINT_TOLERANCE:
            problems.add(BUILDINGS_FILE, b.code, "lon", f"the point lies outside micro-grid {b.micro_grid!r}")


def staffing_warnings(registry: Registry, departments_file: str = DEPARTMENTS_FILE) -> tuple[RegistryProblem, ...]:
    """Warnings, not errors: units, branches and departments with nobody assigned (routing passes them over)."""
    out: list[RegistryProblem] = []
    units = list(registry.units.values())
    if units and not any(u.people for u in units):
        out.append(RegistryProblem(UNITS_FILE, "-", "people", "no unit lists people: staffing is not recorded"))
    for u in registry.unstaffed_units():
        message = f"nobody is assigned to this {u.level.value}: its cases go to the nearest staffed unit above it"
        out.append(RegistryProblem(UNITS_FILE, u.code, "people", message))
    for b in sorted(registry.branches.values(), key=lambda b: b.code):
        if not registry.staffed(Assignee(AssigneeKind.BRANCH, b.code)):
            message = "nobody is assigned to this branch: its cases go to its department"
            out.append(RegistryProblem(departments_file, b.code, "people", message))
    for d in sorted(registry.departments.values(), key=lambda d: d.code):
        if not registry.staffed(Assignee(AssigneeKind.DEPARTMENT, d.code)):
            message = "nobody is assigned to this department: its cases go to the district command centre"
            out.append(RegistryProblem(departments_file, d.code, "people", message))
    return tuple(out)
