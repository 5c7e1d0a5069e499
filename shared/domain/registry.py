"""The registry: who is responsible where. An immutable, indexed value; pure (no I/O).

A `Registry` holds the territorial units (district → street → community → grid → micro-grid), the
line departments and their local branches, and the buildings that map addresses to micro-grids.
It is built once (usually by `shared.registry_files.load`) and then only read.

Public API (stable; routing depends on it):

* ``Registry(units, departments=(), branches=(), buildings=())``: builds the indexes. Raises
  ``RegistryError`` (a ``shared.errors.InvalidInput``, also a ``ValueError``) if the structure is
  inconsistent: duplicate code, unknown parent, cycle, a level that is not exactly one rung below its
  parent's, a root that is not a district, a branch of an unknown department or covering an unknown
  unit, a building in an unknown or non-micro-grid unit. Geometry is not checked here (that is
  ``shared.registry_files.validate``'s job, done before a registry is built from files).
* ``version: str``: a content hash (16 hex digits), equal for equal content, whatever the input order.
* Mappings (read-only): ``units``, ``departments``, ``branches``, ``buildings``.
* ``unit(code) -> Unit``, ``department(code) -> Department``, ``building(code) -> Building``: raise
  ``UnknownCodeError`` (a ``shared.errors.NotFound``, also a ``KeyError``) for an unknown code; test
  first with ``code in registry.units``. Every method taking a code raises the same for unknown codes.
* ``children(code) -> tuple[Unit, ...]``: direct children, by code.
* ``ancestors(code) -> tuple[Unit, ...]``: parent first, up to the district; ``()`` for the district.
* ``chain(code) -> tuple[Unit, ...]``: the unit itself, then its ancestors (the escalation ladder).
* ``descendants(code) -> tuple[Unit, ...]``, ``units_at(level) -> tuple[Unit, ...]``, ``roots``.
* ``locate_point(lon, lat) -> Unit | None``: the micro-grid containing the point. A point inside a
  micro-grid goes to it; a point on a boundary shared by several goes to the one with the smallest code;
  a point outside every micro-grid gives ``None``.
* ``smallest_containing(lon, lat) -> Unit | None``: the lowest-level unit (any level, smallest area on a
  tie, then smallest code) whose boundary covers the point; for cases no micro-grid covers.
* ``building_by_address(text) -> Building | None``: matches a building code or address after
  normalising both (NFKC, case-folded, only letters and digits kept, traditional characters converted
  to simplified). If the whole text is no known
  address, the longest known address (at least 4 characters) contained in the text wins, so that
  "莲湖区北院门街道西关正街18号院3号楼门口" finds "西关正街18号院3号楼".
* ``buildings_in(micro_grid_code) -> tuple[Building, ...]``.
* ``command_centre_for(code) -> Unit``: the unit itself or its nearest ancestor with a command centre
  (street or district).
* ``staffed(assignee) -> bool``: whether anyone is assigned to the unit, branch or department. Staffing
  is judged per kind: once any territorial unit lists people, a unit listing nobody is unstaffed; once
  any department or branch lists people, so is a department or branch listing nobody. A registry that
  lists nobody of a kind does not record that kind's staffing, and all of that kind count as staffed.
  ``unstaffed_units()`` lists the unstaffed units, by level then code.
* ``branches_for(department_code, unit_code) -> tuple[Branch, ...]``: the department's branches that
  cover the unit or one of its ancestors, nearest coverage first (a branch covering the unit itself
  before one covering its street before one covering the district), then by branch code. Empty when
  no branch covers it: the department itself is then responsible.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import shapely
from shapely import STRtree

from shared.domain.chinese import to_simplified
from shared.domain.model import Assignee, AssigneeKind, Branch, Building, Department, Level, Unit
from shared.errors import InvalidInput, NotFound

# Shorter contained matches than this are too likely to be accidental ("1号楼" is in many addresses).
MIN_CONTAINED_ADDRESS = 4

_NOT_ALNUM = re.compile(r"[\W_]+")  # spaces, punctuation, symbols: everything but letters and digits
_Coded = TypeVar("_Coded", Unit, Department, Branch, Building)


class RegistryError(InvalidInput, ValueError):
    """The registry content is structurally inconsistent."""

    code = "registry_inconsistent"


class UnknownCodeError(NotFound, KeyError):
    """No unit, department or building has this code."""

    code = "unknown_registry_code"


def normalise_address(text: str) -> str:
    """Canonical form for address matching: NFKC, case-folded, letters and digits only, in simplified form."""
    return to_simplified(_NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold()))


class Registry:
    """Units, departments, branches and buildings, with hierarchy and spatial indexes."""

    __slots__ = (
        "_address_index",
        "_address_lengths",
        "_area_tree",
        "_area_units",
        "_branches",
        "_branches_by_cover",
        "_buildings",
        "_buildings_by_grid",
        "_chains",
        "_children",
        "_code_index",
        "_departments",
        "_frozen",
        "_micro_cells",
        "_micro_tree",
        "_micro_units",
        "_units",
        "_unstaffed",
        "_version",
    )

    def __init__(
        self,
        units: Iterable[Unit],
        departments: Iterable[Department] = (),
        branches: Iterable[Branch] = (),
        buildings: Iterable[Building] = (),
    ) -> None:
        self._units = _by_code(units, "unit")
        self._departments = _by_code(departments, "department")
        self._branches = _by_code(branches, "branch")
        self._buildings = _by_code(buildings, "building")
        self._chains = _chains(self._units)
        self._children = _children(self._units)
        self._branches_by_cover = _branch_index(self._branches, self._departments, self._units)
        self._buildings_by_grid = _building_index(self._buildings, self._units)
        self._address_index, self._code_index = _address_indexes(self._buildings)
        self._address_lengths = tuple(sorted({len(a) for a in self._address_index}, reverse=True))
        micro = [u for u in self._units.values() if u.level is Level.MICRO_GRID and u.boundary is not None]
        self._micro_units = tuple(micro)
        self._micro_tree = STRtree([u.boundary for u in micro])
        self._micro_cells = _CellIndex([u.boundary for u in micro])
        with_area = [u for u in self._units.values() if u.boundary is not None]
        self._area_units = tuple(with_area)
        self._area_tree = STRtree([u.boundary for u in with_area])
        self._unstaffed = _unstaffed(self._units, self._departments, self._branches)
        self._version = _content_hash(self)
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("Registry is immutable")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"Registry(version={self._version!r}, units={len(self._units)})"

    # --- plain lookups ---------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self._version

    @property
    def units(self) -> Mapping[str, Unit]:
        return MappingProxyType(self._units)

    @property
    def departments(self) -> Mapping[str, Department]:
        return MappingProxyType(self._departments)

    @property
    def branches(self) -> Mapping[str, Branch]:
        return MappingProxyType(self._branches)

    @property
    def buildings(self) -> Mapping[str, Building]:
        return MappingProxyType(self._buildings)

    @property
    def roots(self) -> tuple[Unit, ...]:
        """The district(s): units without a parent, by code."""
        return self._children.get(None, ())

    def unit(self, code: str) -> Unit:
        try:
            return self._units[code]
        except KeyError:
            raise UnknownCodeError(f"unknown unit {code!r}") from None

    def department(self, code: str) -> Department:
        try:
            return self._departments[code]
        except KeyError:
            raise UnknownCodeError(f"unknown department {code!r}") from None

    # --- hierarchy -------------------------------------------------------------------------------

    def children(self, code: str) -> tuple[Unit, ...]:
        self.unit(code)
        return self._children.get(code, ())

    def chain(self, code: str) -> tuple[Unit, ...]:
        """The unit, then its ancestors up to the district."""
        try:
            return self._chains[code]
        except KeyError:
            raise UnknownCodeError(f"unknown unit {code!r}") from None

    def ancestors(self, code: str) -> tuple[Unit, ...]:
        """Parent first, up to the district."""
        return self.chain(code)[1:]

    def descendants(self, code: str) -> tuple[Unit, ...]:
        """All units below this one, breadth first, each level by code."""
        out: list[Unit] = []
        frontier = list(self.children(code))
        while frontier:
            out.extend(frontier)
            frontier = [c for u in frontier for c in self._children.get(u.code, ())]
        return tuple(out)

    def units_at(self, level: Level) -> tuple[Unit, ...]:
        return tuple(sorted((u for u in self._units.values() if u.level is level), key=lambda u: u.code))

    def command_centre_for(self, code: str) -> Unit:
        """The unit itself or its nearest ancestor that runs a command centre (street or district)."""
        for u in self.chain(code):
            if u.has_command_centre:
                return u
        raise AssertionError("unreachable: every chain ends at a district")  # enforced in __init__

    def staffed(self, assignee: Assignee) -> bool:
        """Whether anyone is assigned to it (always True for a kind whose staffing the registry does not record)."""
        return (assignee.kind, assignee.code) not in self._unstaffed

    def unstaffed_units(self) -> tuple[Unit, ...]:
        """Territorial units with nobody assigned, smallest level first, then by code."""
        found = [self._units[code] for kind, code in self._unstaffed if kind is AssigneeKind.UNIT]
        return tuple(sorted(found, key=lambda u: (u.level.rank, u.code)))

    def branches_for(self, department_code: str, unit_code: str) -> tuple[Branch, ...]:
        """The department's branches covering the unit or an ancestor, nearest coverage first."""
        self.department(department_code)
        out: list[Branch] = []
        for u in self.chain(unit_code):
            out.extend(self._branches_by_cover.get((department_code, u.code), ()))
        return tuple(out)

    # --- space -----------------------------------------------------------------------------------

    def locate_point(self, lon: float, lat: float) -> Unit | None:
        """The micro-grid containing the point; on a shared boundary, the smallest code."""
        hits = self._micro_cells.intersecting(lon, lat)
        if len(hits) == 0:
            return None
        if len(hits) == 1:
            return self._micro_units[hits[0]]
        candidates = [self._micro_units[int(i)] for i in hits]
        inside = [u for u in candidates if shapely.contains_xy(u.boundary, lon, lat)]
        return min(inside or candidates, key=lambda u: u.code)

    def smallest_containing(self, lon: float, lat: float) -> Unit | None:
        """The lowest-level unit whose boundary covers the point (then smallest area, then code)."""
        hits = self._area_tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        candidates = [self._area_units[int(i)] for i in hits]
        return min(candidates, key=lambda u: (u.level.rank, u.boundary.area, u.code))

    # --- addresses -------------------------------------------------------------------------------

    def building(self, code: str) -> Building:
        try:
            return self._buildings[code]
        except KeyError:
            raise UnknownCodeError(f"unknown building {code!r}") from None

    def buildings_in(self, micro_grid_code: str) -> tuple[Building, ...]:
        self.unit(micro_grid_code)
        return self._buildings_by_grid.get(micro_grid_code, ())

    def building_by_address(self, text: str) -> Building | None:
        """The building whose code or address the text is, else the longest address the text contains."""
        key = normalise_address(text)
        if not key:
            return None
        found = self._code_index.get(key) or self._address_index.get(key)
        if found is not None:
            return found
        for length in self._address_lengths:
            if length < MIN_CONTAINED_ADDRESS:
                break
            for start in range(len(key) - length + 1):
                found = self._address_index.get(key[start : start + length])
                if found is not None:
                    return found
        return None


