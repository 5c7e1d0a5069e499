"""Loading registry directories: the sample loads whole; every kind of problem is named, all at once."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.domain.model import Level
from shared.errors import InvalidInput
from shared.registry_files import RegistryFileError, RegistryProblem, check_directory, load_directory
from shared.registry_files import write as writer

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"
FILES = ("units.geojson", "departments.yaml", "catalog.yaml", "buildings.csv")

# A tiny valid registry near Xi'an: district D = street S = community C, grid G, micro-grids M1 | M2.
X, Y = 108.93, 34.27


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[X + x0, Y + y0], [X + x1, Y + y0], [X + x1, Y + y1], [X + x0, Y + y1], [X + x0, Y + y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, level: str, parent: str | None, geometry: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    props = {"code": code, "name": f"{code}名", "level": level, "parent": parent, **extra}
    return {"type": "Feature", "properties": props, "geometry": geometry}


UNITS = [
    feature("D", "district", None, box(0, 0, 0.02, 0.01)),
    feature("S", "street", "D", box(0, 0, 0.02, 0.01)),
    feature("C", "community", "S", box(0, 0, 0.02, 0.01)),
    feature("G", "grid", "C", box(0, 0, 0.02, 0.01), people=[{"id": "p1", "name": "王伟", "role": "grid_worker"}]),
    feature("M1", "micro_grid", "G", box(0, 0, 0.01, 0.01)),
    feature("M2", "micro_grid", "G", box(0.01, 0, 0.02, 0.01)),
]
DEPARTMENTS = [
    {
        "code": "police",
        "name": "公安分局",
        "name_en": "Police",
        "branches": [{"code": "ps", "name": "派出所", "covers": ["S"]}],
    },
    {"code": "city_management", "name": "城管局", "name_en": "City management"},
]
MATTERS = [
    {
        "code": "sanitation",
        "name": "环境卫生",
        "name_en": "Sanitation",
        "keywords": ["垃圾"],
        "level": "micro_grid",
        "lead_department": None,
        "assisting_departments": ["city_management"],
    },
    {
        "code": "public_order",
        "name": "治安",
        "name_en": "Public order",
        "keywords": ["治安"],
        "level": "street",
        "lead_department": "police",
        "clock": "working_days",
        "resolve_within": 5,
        "returnable_by": ["street"],
        "safety": False,
        "warn_at": [0.5, 0.8],
    },
]
BUILDINGS = [
    {"code": "B1", "address": "幸福路1号", "micro_grid": "M1", "lon": X + 0.005, "lat": Y + 0.005},
    {"code": "B2", "address": "幸福路2号", "micro_grid": "M2", "lon": "", "lat": ""},
]


def make_dir(
    root: Path,
    units: list[dict[str, Any]] | None = None,
    departments: list[dict[str, Any]] | None = None,
    matters: list[dict[str, Any]] | None = None,
    buildings: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the tiny registry, with any part replaced, into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    doc = {"type": "FeatureCollection", "features": UNITS if units is None else units}
    (root / "units.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    deps = {"departments": DEPARTMENTS if departments is None else departments}
    (root / "departments.yaml").write_text(yaml.safe_dump(deps, allow_unicode=True), encoding="utf-8")
    cat = {"matter_types": MATTERS if matters is None else matters}
    (root / "catalog.yaml").write_text(yaml.safe_dump(cat, allow_unicode=True), encoding="utf-8")
    with (root / "buildings.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, ["code", "address", "micro_grid", "lon", "lat"])
        out.writeheader()
        out.writerows(BUILDINGS if buildings is None else buildings)
    return root


def units_with(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """UNITS with some features' properties changed, keyed by code."""
    out = copy.deepcopy(UNITS)
    for f in out:
        f["properties"].update(changes.get(f["properties"]["code"], {}))
    return out


def problems_in(directory: Path) -> list[RegistryProblem]:
    with pytest.raises(RegistryFileError) as error:
        load_directory(directory)
    assert list(error.value.problems) == list(check_directory(directory))
    return list(error.value.problems)


