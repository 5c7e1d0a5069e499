"""Parsing of the four registry files into domain values; per-field problems are collected, not raised.

A record with any problem yields no value (nothing half-built); its code, when readable, is remembered in
`Problems.broken` so that records referring to it are not reported a second time.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely.errors
import shapely.geometry
import yaml

from shared.domain.model import (
    DEFAULT_ESCALATION,
    DEFAULT_EXTENSION,
    Branch,
    Building,
    ClockKind,
    Department,
    EscalationRule,
    ExtensionRule,
    Level,
    MatterType,
    Person,
    Unit,
)
from shared.registry_files import escalation, extension
from shared.registry_files.fields import RecordReader, is_number
from shared.registry_files.validate import Problems

UNIT_PROPERTIES = frozenset({"code", "name", "level", "parent", "people", "extra"})
PERSON_FIELDS = frozenset({"id", "name", "role", "phone"})
PERSON_ROLES = frozenset({"grid_worker", "grid_head", "volunteer", "duty_officer", "embedded"})
DEPARTMENT_FIELDS = frozenset({"code", "name", "name_en", "branches", "people"})
BRANCH_FIELDS = frozenset({"code", "name", "covers", "people"})
MATTER_FIELDS = frozenset(
    {
        "code",
        "name",
        "name_en",
        "keywords",
        "level",
        "lead_department",
        "assisting_departments",
        "accept_within_hours",
        "resolve_within",
        "clock",
        "returnable_by",
        "safety",
        "warn_at",
        "escalation",
        "extension",
    }
)
BUILDING_COLUMNS = ("code", "address", "micro_grid", "lon", "lat")
_GEOMETRY_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError)


def _record_name(data: Any, fallback: str) -> str:
    """The record's code as written: a code mistyped as a number is still named by it (and remembered as
    rejected under that name), so that records referring to it are not reported a second time."""
    code = data.get("code") if isinstance(data, Mapping) else None
    if is_number(code):
        return str(code)
    return code.strip() if isinstance(code, str) and code.strip() else fallback


def read_text(path: Path, problems: Problems, kind: str) -> str | None:
    """The file's text; a file that is not UTF-8 is reported with what to do, naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.add(path.name, "-", "-", f"cannot read {kind}: {exc}")
        problems.unreadable.add(path.name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(path.name, "-", "-", not_utf8(path.name, data, exc))
        problems.unreadable.add(path.name)
        return None


def not_utf8(name: str, data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    guess = ""
    try:
        data.decode("gb18030")
        guess = " It reads as GBK/GB18030, the encoding Chinese Excel and WPS save CSV in by default."
    except UnicodeDecodeError:
        pass
    hint = " (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')" if name.endswith(".csv") else ""
    return (
        f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} is not valid UTF-8.{guess} "
        f"Save {name} as UTF-8{hint} and import again"
    )


# --- units.geojson --------------------------------------------------------------------------------


def parse_units(path: Path, problems: Problems) -> list[Unit]:
    file = path.name
    text = read_text(path, problems, "GeoJSON")
    if text is None:
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(file, "-", "-", f"cannot read GeoJSON: {exc}")
        problems.unreadable.add(file)
        return []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        problems.add(file, "-", "type", "must be a GeoJSON FeatureCollection")
        problems.unreadable.add(file)
        return []
    features = doc.get("features")
    if not isinstance(features, list):
        problems.add(file, "-", "features", "must be a list of Features")
        problems.unreadable.add(file)
        return []
    units = [_parse_unit(file, i, f, problems) for i, f in enumerate(features)]
    return [u for u in units if u is not None]


def _parse_unit(file: str, index: int, feature: Any, problems: Problems) -> Unit | None:
    props = feature.get("properties") if isinstance(feature, dict) else None
    record = _record_name(props, f"features[{index}]")
    if not isinstance(feature, dict) or feature.get("type") != "Feature" or not isinstance(props, dict):
        problems.add(file, record, "type", "must be a GeoJSON Feature with a properties object")
        return None
    r = RecordReader(file, record, props, problems, UNIT_PROPERTIES)
    code, name = r.text("code"), r.text("name")
    level = r.choice("level", Level)
    parent = r.optional_text("parent", key_required=True)
    people = _parse_people(r, props.get("people"))
    if "geometry" not in feature:
        r.report("geometry", "required member is missing (GeoJSON); use null for a unit without a boundary")
    boundary = _parse_geometry(r, feature.get("geometry"))
    if not r.ok or level is None:
        problems.broken.add(record)
        return None
    return Unit(code=code, name=name, level=level, parent=parent, boundary=boundary, people=people)


def _parse_geometry(r: RecordReader, geometry: Any) -> Any:
    if geometry is None:
        return None
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        r.report("geometry", f"must be a Polygon or MultiPolygon (or null), not {kind}")
        return None
    try:
        shape = shapely.geometry.shape(geometry)
    except _GEOMETRY_ERRORS as exc:
        r.report("geometry", f"malformed coordinates: {exc}")
        return None
    if not all(math.isfinite(v) for v in shape.bounds):
        r.report("geometry", "coordinates must be finite numbers")
        return None
    return shape


def _parse_people(r: RecordReader, value: Any) -> tuple[Person, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.report("people", f"must be a list of people, not {value!r}")
        return ()
    people: list[Person] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            r.report(f"people[{i}]", "must be an object with id, name, role, phone")
            continue
        p = RecordReader(r.file, r.record, item, r.problems, PERSON_FIELDS)
        pid, name, role, phone = p.text("id"), p.text("name"), p.text("role"), p.optional_text("phone")
        if role and role not in PERSON_ROLES:
            p.report("role", f"unknown role {role!r}; expected one of {', '.join(sorted(PERSON_ROLES))}")
        if not p.ok:
            r.ok = False
            continue
        people.append(Person(id=pid, name=name, role=role, phone=phone))
    return tuple(people)


# --- departments.yaml / catalog.yaml ----------------------------------------------------------------


def _load_yaml_list(path: Path, key: str, problems: Problems) -> list[Any]:
    return list(_load_yaml_doc(path, key, problems).get(key, []))


def _load_yaml_doc(path: Path, key: str, problems: Problems, also: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The file's mapping, holding a list under `key` and maybe the keys `also` (empty when unreadable)."""
    file = path.name
    text = read_text(path, problems, "YAML")
    if text is None:
        return {}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.add(file, "-", "-", f"cannot read YAML: {exc}")
        problems.unreadable.add(file)
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        problems.add(file, "-", key, f"the file must be a mapping with a list under {key!r}")
        problems.unreadable.add(file)
        return {}
    for extra in sorted(set(doc) - {key, *also}, key=str):
        expected = " or ".join(repr(k) for k in (key, *sorted(also)))
        problems.add(file, "-", str(extra), f"unknown top-level key; expected only {expected}")
    return doc


def parse_departments(path: Path, problems: Problems) -> tuple[list[Department], list[Branch]]:
    file = path.name
    departments: list[Department] = []
    branches: list[Branch] = []
    for i, item in enumerate(_load_yaml_list(path, "departments", problems)):
        record = _record_name(item, f"departments[{i}]")
        if not isinstance(item, dict):
            problems.add(file, record, "-", "must be a mapping")
            continue
        r = RecordReader(file, record, item, problems, DEPARTMENT_FIELDS)
        code, name, name_en = r.text("code"), r.text("name"), r.text("name_en")
        people = _parse_people(r, item.get("people"))
        raw_branches = item.get("branches") or []
        if not isinstance(raw_branches, list):
            r.report("branches", "must be a list of branches")
            raw_branches = []
        for j, raw in enumerate(raw_branches):
            branch = _parse_branch(file, f"{record}.branches[{j}]", code, raw, problems)
            if branch is not None:
                branches.append(branch)
        if r.ok:
            departments.append(Department(code=code, name=name, name_en=name_en, people=people))
        else:
            problems.broken.add(record)
    return departments, branches


def _parse_branch(file: str, fallback: str, department: str, raw: Any, problems: Problems) -> Branch | None:
    record = _record_name(raw, fallback)
    if not isinstance(raw, dict):
        problems.add(file, record, "-", "must be a mapping")
        return None
    r = RecordReader(file, record, raw, problems, BRANCH_FIELDS)
    code, name = r.text("code"), r.text("name")
    covers = r.text_list("covers", required=True, non_empty=True)
    people = _parse_people(r, raw.get("people"))
    if not r.ok or not department:
        return None
    return Branch(code=code, department=department, name=name, covers=covers, people=people)


def parse_catalog(path: Path, problems: Problems) -> tuple[list[MatterType], EscalationRule, ExtensionRule]:
    """The matter types, the district default escalation policy and extension limits (the top-level keys)."""
    file = path.name
    doc = _load_yaml_doc(path, "matter_types", problems, also=frozenset({escalation.KEY, extension.KEY}))
    default = DEFAULT_ESCALATION
    if escalation.KEY in doc:
        default = escalation.parse_rule(file, "-", doc[escalation.KEY], DEFAULT_ESCALATION, problems) or default
    limits = DEFAULT_EXTENSION
    if extension.KEY in doc:
        limits = extension.parse_rule(file, "-", doc[extension.KEY], DEFAULT_EXTENSION, problems) or limits
    matters: list[MatterType] = []
    for i, item in enumerate(doc.get("matter_types", [])):
        record = _record_name(item, f"matter_types[{i}]")
        if not isinstance(item, dict):
            problems.add(file, record, "-", "must be a mapping")
            continue
        matter = _parse_matter(RecordReader(file, record, item, problems, MATTER_FIELDS), default, limits)
        if matter is not None:
            matters.append(matter)
    return matters, default, limits


def _parse_matter(
    r: RecordReader, default_escalation: EscalationRule, default_extension: ExtensionRule = DEFAULT_EXTENSION
) -> MatterType | None:
    defaults = MatterType("", "", "", (), Level.MICRO_GRID, None)
    code, name, name_en = r.text("code"), r.text("name"), r.text("name_en")
    keywords = r.text_list("keywords", required=True, non_empty=True)
    level = r.choice("level", Level)
    lead = r.optional_text("lead_department", key_required=True)
    assisting = r.text_list("assisting_departments")
    accept = r.number("accept_within_hours", defaults.accept_within_hours)
    resolve = r.number("resolve_within", defaults.resolve_within)
    clock = r.choice("clock", ClockKind, defaults.clock)
    returnable = r.choices("returnable_by", Level)
    safety = r.flag("safety", defaults.safety)
    warn_at = _parse_warn_at(r, defaults.warn_at)
    rule = None
    if escalation.KEY in r.data:
        rule = escalation.parse_rule(r.file, r.record, r.data[escalation.KEY], default_escalation, r.problems)
        r.ok = r.ok and rule is not None
    limits = None
    if extension.KEY in r.data:
        limits = extension.parse_rule(r.file, r.record, r.data[extension.KEY], default_extension, r.problems)
        r.ok = r.ok and limits is not None
    if not r.ok or level is None or clock is None:
        return None
    return MatterType(
        code=code,
        name=name,
        name_en=name_en,
        keywords=keywords,
        level=level,
        lead_department=lead,
        assisting_departments=assisting,
        accept_within_hours=accept,
        resolve_within=resolve,
        clock=clock,
        returnable_by=returnable,
        safety=safety,
        warn_at=warn_at,
        escalation=rule,
        extension=limits,
    )


def _parse_warn_at(r: RecordReader, default: tuple[float, ...]) -> tuple[float, ...]:
    value = r.data.get("warn_at", default)
    if value is None:
        return ()
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1 for v in value
    )
    if not ok or list(value) != sorted(set(value)):
        r.report("warn_at", f"must be a strictly increasing list of fractions between 0 and 1, not {value!r}")
        return default
    return tuple(float(v) for v in value)


# --- buildings.csv --------------------------------------------------------------------------------


def parse_buildings(path: Path, problems: Problems) -> list[Building]:
    file = path.name
    text = read_text(path, problems, "CSV")
    if text is None:
        return []
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        problems.add(file, "-", "-", f"cannot read CSV: {exc}")
        return []
    if not rows:
        problems.add(file, "-", "-", f"missing header row; expected {','.join(BUILDING_COLUMNS)}")
        return []
    header = [h.strip() for h in rows[0]]
    missing = [c for c in BUILDING_COLUMNS[:3] if c not in header]
    unknown = [c for c in header if c not in BUILDING_COLUMNS]
    for c in missing:
        problems.add(file, "header", c, "required column is missing")
    for c in unknown:
        problems.add(file, "header", c, f"unknown column; expected {','.join(BUILDING_COLUMNS)}")
    if missing or unknown:
        return []
    buildings: list[Building] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        b = _parse_building(file, line, header, row, problems)
        if b is not None:
            buildings.append(b)
    return buildings


def _parse_building(file: str, line: int, header: list[str], row: list[str], problems: Problems) -> Building | None:
    record = f"line {line}"
    if len(row) != len(header):
        problems.add(file, record, "-", f"has {len(row)} cells; the header has {len(header)}")
        return None
    cells = {h: c.strip() for h, c in zip(header, row, strict=True)}
    r = RecordReader(file, cells["code"] or record, {k: v for k, v in cells.items() if v}, problems, frozenset(header))
    code, address, micro_grid = r.code_cell("code"), r.text("address"), r.code_cell("micro_grid")
    lon, lat = _coordinate(r, "lon", cells.get("lon", ""), 180), _coordinate(r, "lat", cells.get("lat", ""), 90)
    if (lon is None) != (lat is None):
        r.report("lon" if lon is None else "lat", "give both lon and lat, or neither")
    if not r.ok:
        return None
    return Building(code=code, address=address, micro_grid=micro_grid, lon=lon, lat=lat)


def _coordinate(r: RecordReader, field: str, text: str, limit: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        r.report(field, f"must be a number, not {text!r}")
        return None
    if not math.isfinite(value) or abs(value) > limit:
        r.report(field, f"must be between -{limit:g} and {limit:g}, not {text}")
        return None
    return value
