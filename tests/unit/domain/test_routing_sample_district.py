"""Routing over the sample district that ships in data/sample-district (loaded as dispatch loads it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.model import Assignee, AssigneeKind, Level
from shared.domain.routing import LocateMethod, ReportFacts, Urgency, escalate, route
from shared.registry_files.load import load_directory

SAMPLE = Path(__file__).parents[3] / "data" / "sample-district"
LOADED = load_directory(SAMPLE)
REG, CAT = LOADED.registry, LOADED.catalog
DISTRICT = REG.roots[0]
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))
MIN_X, MIN_Y, MAX_X, MAX_Y = DISTRICT.boundary.bounds
BUILDING = sorted(REG.buildings.values(), key=lambda b: b.code)[0]


def test_gas_leak_reported_by_address_is_linked_across_the_network() -> None:
    d = route(ReportFacts(title="小区里燃气泄漏，很多人闻到煤气味", address=BUILDING.address), REG, CAT, NOW)
    assert d.located_by is LocateMethod.ADDRESS and d.place == BUILDING.micro_grid
    assert d.matter == "gas_leak" and d.level is Level.STREET  # a community matter, raised as a safety matter
    gas_branch = REG.branches_for("gas", BUILDING.micro_grid)[0]
    assert d.lead == Assignee(AssigneeKind.BRANCH, gas_branch.code)
    chain = {u.level: u.code for u in REG.chain(BUILDING.micro_grid)}
    on_site = {Assignee(AssigneeKind.UNIT, chain[Level.GRID]), Assignee(AssigneeKind.UNIT, chain[Level.COMMUNITY])}
    assert on_site <= set(d.assisting)
    assert Assignee(AssigneeKind.UNIT, chain[Level.STREET]) in d.assisting
    assert d.resolve_by - d.accept_by == timedelta(hours=4) - timedelta(hours=0.25)


def test_a_small_matter_stays_in_the_grid() -> None:
    mg = REG.unit(BUILDING.micro_grid)
    lon, lat = mg.boundary.representative_point().coords[0]
    d = route(ReportFacts(title="楼下垃圾堆放好几天没人清运", lon=lon, lat=lat), REG, CAT, NOW)
    assert d.matter == "sanitation" and d.lead == Assignee(AssigneeKind.UNIT, mg.code)
    assert d.level is Level.MICRO_GRID


@pytest.mark.parametrize("code", CAT.codes)
def test_every_catalog_matter_routes_to_one_lead(code: str) -> None:
    for urgency in (Urgency.NORMAL, Urgency.EMERGENCY):
        d = route(ReportFacts(matter=code, address=BUILDING.address, urgency=urgency), REG, CAT, NOW)
        assert d.matter == code and d.lead not in d.assisting
        assert d.level.rank >= CAT.get(code).level.rank
        assert NOW < d.accept_by <= d.resolve_by


@settings(max_examples=300, deadline=None)
@given(st.floats(MIN_X, MAX_X), st.floats(MIN_Y, MAX_Y), st.sampled_from(CAT.codes))
def test_a_located_point_routes_to_a_unit_whose_polygon_contains_it(lon: float, lat: float, code: str) -> None:
    d = route(ReportFacts(lon=lon, lat=lat, matter=code), REG, CAT, NOW)
    point = shapely.Point(lon, lat)
    if d.located_by is LocateMethod.POINT:
        assert REG.unit(d.place).boundary.covers(point)
        assert REG.unit(d.unit).boundary.covers(point)
    else:  # outside the district's micro-grids: the smallest area holding it, or the district
        assert not DISTRICT.boundary.contains(point) or d.located_by is LocateMethod.CONTAINING_AREA
        assert d.triage


ASSIGNEES = (
    [Assignee(AssigneeKind.UNIT, c) for c in REG.units]
    + [Assignee(AssigneeKind.BRANCH, c) for c in REG.branches]
    + [Assignee(AssigneeKind.DEPARTMENT, c) for c in REG.departments]
)


def test_escalation_from_every_assignee_climbs_to_the_district_and_stays() -> None:
    for start in ASSIGNEES:
        current, seen = start, {start}
        for _ in range(len(Level) + 2):
            step = escalate(current, REG)
            if step.at_top:
                break
            assert step.target not in seen
            seen.add(step.target)
            current = step.target
        assert step.at_top and current == Assignee(AssigneeKind.UNIT, DISTRICT.code), start