def named(problems: list[RegistryProblem], file: str, record: str, field: str) -> RegistryProblem:
    hits = [p for p in problems if (p.file, p.record, p.field) == (file, record, field)]
    assert hits, f"no problem for {file}/{record}/{field} in:\n" + "\n".join(map(str, problems))
    return hits[0]


# --- what loads ------------------------------------------------------------------------------------


def test_tiny_fixture_is_valid(tmp_path: Path) -> None:
    loaded = load_directory(make_dir(tmp_path))
    assert check_directory(tmp_path) == ()
    assert loaded.registry.locate_point(X + 0.015, Y + 0.005).code == "M2"
    assert loaded.registry.unit("G").people[0].name == "王伟"
    assert loaded.catalog.get("public_order").resolve_within == 5.0
    assert loaded.registry.building("B2").lon is None
    assert loaded.source == tmp_path


def test_sample_district_loads_whole() -> None:
    loaded = load_directory(SAMPLE)
    assert check_directory(SAMPLE) == ()
    assert len(loaded.registry.units_at(Level.MICRO_GRID)) >= 200
    assert len(loaded.registry.departments) >= 17
    assert len(loaded.catalog) >= 50
    used = {m.lead_department for m in loaded.catalog} | {d for m in loaded.catalog for d in m.assisting_departments}
    assert used - {None} == set(loaded.registry.departments)  # every department has work in the catalog
    assert load_directory(SAMPLE).version == loaded.version


def test_written_values_load_back_identically(tmp_path: Path) -> None:
    loaded = load_directory(SAMPLE)
    r = loaded.registry
    writer.write_units(tmp_path / "units.geojson", r.units.values())
    writer.write_departments(tmp_path / "departments.yaml", list(r.departments.values()), list(r.branches.values()))
    writer.write_catalog(tmp_path / "catalog.yaml", loaded.catalog)
    writer.write_buildings(tmp_path / "buildings.csv", r.buildings.values())
    again = load_directory(tmp_path)
    assert again.registry.version == r.version
    assert again.catalog.version == loaded.catalog.version
    assert list(again.catalog) == list(loaded.catalog)


def test_json_departments_and_no_buildings_are_accepted(tmp_path: Path) -> None:
    make_dir(tmp_path)
    (tmp_path / "departments.yaml").unlink()
    (tmp_path / "departments.json").write_text(json.dumps({"departments": DEPARTMENTS}), encoding="utf-8")
    (tmp_path / "buildings.csv").unlink()
    loaded = load_directory(tmp_path)
    assert loaded.registry.buildings == {} and "police" in loaded.registry.departments


# --- hierarchy problems ----------------------------------------------------------------------------


def test_unknown_parent(tmp_path: Path) -> None:
    problems = problems_in(make_dir(tmp_path, units=units_with(M2={"parent": "NOPE"})))
    assert "unknown parent 'NOPE'" in named(problems, "units.geojson", "M2", "parent").message


def test_cycle(tmp_path: Path) -> None:
    units = units_with(S={"parent": "C"})  # S -> C -> S
    problems = problems_in(make_dir(tmp_path, units=units))
    cycle = [p for p in problems if p.message.startswith("cycle")]
    assert len(cycle) == 1 and cycle[0].field == "parent" and cycle[0].record in {"S", "C"}
    assert "S" in cycle[0].message and "C" in cycle[0].message


def test_duplicate_code(tmp_path: Path) -> None:
    units = [*UNITS, feature("M1", "micro_grid", "G", box(0.005, 0, 0.01, 0.01))]
    problems = problems_in(make_dir(tmp_path, units=units))
    assert "duplicate unit code" in named(problems, "units.geojson", "M1", "code").message


def test_level_must_be_one_below_the_parent(tmp_path: Path) -> None:
    problems = problems_in(make_dir(tmp_path, units=units_with(M1={"parent": "C"})))
    assert "one level below" in named(problems, "units.geojson", "M1", "level").message


def test_only_a_district_may_be_a_root(tmp_path: Path) -> None:
    problems = problems_in(make_dir(tmp_path, units=units_with(S={"parent": None})))
    assert "only a district" in named(problems, "units.geojson", "S", "parent").message


# --- geometry problems -----------------------------------------------------------------------------