# --- index builders (module-private) ---------------------------------------------------------------


def _by_code(items: Iterable[_Coded], kind: str) -> dict[str, _Coded]:
    out: dict[str, _Coded] = {}
    for item in items:
        if item.code in out:
            raise RegistryError(f"duplicate {kind} code {item.code!r}")
        out[item.code] = item
    return out


def _chains(units: Mapping[str, Unit]) -> dict[str, tuple[Unit, ...]]:
    """Self-then-ancestors for every unit, checking parents exist and levels climb one rung at a time."""
    chains: dict[str, tuple[Unit, ...]] = {}
    for unit in units.values():
        path: list[Unit] = []
        current: Unit | None = unit
        while current is not None and current.code not in chains:
            path.append(current)
            current = _parent_of(current, units)
            if current is not None and len(path) > len(units):
                raise RegistryError(f"cycle in the unit hierarchy through {unit.code!r}")
        tail = chains[current.code] if current is not None else ()
        for i in range(len(path) - 1, -1, -1):
            tail = (path[i], *tail)
            chains[path[i].code] = tail
    return chains


def _parent_of(unit: Unit, units: Mapping[str, Unit]) -> Unit | None:
    if unit.parent is None:
        if unit.level is not Level.DISTRICT:
            raise RegistryError(f"unit {unit.code!r} has no parent but is not a district")
        return None
    parent = units.get(unit.parent)
    if parent is None:
        raise RegistryError(f"unit {unit.code!r} names unknown parent {unit.parent!r}")
    if unit.level.up() is not parent.level:
        raise RegistryError(
            f"unit {unit.code!r} ({unit.level.value}) is not one rung below "
            f"its parent {parent.code!r} ({parent.level.value})"
        )
    return parent


