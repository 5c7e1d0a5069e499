"""A safety matter that cannot be placed in a grid never waits in triage alone, on generated districts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.catalog import MatterCatalog
from shared.domain.model import Assignee, AssigneeKind, Level, MatterType
from shared.domain.registry import Registry
from shared.domain.routing import Decision, LocateMethod, ReportFacts, route
from shared.registry_files.generate import DistrictSpec, build_district, generate
from shared.registry_files.load import LoadedRegistry, load_directory

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))
SPEC = DistrictSpec(
    streets=4, communities=8, grids=17, micro_grids=50, seed=31, centre=(117.2, 39.13),
    district_code="120101", district_name="和平区",
)  # fmt: skip


def rules(d: Decision) -> list[str]:
    return [s.rule for s in d.trace]


def U(code: str) -> Assignee:
    return Assignee(AssigneeKind.UNIT, code)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> LoadedRegistry:
    return load_directory(generate(tmp_path_factory.mktemp("heping"), SPEC))


def without_micro_grid_boundaries(reg: Registry, street: str) -> Registry:
    """Micro-grids of one street lose their boundaries, so points there lie only in the street's areas."""
    inside = {u.code for u in reg.descendants(street)}
    units = [
        replace(u, boundary=None) if u.code in inside and u.level is Level.MICRO_GRID else u for u in reg.units.values()
    ]
    return Registry(units, reg.departments.values(), reg.branches.values(), reg.buildings.values())


def test_a_gas_leak_outside_the_district_is_led_by_the_gas_department_at_once(loaded: LoadedRegistry) -> None:
    reg = loaded.registry
    district = reg.roots[0]
    west, _, _, _ = district.boundary.bounds
    d = route(ReportFacts(title="闻到燃气泄漏的味道", lon=west - 0.05, lat=SPEC.centre[1]), reg, loaded.catalog, NOW)
    assert d.located_by is LocateMethod.DISTRICT and d.triage
    assert d.matter == "gas_leak"
    assert d.lead == Assignee(AssigneeKind.DEPARTMENT, "gas")  # no gas branch covers the whole district
    assert U(district.code) in d.assisting  # the command centre still places it
    assert "units.safety_unplaced_department" in rules(d)
    assert d.accept_by == NOW + timedelta(hours=0.25)  # the catalog's clock, not triage's 2 hours


def test_a_safety_text_with_no_location_at_all_is_not_left_to_triage_alone(loaded: LoadedRegistry) -> None:
    d = route(ReportFacts(title="楼房出现裂缝，有坍塌危险"), loaded.registry, loaded.catalog, NOW)
    assert d.located_by is LocateMethod.DISTRICT
    matter = loaded.catalog.get(d.matter) if d.matter else None
    assert matter is not None and matter.safety and matter.lead_department
    assert d.lead.kind is not AssigneeKind.UNIT
    assert d.assisting and d.assisting[0] == U(loaded.registry.roots[0].code)


def test_the_branch_covering_the_area_of_the_point_leads(loaded: LoadedRegistry) -> None:
    reg = loaded.registry
    streets = reg.units_at(Level.STREET)
    street = streets[-1]
    cut = without_micro_grid_boundaries(reg, street.code)
    lon, lat = street.boundary.representative_point().coords[0]
    d = route(ReportFacts(title="燃气泄漏", lon=lon, lat=lat), cut, loaded.catalog, NOW)
    assert d.located_by is LocateMethod.CONTAINING_AREA and d.triage
    branch = cut.branches_for("gas", d.place)[0]
    assert d.lead == Assignee(AssigneeKind.BRANCH, branch.code)
    assert d.assisting[0] == U(street.code)  # the street's command centre places it
    assert any(a.kind is not AssigneeKind.UNIT for a in d.assisting[1:])  # the matter's assisting departments


def test_a_matter_that_is_not_a_safety_matter_still_waits_for_the_command_centre(loaded: LoadedRegistry) -> None:
    d = route(ReportFacts(title="楼上装修噪音扰民"), loaded.registry, loaded.catalog, NOW)
    assert d.lead == U(loaded.registry.roots[0].code) and d.assisting == () and d.triage
    assert "units.unlocated_command_centre" in rules(d)
    assert not any(r.startswith("units.safety_unplaced") for r in rules(d))


@pytest.mark.parametrize(
    ("text", "matter"),
    [("院子里有东西冒烟了", None), ("电动车在楼道充电", "EBIKE")],  # safety words only / a safety matter led by units
)
def test_without_a_department_the_district_command_centre_leads(text: str, matter: str | None) -> None:
    district = build_district(replace(SPEC, streets=2, communities=3, grids=6, micro_grids=12, seed=2))
    reg = Registry(district.units, district.departments, district.branches, district.buildings)
    catalog = MatterCatalog(
        [
            MatterType("NOISE", "噪音", "Noise", ("噪音",), Level.GRID, None),
            MatterType("EBIKE", "电动车", "E-bike", ("楼道充电",), Level.GRID, None, safety=True),
        ]
    )
    street = reg.units_at(Level.STREET)[0]
    cut = without_micro_grid_boundaries(reg, street.code)
    lon, lat = street.boundary.representative_point().coords[0]
    d = route(ReportFacts(title=text, lon=lon, lat=lat), cut, catalog, NOW)
    assert d.matter == matter
    assert d.lead == U(reg.roots[0].code) and d.level is Level.DISTRICT
    assert d.assisting == (U(street.code),)
    assert "units.safety_unplaced_district" in rules(d)


def test_an_empty_branch_gives_way_to_its_department_for_an_unplaced_safety_matter(loaded: LoadedRegistry) -> None:
    reg = loaded.registry
    street = reg.units_at(Level.STREET)[0]
    cut = without_micro_grid_boundaries(reg, street.code)
    own = cut.branches_for("gas", street.code)[0]
    staffed = [
        replace(d, people=(next(p for u in reg.units.values() for p in u.people),)) for d in cut.departments.values()
    ]
    branches = [b if b.code == own.code else replace(b, people=staffed[0].people) for b in cut.branches.values()]
    cut = Registry(cut.units.values(), staffed, branches, cut.buildings.values())
    lon, lat = street.boundary.representative_point().coords[0]
    d = route(ReportFacts(title="燃气泄漏", lon=lon, lat=lat), cut, loaded.catalog, NOW)
    assert d.lead == Assignee(AssigneeKind.DEPARTMENT, "gas")
    assert "units.skip_unstaffed" in rules(d)