def test_self_intersecting_polygon(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    bowtie = [[X, Y], [X + 0.01, Y + 0.01], [X + 0.01, Y], [X, Y + 0.01], [X, Y]]
    units[4]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    problem = named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "M1", "geometry")
    assert "invalid polygon" in problem.message and "Self-intersection" in problem.message


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [X, Y]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[X, Y], [X + 1]]]}, "malformed coordinates"),
        ({"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}, "lon/lat range"),
        ({"type": "Polygon", "coordinates": [[[X, Y], [X + 0.01, Y], [X + 0.02, Y], [X, Y]]]}, "invalid polygon"),
    ],
)
def test_unusable_geometry(tmp_path: Path, geometry: dict[str, Any], message: str) -> None:
    units = copy.deepcopy(UNITS)
    units[5]["geometry"] = geometry
    assert message in named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "M2", "geometry").message


def test_child_outside_its_parent(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    units[5]["geometry"] = box(0.01, 0, 0.03, 0.01)  # half of M2 lies east of G
    problem = named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "M2", "geometry")
    assert "50.0% of the unit lies outside its parent 'G'" in problem.message


def test_child_slightly_outside_its_parent_is_tolerated(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    units[5]["geometry"] = box(0.01, 0, 0.02003, 0.01)  # 0.3% of M2 sticks out: digitising noise
    assert check_directory(make_dir(tmp_path, units=units)) == ()


def test_overlapping_siblings(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    units[5]["geometry"] = box(0.008, 0, 0.02, 0.01)  # M2 covers the east fifth of M1
    problem = named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "M2", "geometry")
    assert "overlaps sibling 'M1' by 20.0%" in problem.message


def test_siblings_sharing_an_edge_do_not_overlap(tmp_path: Path) -> None:
    assert check_directory(make_dir(tmp_path)) == ()  # M1 and M2 share x = 0.01


# --- field problems --------------------------------------------------------------------------------


def test_unknown_level_and_missing_fields(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    units[4]["properties"]["level"] = "block"
    del units[5]["properties"]["name"]
    del units[3]["properties"]["parent"]
    units[2]["properties"]["colour"] = "red"
    problems = problems_in(make_dir(tmp_path, units=units))
    assert "unknown value 'block'" in named(problems, "units.geojson", "M1", "level").message
    assert "required field is missing" in named(problems, "units.geojson", "M2", "name").message
    assert "required field is missing" in named(problems, "units.geojson", "G", "parent").message
    assert "unknown field" in named(problems, "units.geojson", "C", "colour").message


def test_a_broken_unit_is_reported_once_not_again_by_its_children(tmp_path: Path) -> None:
    problems = problems_in(make_dir(tmp_path, units=units_with(G={"level": "block"})))
    assert [(p.record, p.field) for p in problems] == [("G", "level")]


def test_unknown_person_role(tmp_path: Path) -> None:
    units = units_with(M1={"people": [{"id": "p9", "name": "李娜", "role": "mayor"}]})
    assert (
        "unknown role 'mayor'"
        in named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "M1", "role").message
    )


def test_feature_without_geometry_member(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    del units[4]["geometry"]
    units[5]["geometry"] = None  # explicit null is fine: a unit without a known boundary
    problems = problems_in(make_dir(tmp_path, units=units))
    assert [(p.record, p.field) for p in problems] == [("M1", "geometry")]


def test_feature_without_code_is_named_by_position(tmp_path: Path) -> None:
    units = copy.deepcopy(UNITS)
    del units[5]["properties"]["code"]
    named(problems_in(make_dir(tmp_path, units=units)), "units.geojson", "features[5]", "code")


def test_catalog_entry_naming_a_missing_department(tmp_path: Path) -> None:
    matters = copy.deepcopy(MATTERS)
    matters[1]["lead_department"] = "fire"
    matters[0]["assisting_departments"] = ["city_management", "housing"]
    problems = problems_in(make_dir(tmp_path, matters=matters))
    assert "unknown department 'fire'" in named(problems, "catalog.yaml", "public_order", "lead_department").message
    assert "'housing'" in named(problems, "catalog.yaml", "sanitation", "assisting_departments").message


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"clock": "lunar_days"}, "clock", "unknown value 'lunar_days'"),
        ({"level": "block"}, "level", "unknown value 'block'"),
        ({"returnable_by": ["street", "village"]}, "returnable_by", "unknown value 'village'"),
        ({"accept_within_hours": "two"}, "accept_within_hours", "must be a number"),
        ({"resolve_within": 0}, "resolve_within", "greater than 0"),
        ({"warn_at": [0.8, 0.5]}, "warn_at", "strictly increasing"),
        ({"safety": "yes"}, "safety", "true or false"),
        ({"keywords": []}, "keywords", "at least one"),
        ({"keywords": None}, "keywords", "at least one"),
        ({"assisting_departments": ["police"]}, "assisting_departments", "cannot also assist"),
        ({"deadline": 3}, "deadline", "unknown field"),
    ],
)
def test_catalog_field_problems(tmp_path: Path, change: dict[str, Any], field: str, message: str) -> None:
    matters = copy.deepcopy(MATTERS)
    matters[1].update(change)
    assert (
        message
        in named(problems_in(make_dir(tmp_path, matters=matters)), "catalog.yaml", "public_order", field).message
    )