def _children(units: Mapping[str, Unit]) -> dict[str | None, tuple[Unit, ...]]:
    grouped: dict[str | None, list[Unit]] = defaultdict(list)
    for u in units.values():
        grouped[u.parent].append(u)
    return {k: tuple(sorted(v, key=lambda u: u.code)) for k, v in grouped.items()}


def _branch_index(
    branches: Mapping[str, Branch], departments: Mapping[str, Department], units: Mapping[str, Unit]
) -> dict[tuple[str, str], tuple[Branch, ...]]:
    grouped: dict[tuple[str, str], list[Branch]] = defaultdict(list)
    for b in sorted(branches.values(), key=lambda b: b.code):
        if b.department not in departments:
            raise RegistryError(f"branch {b.code!r} names unknown department {b.department!r}")
        for covered in b.covers:
            if covered not in units:
                raise RegistryError(f"branch {b.code!r} covers unknown unit {covered!r}")
            grouped[(b.department, covered)].append(b)
    return {k: tuple(v) for k, v in grouped.items()}


def _building_index(buildings: Mapping[str, Building], units: Mapping[str, Unit]) -> dict[str, tuple[Building, ...]]:
    grouped: dict[str, list[Building]] = defaultdict(list)
    for b in buildings.values():
        unit = units.get(b.micro_grid)
        if unit is None or unit.level is not Level.MICRO_GRID:
            raise RegistryError(f"building {b.code!r} names {b.micro_grid!r}, which is not a micro-grid")
        grouped[b.micro_grid].append(b)
    return {k: tuple(sorted(v, key=lambda b: b.code)) for k, v in grouped.items()}


