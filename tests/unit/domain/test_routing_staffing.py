"""A unit, branch or department with nobody assigned never leads: the nearest staffed rung above does.

Over generated districts of other shapes and names, with gaps at every level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.catalog import MatterCatalog
from shared.domain.model import Assignee, AssigneeKind, Branch, Department, Level, MatterType, Person, Unit
from shared.domain.registry import Registry
from shared.domain.routing import ReportFacts, escalate, route
from shared.registry_files.generate import District, DistrictSpec, build_district

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))
SPEC = DistrictSpec(
    streets=2, communities=5, grids=11, micro_grids=30, seed=99, centre=(120.15, 30.28),
    district_code="330106", district_name="西湖区",
)  # fmt: skip
CATALOG = MatterCatalog(
    [
        MatterType("litter", "楼道杂物", "Litter", ("楼道杂物",), Level.MICRO_GRID, None),
        MatterType("dispute", "邻里纠纷", "Dispute", ("邻里纠纷",), Level.COMMUNITY, None),
        MatterType("theft", "电动车被盗", "Theft", ("电动车被盗",), Level.GRID, "police"),
        MatterType("fraud", "电信诈骗", "Fraud", ("电信诈骗",), Level.GRID, "civil_affairs"),
        MatterType("roadworks", "施工占道", "Roadworks", ("施工占道",), Level.GRID, None, ("police",)),
    ]
)
DISTRICT = build_district(SPEC)
DUTY = (Person("x-1", "值班员", "duty_officer"),)


def U(code: str) -> Assignee:
    return Assignee(AssigneeKind.UNIT, code)


def registry(
    district: District = DISTRICT,
    *,
    nobody: Iterable[str] = (),
    departments: Iterable[Department] | None = None,
    branches: Iterable[Branch] | None = None,
) -> Registry:
    empty = set(nobody)
    units = [replace(u, people=()) if u.code in empty else u for u in district.units]
    return Registry(
        units,
        district.departments if departments is None else departments,
        district.branches if branches is None else branches,
        district.buildings,
    )


def chain_of(reg: Registry, micro: Unit) -> dict[Level, Unit]:
    return {u.level: u for u in reg.chain(micro.code)}


MICRO = DISTRICT.units[-1]  # a micro-grid of the last street
assert MICRO.level is Level.MICRO_GRID


def decide(reg: Registry, text: str, **facts: object) -> object:
    return route(ReportFacts(title=text, grid_code=MICRO.code, **facts), reg, CATALOG, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gaps", "leader"),
    [
        ((), Level.MICRO_GRID),
        ((Level.MICRO_GRID,), Level.GRID),
        ((Level.MICRO_GRID, Level.GRID), Level.COMMUNITY),
        ((Level.MICRO_GRID, Level.GRID, Level.COMMUNITY), Level.STREET),
        ((Level.MICRO_GRID, Level.GRID, Level.COMMUNITY, Level.STREET), Level.DISTRICT),
        ((Level.GRID,), Level.MICRO_GRID),  # a gap above does not matter while the unit itself is staffed
    ],
)
def test_a_case_goes_to_the_nearest_staffed_unit_above_an_empty_one(gaps: tuple[Level, ...], leader: Level) -> None:
    chain = chain_of(registry(), MICRO)
    reg = registry(nobody=[chain[level].code for level in gaps])
    d = route(ReportFacts(title="楼道杂物堆放", grid_code=MICRO.code), reg, CATALOG, NOW)
    assert d.lead == U(chain[leader].code)
    assert d.level is leader
    skipped = [s for s in d.trace if s.rule == "units.skip_unstaffed"]
    if Level.MICRO_GRID in gaps:
        assert skipped, "the trace says why the micro-grid does not lead"
        first = skipped[0].reason
        assert first.startswith(f"micro_grid {MICRO.code} {MICRO.name} has nobody assigned")
        assert "nearest staffed unit above" in first
    else:
        assert not skipped


def test_even_an_empty_district_leads_when_nobody_below_is_staffed() -> None:
    chain = chain_of(registry(), MICRO)
    reg = registry(nobody=[u.code for u in chain.values()])
    d = route(ReportFacts(title="楼道杂物", grid_code=MICRO.code), reg, CATALOG, NOW)
    assert d.lead == U(chain[Level.DISTRICT].code)
    assert any("nor has any rung above" in s.reason for s in d.trace if s.rule == "units.skip_unstaffed")


def test_a_registry_that_lists_nobody_does_not_record_staffing() -> None:
    bare = [replace(u, people=()) for u in DISTRICT.units]
    reg = Registry(bare, DISTRICT.departments, DISTRICT.branches, DISTRICT.buildings)
    assert reg.unstaffed_units() == ()
    d = route(ReportFacts(title="楼道杂物", grid_code=MICRO.code), reg, CATALOG, NOW)
    assert d.lead == U(MICRO.code)


def test_a_branch_with_nobody_gives_way_to_its_department_then_the_district() -> None:
    police = [replace(d, people=DUTY) if d.code == "police" else d for d in DISTRICT.departments]
    staffed_branches = [replace(b, people=DUTY) for b in DISTRICT.branches]
    own = registry(departments=police, branches=staffed_branches).branches_for("police", MICRO.code)[0]
    reg = registry(departments=police, branches=staffed_branches)
    assert decide(reg, "电动车被盗").lead == Assignee(AssigneeKind.BRANCH, own.code)  # type: ignore[attr-defined]

    empty_branch = [replace(b, people=()) if b.code == own.code else b for b in staffed_branches]
    d = decide(registry(departments=police, branches=empty_branch), "电动车被盗")
    assert d.lead == Assignee(AssigneeKind.DEPARTMENT, "police")  # type: ignore[attr-defined]
    reasons = [s.reason for s in d.trace]  # type: ignore[attr-defined]
    assert any(r.startswith(f"branch {own.code} {own.name} has nobody assigned") for r in reasons)
    assert any("no staffed branch of police" in r for r in reasons)

    nobody_at_police = [replace(d, people=()) for d in police]
    d = decide(registry(departments=nobody_at_police, branches=empty_branch), "电动车被盗")
    district = chain_of(registry(), MICRO)[Level.DISTRICT]
    assert d.lead == U(district.code)  # type: ignore[attr-defined]


def test_a_department_without_branches_and_nobody_goes_to_the_district() -> None:
    staffed = [replace(d, people=DUTY) if d.code != "civil_affairs" else d for d in DISTRICT.departments]
    d = decide(registry(departments=staffed), "电信诈骗")
    assert d.lead == U(DISTRICT.units[0].code)  # type: ignore[attr-defined]
    assert any(s.rule == "units.skip_unstaffed" for s in d.trace)  # type: ignore[attr-defined]


def test_an_empty_assisting_unit_is_replaced_by_the_nearest_staffed_one_above() -> None:
    chain = chain_of(registry(), MICRO)
    reg = registry(nobody=[chain[Level.GRID].code])
    gas = route(ReportFacts(title="电动车被盗", grid_code=MICRO.code, urgency="emergency"), reg, CATALOG, NOW)
    assert U(chain[Level.GRID].code) not in gas.assisting
    assert all(reg.staffed(a) for a in gas.assignees)


def test_escalation_skips_a_rung_with_nobody_assigned() -> None:
    chain = chain_of(registry(), MICRO)
    reg = registry(nobody=[chain[Level.GRID].code, chain[Level.COMMUNITY].code])
    step = escalate(U(MICRO.code), reg)
    assert step.target == U(chain[Level.STREET].code)
    assert [s.rule for s in step.trace] == ["escalate.unit", "units.skip_unstaffed"]


def test_a_street_with_nobody_does_not_triage_an_unlocated_case() -> None:
    chain = chain_of(registry(), MICRO)
    street = chain[Level.STREET]
    reg = registry(nobody=[street.code])
    lon, lat = street.boundary.representative_point().coords[0]
    # a point in the street but in none of its micro-grids: remove the micro-grid boundaries of that street
    units = [replace(u, boundary=None) if u.level is Level.MICRO_GRID else u for u in reg.units.values()]
    reg = Registry(units, reg.departments.values(), reg.branches.values(), reg.buildings.values())
    d = route(ReportFacts(title="有情况", lon=lon, lat=lat), reg, CATALOG, NOW)
    assert d.triage and d.lead == U(chain[Level.DISTRICT].code)


@pytest.mark.parametrize("spec", [SPEC, replace(SPEC, streets=4, communities=9, grids=20, micro_grids=60, seed=5)])
def test_every_empty_unit_is_listed_by_level(spec: DistrictSpec) -> None:
    district = build_district(spec)
    picked = {lv: next(u for u in district.units if u.level is lv) for lv in Level}
    reg = registry(district, nobody=[u.code for u in picked.values()])
    assert [u.code for u in reg.unstaffed_units()] == [picked[lv].code for lv in Level]
    assert not reg.staffed(U(picked[Level.GRID].code)) and reg.staffed(U(district.units[-1].code))