@pytest.mark.parametrize("field", ["name_en", "keywords", "level", "lead_department"])
def test_catalog_required_fields(tmp_path: Path, field: str) -> None:
    matters = copy.deepcopy(MATTERS)
    del matters[0][field]
    problem = named(problems_in(make_dir(tmp_path, matters=matters)), "catalog.yaml", "sanitation", field)
    assert problem.message == "required field is missing"


def test_duplicate_matter_type_and_department(tmp_path: Path) -> None:
    problems = problems_in(
        make_dir(tmp_path, matters=[*MATTERS, MATTERS[0]], departments=[*DEPARTMENTS, DEPARTMENTS[1]])
    )
    assert "duplicate matter type" in named(problems, "catalog.yaml", "sanitation", "code").message
    assert "duplicate department" in named(problems, "departments.yaml", "city_management", "code").message


def test_branch_covering_a_missing_unit(tmp_path: Path) -> None:
    departments = copy.deepcopy(DEPARTMENTS)
    departments[0]["branches"][0]["covers"] = ["S", "S9"]
    problem = named(problems_in(make_dir(tmp_path, departments=departments)), "departments.yaml", "ps", "covers")
    assert "unknown unit 'S9'" in problem.message


def test_department_and_branch_missing_fields(tmp_path: Path) -> None:
    departments = copy.deepcopy(DEPARTMENTS)
    del departments[1]["name_en"]
    del departments[0]["branches"][0]["covers"]
    problems = problems_in(make_dir(tmp_path, departments=departments))
    named(problems, "departments.yaml", "city_management", "name_en")
    named(problems, "departments.yaml", "ps", "covers")


def test_building_in_a_missing_micro_grid(tmp_path: Path) -> None:
    buildings = [*BUILDINGS, {"code": "B3", "address": "幸福路3号", "micro_grid": "M9", "lon": "", "lat": ""}]
    problem = named(problems_in(make_dir(tmp_path, buildings=buildings)), "buildings.csv", "B3", "micro_grid")
    assert "unknown unit 'M9'" in problem.message


def test_building_problems(tmp_path: Path) -> None:
    buildings = [
        *BUILDINGS,
        {"code": "B3", "address": "幸福路3号", "micro_grid": "G", "lon": "", "lat": ""},
        {"code": "B4", "address": "幸福路 1 号", "micro_grid": "M1", "lon": "", "lat": ""},
        {"code": "B5", "address": "幸福路5号", "micro_grid": "M1", "lon": X + 0.015, "lat": Y + 0.005},
        {"code": "B6", "address": "幸福路6号", "micro_grid": "M1", "lon": "east", "lat": Y},
        {"code": "B7", "address": "", "micro_grid": "M1", "lon": X, "lat": ""},
        {"code": "B1", "address": "幸福路8号", "micro_grid": "M1", "lon": "", "lat": ""},
    ]
    problems = problems_in(make_dir(tmp_path, buildings=buildings))
    assert "not a micro-grid" in named(problems, "buildings.csv", "B3", "micro_grid").message
    assert "same address as building 'B1'" in named(problems, "buildings.csv", "B4", "address").message
    assert "outside micro-grid 'M1'" in named(problems, "buildings.csv", "B5", "lon").message
    assert "must be a number" in named(problems, "buildings.csv", "B6", "lon").message
    assert "required field is missing" in named(problems, "buildings.csv", "B7", "address").message
    assert "both lon and lat" in named(problems, "buildings.csv", "B7", "lat").message
    assert "duplicate building" in named(problems, "buildings.csv", "B1", "code").message


