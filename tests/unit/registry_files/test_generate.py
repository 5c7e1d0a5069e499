"""The district generator: deterministic, exact tilings, plausible names, and the committed sample is its output."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.model import Level
from shared.domain.registry import Registry
from shared.registry_files import check_directory, load_directory
from shared.registry_files.generate import DistrictSpec, allocate, build_district, generate, main
from shared.registry_files.tessellate import rect_around, split
from shared.registry_files.validate import Problems, check_buildings, check_units

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"
FILES = ("units.geojson", "departments.yaml", "catalog.yaml", "buildings.csv")
# The invocation documented in docs/registry-format.md that produced data/sample-district.
SAMPLE_ARGS = ["--streets", "4", "--communities", "16", "--grids", "48", "--micro-grids", "240", "--seed", "20240730"]
SMALL = DistrictSpec(streets=2, communities=5, grids=11, micro_grids=37, seed=7)


def test_committed_sample_is_the_documented_generator_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path), *SAMPLE_ARGS]) == 0
    assert "240 micro-grids" in capsys.readouterr().out
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), f"{name} differs: regenerate the sample"


def test_same_seed_same_bytes_other_seed_other_district(tmp_path: Path) -> None:
    a, b = generate(tmp_path / "a", SMALL), generate(tmp_path / "b", SMALL)
    c = generate(tmp_path / "c", DistrictSpec(streets=2, communities=5, grids=11, micro_grids=37, seed=8))
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in FILES)
    assert (a / "units.geojson").read_bytes() != (c / "units.geojson").read_bytes()


def test_counts_are_exactly_as_asked() -> None:
    district = build_district(SMALL)
    levels = [u.level for u in district.units]
    assert [levels.count(lv) for lv in Level] == [37, 11, 5, 2, 1]
    assert len(district.buildings) == 37 * SMALL.buildings_per_micro_grid


def test_children_tile_their_parents_exactly() -> None:
    registry = Registry(build_district(SMALL).units)
    for unit in registry.units.values():
        kids = registry.children(unit.code)
        if not kids:
            continue
        union = shapely.union_all([k.boundary for k in kids])
        assert union.symmetric_difference(unit.boundary).area == 0, unit.code
        assert sum(k.boundary.area for k in kids) == pytest.approx(unit.boundary.area, rel=1e-12)


def test_codes_names_and_people_look_like_the_real_thing() -> None:
    district = build_district(SMALL)
    by_level = {lv: [u for u in district.units if u.level is lv] for lv in Level}
    assert all(u.name.endswith("街道") for u in by_level[Level.STREET])
    assert all(u.name.endswith("社区") for u in by_level[Level.COMMUNITY])
    assert all(re.fullmatch(r".+社区第\d+网格", u.name) for u in by_level[Level.GRID])
    assert all(re.fullmatch(r".+社区邻里格\d+", u.name) for u in by_level[Level.MICRO_GRID])
    assert len({u.name for u in district.units}) == len(district.units)
    for u in district.units:
        if u.parent is not None:
            assert u.code.startswith(u.parent) and len(u.code) == len(u.parent) + 3
    roles = {lv: {p.role for u in by_level[lv] for p in u.people} for lv in Level}
    assert roles[Level.GRID] == {"grid_head", "grid_worker"}
    assert roles[Level.MICRO_GRID] == {"volunteer"}
    assert roles[Level.STREET] == roles[Level.DISTRICT] == {"duty_officer"}
    phones = [p.phone for u in district.units for p in u.people]
    assert all(p is not None and re.fullmatch(r"1\d{2}\*{4}\d{4}", p) for p in phones)


def test_buildings_sit_inside_their_micro_grids_with_unique_addresses() -> None:
    district = build_district(SMALL)
    units = {u.code: u for u in district.units}
    for b in district.buildings:
        assert b.lon is not None and b.lat is not None
        assert units[b.micro_grid].boundary.contains(shapely.Point(b.lon, b.lat))
        assert re.fullmatch(r".+(路|街|巷)\d+号院\d+号楼", b.address)
    assert len({b.address for b in district.buildings}) == len(district.buildings)


def test_departments_have_branches_per_street() -> None:
    district = build_district(SMALL)
    streets = [u.code for u in district.units if u.level is Level.STREET]
    assert len(district.departments) >= 17
    police = [b for b in district.branches if b.department == "police"]
    assert [b.covers for b in police] == [(s,) for s in streets]
    fire = [b for b in district.branches if b.department == "fire_rescue"]
    assert [b.covers for b in fire] == [tuple(streets)]  # one fire station for two streets


def test_district_sits_around_the_requested_centre() -> None:
    spec = DistrictSpec(streets=1, communities=1, grids=1, micro_grids=4, centre=(116.4, 39.9))
    district = build_district(spec).units[0]
    assert district.level is Level.DISTRICT
    assert district.boundary.centroid.distance(shapely.Point(116.4, 39.9)) < 1e-5


@settings(max_examples=12, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda s: st.integers(s, 6).flatmap(
            lambda c: st.integers(c, 12).flatmap(
                lambda g: st.tuples(st.just(s), st.just(c), st.just(g), st.integers(g, 40), st.integers(0, 2**16))
            )
        )
    )
)
def test_any_generated_district_validates(counts: tuple[int, int, int, int, int]) -> None:
    streets, communities, grids, micro, seed = counts
    spec = DistrictSpec(streets=streets, communities=communities, grids=grids, micro_grids=micro, seed=seed)
    district = build_district(spec)
    problems = Problems()
    check_units(district.units, problems)
    check_buildings(district.buildings, {u.code: u for u in district.units}, problems)
    assert not problems, problems.items
    registry = Registry(district.units, district.departments, district.branches, district.buildings)
    assert len(registry.units_at(Level.MICRO_GRID)) == micro
    for b in district.buildings:
        assert registry.locate_point(b.lon or 0, b.lat or 0) is registry.unit(b.micro_grid)


def test_generated_files_pass_validation(tmp_path: Path) -> None:
    out = generate(tmp_path, SMALL)
    assert check_directory(out) == ()
    assert load_directory(out).registry.version == Registry(*_values(SMALL)).version


def _values(spec: DistrictSpec) -> tuple[object, ...]:
    d = build_district(spec)
    return d.units, d.departments, d.branches, d.buildings


@pytest.mark.parametrize(
    "kwargs",
    [
        {"streets": 4, "communities": 3},
        {"grids": 10, "micro_grids": 5},
        {"streets": 0, "communities": 0, "grids": 0, "micro_grids": 0},
        {"buildings_per_micro_grid": -1},
        {"streets": 1, "communities": 1, "grids": 1, "micro_grids": 1000},
    ],
)
def test_impossible_specs_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DistrictSpec(**kwargs)  # type: ignore[arg-type]


def test_cli_reports_a_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--streets", "5", "--communities", "2"])
    assert exit_info.value.code == 2
    assert "at least as many communities as streets" in capsys.readouterr().err


# --- the building blocks ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.2, 5.0), min_size=1, max_size=30), st.integers(0, 1000), st.floats(0.3, 3.0))
def test_split_tiles_the_rectangle_without_gaps_or_overlaps(weights: list[float], seed: int, aspect: float) -> None:
    rect = rect_around(108.93, 34.27, 1000 * aspect, 1000)
    cells = split(rect, weights, random.Random(seed))
    assert len(cells) == len(weights)
    boxes = [shapely.box(*c) for c in cells]
    assert all(b.area > 0 for b in boxes)
    assert shapely.union_all(boxes).symmetric_difference(shapely.box(*rect)).area == 0
    assert sum(b.area for b in boxes) == pytest.approx(shapely.box(*rect).area, rel=1e-9)


@given(st.integers(1, 200), st.integers(0, 5000), st.integers(0, 1000))
def test_allocate_gives_everyone_at_least_one(parents: int, extra: int, seed: int) -> None:
    counts = allocate(parents + extra, parents, random.Random(seed))
    assert len(counts) == parents and sum(counts) == parents + extra and min(counts) >= 1
