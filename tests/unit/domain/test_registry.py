"""The registry over the sample district: hierarchy, spatial lookup, addresses, branches, command centres."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.domain.model import Branch, Building, Department, Level, Unit
from shared.domain.registry import Registry, RegistryError, UnknownCodeError, normalise_address
from shared.errors import InvalidInput, NotFound
from shared.registry_files import load_directory

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"


# Loaded once at import: hypothesis strategies below draw from it.
SAMPLE_REGISTRY = load_directory(SAMPLE).registry
MICRO_GRIDS = SAMPLE_REGISTRY.units_at(Level.MICRO_GRID)


@pytest.fixture
def registry() -> Registry:
    return SAMPLE_REGISTRY


def tiny(**overrides: object) -> Registry:
    """District D ⊃ street S ⊃ community C ⊃ grids G1, G2; micro-grids M1, M2 in G1 and M3 in G2.

    G2's west half has no micro-grid, so points there are in a grid but in no micro-grid.
    """
    units = [
        Unit("D", "区", Level.DISTRICT, None, shapely.box(0, 0, 4, 2)),
        Unit("S", "街道", Level.STREET, "D", shapely.box(0, 0, 4, 2)),
        Unit("C", "社区", Level.COMMUNITY, "S", shapely.box(0, 0, 4, 2)),
        Unit("G1", "第1网格", Level.GRID, "C", shapely.box(0, 0, 2, 2)),
        Unit("G2", "第2网格", Level.GRID, "C", shapely.box(2, 0, 4, 2)),
        Unit("M2", "邻里格2", Level.MICRO_GRID, "G1", shapely.box(1, 0, 2, 2)),
        Unit("M1", "邻里格1", Level.MICRO_GRID, "G1", shapely.box(0, 0, 1, 2)),
        Unit("M3", "邻里格3", Level.MICRO_GRID, "G2", shapely.box(3, 0, 4, 2)),
    ]
    departments = [Department("police", "公安分局", "Police"), Department("health", "卫健局", "Health")]
    branches = [
        Branch("police-district", "police", "区巡警大队", ("D",)),
        Branch("police-s", "police", "街道派出所", ("S",)),
        Branch("police-c", "police", "社区警务室", ("C",)),
    ]
    buildings = [
        Building("B1", "幸福路1号", "M1", 0.5, 1.0),
        Building("B2", "幸福路1号院2号楼", "M2", 1.5, 1.0),
        Building("B3", "１号楼", "M3"),
    ]
    args: dict[str, object] = {
        "units": units,
        "departments": departments,
        "branches": branches,
        "buildings": buildings,
    }
    args.update(overrides)
    return Registry(**args)  # type: ignore[arg-type]


# --- shape of the sample ---------------------------------------------------------------------------


def test_sample_has_the_size_the_seeds_describe(registry: Registry) -> None:
    counts = {level: len(registry.units_at(level)) for level in Level}
    assert counts[Level.DISTRICT] == 1
    assert counts[Level.STREET] >= 3
    assert counts[Level.COMMUNITY] >= 12
    assert counts[Level.GRID] >= 40
    assert counts[Level.MICRO_GRID] >= 200
    assert len(registry.departments) >= 17
    assert len(registry.buildings) >= counts[Level.MICRO_GRID]
    assert registry.roots == registry.units_at(Level.DISTRICT)


def test_unit_and_department_by_code(registry: Registry) -> None:
    micro = MICRO_GRIDS[0]
    assert registry.unit(micro.code) is micro
    assert registry.department("police").name.endswith("公安分局")
    with pytest.raises(UnknownCodeError) as unit_error:
        registry.unit("nope")
    assert isinstance(unit_error.value, KeyError) and isinstance(unit_error.value, NotFound)
    with pytest.raises(UnknownCodeError):
        registry.department("nope")
    with pytest.raises(UnknownCodeError):
        registry.children("nope")


def test_children_are_one_level_down_and_sorted(registry: Registry) -> None:
    for unit in registry.units.values():
        kids = registry.children(unit.code)
        assert [k.code for k in kids] == sorted(k.code for k in kids)
        assert all(k.parent == unit.code and k.level.up() is unit.level for k in kids)
        assert (not kids) == (unit.level is Level.MICRO_GRID)


def test_ancestors_nearest_first(registry: Registry) -> None:
    micro = MICRO_GRIDS[-1]
    levels = [u.level for u in registry.ancestors(micro.code)]
    assert levels == [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT]
    assert registry.ancestors(micro.code)[0].code == micro.parent
    assert registry.chain(micro.code)[0] is micro
    assert registry.ancestors(registry.roots[0].code) == ()


def test_every_unit_climbs_the_ladder_to_the_district(registry: Registry) -> None:
    for unit in registry.units.values():
        chain = registry.chain(unit.code)
        assert [u.level.rank for u in chain] == list(range(unit.level.rank, Level.DISTRICT.rank + 1))
        assert all(child.parent == parent.code for child, parent in itertools.pairwise(chain))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([u.code for u in SAMPLE_REGISTRY.units.values()]))
def test_ancestors_climb_strictly_up_property(code: str) -> None:
    ancestors = SAMPLE_REGISTRY.ancestors(code)
    ranks = [SAMPLE_REGISTRY.unit(code).level.rank, *(u.level.rank for u in ancestors)]
    assert ranks == sorted(set(ranks)) and all(b - a == 1 for a, b in itertools.pairwise(ranks))
    assert (ancestors[-1] if ancestors else SAMPLE_REGISTRY.unit(code)).level is Level.DISTRICT


def test_descendants(registry: Registry) -> None:
    street = registry.units_at(Level.STREET)[0]
    below = registry.descendants(street.code)
    assert all(street in registry.ancestors(u.code) for u in below)
    assert len([u for u in below if u.level is Level.MICRO_GRID]) == len(
        [m for m in MICRO_GRIDS if street in registry.ancestors(m.code)]
    )
    assert len(registry.descendants(registry.roots[0].code)) == len(registry.units) - 1


# --- space -----------------------------------------------------------------------------------------


def test_every_micro_grid_centre_locates_to_it(registry: Registry) -> None:
    for micro in MICRO_GRIDS:
        point = micro.boundary.representative_point()
        assert registry.locate_point(point.x, point.y) is micro


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MICRO_GRIDS),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_any_point_inside_a_micro_grid_locates_to_it(micro: Unit, fx: float, fy: float) -> None:
    west, south, east, north = micro.boundary.bounds
    x, y = west + fx * (east - west), south + fy * (north - south)
    assume(micro.boundary.contains(shapely.Point(x, y)))  # interior points only; edges are shared
    assert SAMPLE_REGISTRY.locate_point(x, y) is micro
    assert SAMPLE_REGISTRY.smallest_containing(x, y) is micro


def test_point_outside_the_district_is_not_located(registry: Registry) -> None:
    west, south, east, north = registry.roots[0].boundary.bounds
    assert registry.locate_point(east + 0.01, north + 0.01) is None
    assert registry.smallest_containing(west - 0.01, south) is None
    assert registry.locate_point(float("nan"), south) is None  # garbage in: unlocated, not an exception
    assert registry.smallest_containing(float("inf"), 200.0) is None


def test_boundary_points_go_to_the_smallest_code() -> None:
    r = tiny()
    assert r.locate_point(1.0, 1.0).code == "M1"  # edge shared by M1 and M2
    assert r.locate_point(0.5, 1.0).code == "M1"
    assert r.locate_point(1.5, 1.0).code == "M2"
    assert r.locate_point(0.0, 1.0).code == "M1"  # outer edge still counts


def test_shared_edges_in_the_sample_are_deterministic(registry: Registry) -> None:
    a, b = next(
        (a, b)
        for a in MICRO_GRIDS
        for b in MICRO_GRIDS
        if a.code < b.code and a.boundary.intersection(b.boundary).geom_type == "LineString"
    )
    mid = a.boundary.intersection(b.boundary).interpolate(0.5, normalized=True)
    assert registry.locate_point(mid.x, mid.y) is a
    assert registry.locate_point(mid.x, mid.y) is a  # and again: no hidden state


def test_smallest_containing_falls_back_to_larger_units() -> None:
    r = tiny()
    assert r.locate_point(2.5, 1.0) is None  # west half of G2 has no micro-grid
    assert r.smallest_containing(2.5, 1.0).code == "G2"
    assert r.smallest_containing(3.5, 1.0).code == "M3"
    assert r.smallest_containing(9.0, 9.0) is None


def test_units_without_boundaries_are_only_found_by_code() -> None:
    r = Registry([Unit("D", "区", Level.DISTRICT, None), Unit("S", "街道", Level.STREET, "D")])
    assert r.locate_point(0, 0) is None and r.smallest_containing(0, 0) is None
    assert r.unit("S").parent == "D"


# --- addresses -------------------------------------------------------------------------------------


def test_building_by_exact_address_and_code(registry: Registry) -> None:
    for b in list(registry.buildings.values())[::37]:
        assert registry.building_by_address(b.address) is b
        assert registry.building_by_address(b.code) is b
        assert registry.building_by_address(f"  {b.address}。 ") is b


def test_building_by_address_normalises_spaces_punctuation_and_width() -> None:
    r = tiny()
    assert r.building_by_address("幸福路 1 号院，2号楼") is r.building("B2")
    assert r.building_by_address("幸福路１号院２号楼") is r.building("B2")  # full-width digits
    assert r.building_by_address("b2") is r.building("B2")
    assert r.building_by_address("1号楼") is r.building("B3")  # exact match of a short address


def test_building_by_address_finds_the_longest_address_in_a_sentence(registry: Registry) -> None:
    r = tiny()
    assert r.building_by_address("幸福路1号院2号楼东侧垃圾堆了三天") is r.building("B2")
    assert r.building_by_address("莲湖区幸福路1号门口") is r.building("B1")
    assert r.building_by_address("3号院1号楼旁") is None  # "1号楼" alone is too short to trust inside text
    b = next(iter(registry.buildings.values()))
    assert registry.building_by_address(f"市民反映：{b.address}楼道内堆放杂物") is b


def test_unknown_or_empty_address_is_none(registry: Registry) -> None:
    assert registry.building_by_address("火星路999号") is None
    assert registry.building_by_address("") is None
    assert registry.building_by_address("，。 ！") is None


def test_buildings_in_a_micro_grid(registry: Registry) -> None:
    micro = MICRO_GRIDS[3]
    inside = registry.buildings_in(micro.code)
    assert inside and all(b.micro_grid == micro.code for b in inside)
    assert all(micro.boundary.contains(shapely.Point(b.lon, b.lat)) for b in inside)
    assert registry.buildings_in(micro.parent or "") == ()


def test_normalise_address() -> None:
    assert normalise_address(" 幸福路（东段）12-3号 ") == "幸福路东段123号"
    assert normalise_address("ＡＢＣ") == "abc"


# --- command centres and branches ------------------------------------------------------------------


def test_command_centre_is_the_street_or_district(registry: Registry) -> None:
    for micro in MICRO_GRIDS[::20]:
        centre = registry.command_centre_for(micro.code)
        assert centre.level is Level.STREET and centre.has_command_centre
        assert centre in registry.ancestors(micro.code)
    street = registry.units_at(Level.STREET)[0]
    assert registry.command_centre_for(street.code) is street
    assert registry.command_centre_for(registry.roots[0].code) is registry.roots[0]
    with pytest.raises(UnknownCodeError):
        registry.command_centre_for("nope")


def test_branches_for_a_place_in_the_sample(registry: Registry) -> None:
    for micro in MICRO_GRIDS[::15]:
        street = registry.command_centre_for(micro.code)
        police = registry.branches_for("police", micro.code)
        assert [b.covers for b in police] == [(street.code,)]
        assert police[0].name.endswith("派出所")
        fire = registry.branches_for("fire_rescue", micro.code)
        assert len(fire) == 1 and street.code in fire[0].covers
    assert registry.branches_for("housing_construction", MICRO_GRIDS[0].code) == ()
    with pytest.raises(UnknownCodeError):
        registry.branches_for("no_such_department", MICRO_GRIDS[0].code)
    with pytest.raises(UnknownCodeError):
        registry.branches_for("police", "no_such_unit")


def test_branches_for_lists_nearest_coverage_first() -> None:
    r = tiny()
    assert [b.code for b in r.branches_for("police", "M1")] == ["police-c", "police-s", "police-district"]
    assert [b.code for b in r.branches_for("police", "S")] == ["police-s", "police-district"]
    assert r.branches_for("health", "M1") == ()


# --- value semantics -------------------------------------------------------------------------------


def test_version_is_a_content_hash() -> None:
    a, b = tiny(), tiny(units=list(reversed(tiny().units.values())))
    assert a.version == b.version and len(a.version) == 16
    renamed = [Unit(u.code, u.name + "改", u.level, u.parent, u.boundary) for u in a.units.values()]
    assert tiny(units=renamed).version != a.version
    moved = [Unit(u.code, u.name, u.level, u.parent, shapely.affinity.translate(u.boundary, 1e-6)) for u in renamed]
    assert tiny(units=moved).version != tiny(units=renamed).version


def test_registry_is_immutable() -> None:
    r = tiny()
    with pytest.raises(AttributeError):
        r._units = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.units["X"] = r.unit("D")  # type: ignore[index]


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ([Unit("D", "区", Level.DISTRICT, None), Unit("D", "区", Level.DISTRICT, None)], "duplicate unit"),
        ([Unit("D", "区", Level.DISTRICT, None), Unit("S", "街道", Level.STREET, "X")], "unknown parent"),
        ([Unit("D", "区", Level.DISTRICT, None), Unit("C", "社区", Level.COMMUNITY, "D")], "one rung below"),
        ([Unit("S", "街道", Level.STREET, None)], "not a district"),
    ],
)
def test_inconsistent_structure_is_refused(units: list[Unit], message: str) -> None:
    with pytest.raises(RegistryError, match=message) as error:
        Registry(units)
    assert isinstance(error.value, InvalidInput)


def test_inconsistent_references_are_refused() -> None:
    with pytest.raises(RegistryError, match="unknown department"):
        tiny(branches=[Branch("x", "fire", "消防站", ("S",))])
    with pytest.raises(RegistryError, match="unknown unit"):
        tiny(branches=[Branch("x", "police", "派出所", ("NOPE",))])
    with pytest.raises(RegistryError, match="not a micro-grid"):
        tiny(buildings=[Building("B9", "某路1号", "G1")])