def test_buildings_header_problems(tmp_path: Path) -> None:
    make_dir(tmp_path)
    (tmp_path / "buildings.csv").write_text("code,addr,micro_grid\nB1,幸福路1号,M1\n", encoding="utf-8")
    problems = problems_in(tmp_path)
    named(problems, "buildings.csv", "header", "address")
    named(problems, "buildings.csv", "header", "addr")


# --- files -----------------------------------------------------------------------------------------


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    make_dir(tmp_path)
    (tmp_path / "catalog.yaml").unlink()
    (tmp_path / "units.geojson").write_text("{not json", encoding="utf-8")
    (tmp_path / "departments.yaml").write_text("departments: [\n", encoding="utf-8")
    problems = problems_in(tmp_path)
    assert "required file is missing" in named(problems, "catalog.yaml", "-", "-").message
    assert "cannot read GeoJSON" in named(problems, "units.geojson", "-", "-").message
    assert "cannot read YAML" in named(problems, "departments.yaml", "-", "-").message


def test_wrong_top_level_shapes(tmp_path: Path) -> None:
    make_dir(tmp_path)
    (tmp_path / "units.geojson").write_text('{"type": "Feature"}', encoding="utf-8")
    (tmp_path / "catalog.yaml").write_text("matters: []\n", encoding="utf-8")
    problems = problems_in(tmp_path)
    named(problems, "units.geojson", "-", "type")
    named(problems, "catalog.yaml", "-", "matter_types")


def test_not_a_directory(tmp_path: Path) -> None:
    assert check_directory(tmp_path / "nowhere")[0].message == "not a directory"


# --- all problems at once, nothing half-built ------------------------------------------------------


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    units = units_with(M2={"parent": "NOPE"}, C={"level": "town"})
    matters = copy.deepcopy(MATTERS)
    matters[1]["lead_department"] = "fire"
    departments = copy.deepcopy(DEPARTMENTS)
    departments[0]["branches"][0]["covers"] = ["S9"]
    buildings = [{"code": "B9", "address": "某路9号", "micro_grid": "M9", "lon": "", "lat": ""}]
    with pytest.raises(RegistryFileError) as error:
        load_directory(make_dir(tmp_path, units, departments, matters, buildings))
    where = {(p.file, p.record, p.field) for p in error.value.problems}
    assert where >= {
        ("units.geojson", "M2", "parent"),
        ("units.geojson", "C", "level"),
        ("catalog.yaml", "public_order", "lead_department"),
        ("departments.yaml", "ps", "covers"),
        ("buildings.csv", "B9", "micro_grid"),
    }
    assert isinstance(error.value, InvalidInput) and isinstance(error.value, ValueError)
    body = error.value.as_dict()
    assert body["code"] == "registry_files_invalid" and len(body["problems"]) == len(error.value.problems)
    assert "units.geojson: M2: parent: unknown parent 'NOPE'" in str(error.value)


# --- the documented examples are real -------------------------------------------------------------


def test_the_examples_in_the_format_docs_load(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "registry-format.md").read_text(encoding="utf-8")
    examples = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", doc, flags=re.S)
    assert sorted(name for name, _ in examples) == sorted(FILES)
    for name, body in examples:
        (tmp_path / name).write_text(body, encoding="utf-8")
    loaded = load_directory(tmp_path)
    registry, catalog = loaded.registry, loaded.catalog
    assert registry.locate_point(108.935, 34.27).code == "610199001001001002"
    assert registry.building_by_address("莲湖区西关路2号院1号楼门口").code == "610199001001001002-01"
    assert [b.code for b in registry.branches_for("police", "610199001001001001")] == ["police-610199001"]
    assert catalog.classify("楼道里有煤气味")[0].matter.code == "gas_leak"