def _address_indexes(buildings: Mapping[str, Building]) -> tuple[dict[str, Building], dict[str, Building]]:
    by_address: dict[str, Building] = {}
    by_code: dict[str, Building] = {}
    # Sorted so that, should two addresses normalise alike, the smallest code wins every time.
    for b in sorted(buildings.values(), key=lambda b: b.code, reverse=True):
        by_address[normalise_address(b.address)] = b
        by_code[normalise_address(b.code)] = b
    by_address.pop("", None)
    return by_address, by_code


class _CellIndex:
    """The polygons a point intersects, as ``STRtree.query(Point(x, y), predicate="intersects")`` gives them,
    without building a shapely Point per lookup (that was most of a lookup's cost, bench.routing): a uniform
    grid of cells over the polygons' bounding boxes, each cell listing the polygons whose box overlaps it, then
    the box test and GEOS's exact intersects on the prepared polygon for the few candidates."""

    __slots__ = ("_boxes", "_cells", "_polygons", "_size", "_x0", "_y0")

    def __init__(self, polygons: list[Any]) -> None:
        self._polygons = tuple(polygons)
        bounds = shapely.bounds(np.array(polygons, dtype=object)) if polygons else np.zeros((0, 4))
        self._boxes = tuple((float(a), float(b), float(c), float(d)) for a, b, c, d in bounds)
        shapely.prepare(np.array(polygons, dtype=object))
        self._cells: dict[tuple[int, int], tuple[int, ...]] = {}
        self._x0 = self._y0 = 0.0
        self._size = 1.0
        if not polygons:
            return
        self._x0, self._y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        spans = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        self._size = float(np.median(spans)) or 1.0  # about one polygon per cell
        cells: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
        for index, (x0, y0, x1, y1) in enumerate(self._boxes):
            (i0, j0), (i1, j1) = self._cell(x0, y0), self._cell(x1, y1)
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    cells[(i, j)].append(index)
        self._cells = {k: tuple(v) for k, v in cells.items()}

    def _cell(self, x: float, y: float) -> tuple[int, int]:
        return int((x - self._x0) // self._size), int((y - self._y0) // self._size)

    def intersecting(self, x: float, y: float) -> list[int]:
        """Indices (ascending) of the polygons the point (x, y) intersects: inside or on the boundary."""
        if not (math.isfinite(x) and math.isfinite(y)):  # garbage in: no polygon, as the tree says
            return []
        out = []
        for index in self._cells.get(self._cell(x, y), ()):
            x0, y0, x1, y1 = self._boxes[index]
            if x0 <= x <= x1 and y0 <= y <= y1 and shapely.lib.intersects_xy(self._polygons[index], x, y):
                out.append(index)
        return out


def _unstaffed(
    units: Mapping[str, Unit], departments: Mapping[str, Department], branches: Mapping[str, Branch]
) -> frozenset[tuple[AssigneeKind, str]]:
    """(kind, code) of everyone with nobody assigned, for the kinds whose staffing the registry records."""
    out: set[tuple[AssigneeKind, str]] = set()
    if any(u.people for u in units.values()):
        out |= {(AssigneeKind.UNIT, u.code) for u in units.values() if not u.people}
    if any(d.people for d in departments.values()) or any(b.people for b in branches.values()):
        out |= {(AssigneeKind.DEPARTMENT, d.code) for d in departments.values() if not d.people}
        out |= {(AssigneeKind.BRANCH, b.code) for b in branches.values() if not b.people}
    return frozenset(out)


def _content_hash(registry: Registry) -> str:
    """Order-independent hash of everything the registry holds, boundaries included."""
    h = hashlib.sha256()

    def feed(tag: str, row: object) -> None:
        h.update(json.dumps([tag, row], ensure_ascii=False, separators=(",", ":")).encode())

    units = sorted(registry.units.values(), key=lambda u: u.code)
    wkbs = shapely.to_wkb(np.array([u.boundary for u in units], dtype=object), hex=True)
    for u, wkb in zip(units, wkbs, strict=True):
        people = [[p.id, p.name, p.role, p.phone] for p in u.people]
        feed("unit", [u.code, u.name, u.level.value, u.parent, None if wkb is None else str(wkb), people])

    def staff(people: Iterable[Any]) -> list[list[Any]]:
        return [[p.id, p.name, p.role, p.phone] for p in people]

    # a department's or branch's people are hashed only when listed, so registries without them keep their version
    for d in sorted(registry.departments.values(), key=lambda d: d.code):
        feed("department", [d.code, d.name, d.name_en, *([staff(d.people)] if d.people else [])])
    for b in sorted(registry.branches.values(), key=lambda b: b.code):
        feed("branch", [b.code, b.department, b.name, list(b.covers), *([staff(b.people)] if b.people else [])])
    for bl in sorted(registry.buildings.values(), key=lambda b: b.code):
        feed("building", [bl.code, bl.address, bl.micro_grid, bl.lon, bl.lat])
    return h.hexdigest()[:16]
