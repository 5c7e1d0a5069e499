"""Routing: every rule by name over a small hand-built district, plus properties."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from shared.domain.calendar import NaiveDatetimeError
from shared.domain.catalog import MatterCatalog
from shared.domain.model import (
    LADDER,
    Assignee,
    AssigneeKind,
    Branch,
    Building,
    ClockKind,
    Department,
    Level,
    MatterType,
    Unit,
)
from shared.domain.registry import Registry
from shared.domain.routing import (
    Decision,
    LocateMethod,
    Policy,
    ReportFacts,
    ReturnNotAllowed,
    RoutingError,
    UnknownAssignee,
    Urgency,
    assignee_level,
    check_return,
    escalate,
    parse_assignee,
    route,
    summon,
)

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=CST)  # a Wednesday
X0, Y0, STEP = 108.90, 34.20, 0.01  # the district is 4 × 4 steps: streets, communities, grids, micro-grids


def U(code: str) -> Assignee:
    return Assignee(AssigneeKind.UNIT, code)


def B(code: str) -> Assignee:
    return Assignee(AssigneeKind.BRANCH, code)


def DEP(code: str) -> Assignee:
    return Assignee(AssigneeKind.DEPARTMENT, code)


# --- a small district: 2 streets × 2 communities × 2 grids × 2 micro-grids ---------------------------


def _split(code: str, level: Level, x: float, y: float, w: float, h: float, out: list[Unit]) -> None:
    """Halve the rectangle for each rung down: streets and grids split west/east, the others south/north."""
    child = level.rank - 1
    if child < 0:
        return
    lower = LADDER[child]
    halves = (
        [(x, y, w / 2, h), (x + w / 2, y, w / 2, h)]
        if lower in (Level.STREET, Level.GRID)
        else [(x, y, w, h / 2), (x, y + h / 2, w, h / 2)]
    )
    tag = {Level.STREET: "S", Level.COMMUNITY: "C", Level.GRID: "G", Level.MICRO_GRID: "M"}[lower]
    for i, (cx, cy, cw, ch) in enumerate(halves, start=1):
        sub = f"{code}-{tag}{i}"
        # one micro-grid has no boundary: points there fall back to its grid's area
        shape = None if sub == "D-S2-C2-G2-M2" else box(cx, cy, cx + cw, cy + ch)
        out.append(Unit(sub, f"unit {sub}", lower, code, shape))
        _split(sub, lower, cx, cy, cw, ch, out)


def build_registry() -> Registry:
    units = [Unit("D", "示范区", Level.DISTRICT, None, box(X0, Y0, X0 + 4 * STEP, Y0 + 4 * STEP))]
    _split("D", Level.DISTRICT, X0, Y0, 4 * STEP, 4 * STEP, units)
    departments = [
        Department("CM", "城市管理局", "City management"),
        Department("HOUSING", "住房和城乡建设局", "Housing"),
        Department("FIRE", "消防救援大队", "Fire"),
        Department("POLICE", "公安分局", "Police"),
    ]
    branches = [
        Branch("CM-S1", "CM", "城管一中队", ("D-S1",)),
        Branch("CM-S2", "CM", "城管二中队", ("D-S2",)),
        Branch("CM-C1", "CM", "城管C1社区站", ("D-S1-C1",)),
        Branch("FIRE-D", "FIRE", "消防站", ("D",)),
    ]
    buildings = [Building("BLD-1", "西关正街18号院3号楼", "D-S1-C1-G1-M1")]
    return Registry(units, departments, branches, buildings)


def build_catalog() -> MatterCatalog:
    return MatterCatalog(
        [
            MatterType("NOISE", "噪音扰民", "Noise", ("噪音", "扰民", "吵"), Level.GRID, None),
            MatterType(
                "PARKING", "非机动车乱停放", "Illegal parking of non-motor vehicles", ("乱停", "非机动车"),
                Level.COMMUNITY, "CM", ("POLICE",),
            ),
            MatterType(
                "GAS", "燃气泄漏", "Gas leak", ("燃气泄漏", "漏气"), Level.STREET, "HOUSING", ("FIRE",),
                accept_within_hours=0.5, resolve_within=4, safety=True,
            ),
            MatterType(
                "REPAIR", "房屋维修", "House repairs", ("房屋维修", "墙皮脱落"), Level.COMMUNITY, "HOUSING",
                accept_within_hours=4, resolve_within=5, clock=ClockKind.WORKING_DAYS, warn_at=(0.6, 0.9),
            ),
            MatterType(
                "ELDERLY", "独居老人关爱", "Elderly living alone", ("独居老人",), Level.MICRO_GRID, None,
                resolve_within=3, clock=ClockKind.WORKING_DAYS,
            ),
        ]
    )  # fmt: skip


REG = build_registry()
CAT = build_catalog()


def centre(code: str) -> tuple[float, float]:
    p = REG.unit(code).boundary.centroid
    return (p.x, p.y)


def at(code: str, **kw: object) -> ReportFacts:
    lon, lat = centre(code)
    return ReportFacts(lon=lon, lat=lat, **kw)  # type: ignore[arg-type]


def rules(d: Decision) -> list[str]:
    return [s.rule for s in d.trace]


MG = "D-S1-C1-G1-M1"


# --- locate ------------------------------------------------------------------------------------------


def test_point_in_polygon_places_the_case_in_its_micro_grid() -> None:
    d = route(at(MG, matter="NOISE"), REG, CAT, NOW)
    assert d.place == MG and d.located_by is LocateMethod.POINT
    step = d.trace[0]
    assert step.rule == "locate.point_in_polygon"
    assert f"lies in micro-grid {MG}" in step.reason


def test_grid_code_is_used_when_there_is_no_point() -> None:
    d = route(ReportFacts(grid_code="D-S1-C1-G2", matter="NOISE"), REG, CAT, NOW)
    assert d.located_by is LocateMethod.GRID_CODE and d.place == "D-S1-C1-G2"
    assert d.lead == U("D-S1-C1-G2")


def test_unknown_grid_code_falls_through_to_the_address() -> None:
    d = route(ReportFacts(grid_code="NOPE", address="莲湖区西关正街18号院3号楼门口", matter="NOISE"), REG, CAT, NOW)
    assert rules(d)[:2] == ["locate.grid_code_unknown", "locate.address"]
    assert d.place == MG and d.located_by is LocateMethod.ADDRESS


def test_point_wins_over_a_disagreeing_grid_code_and_says_so() -> None:
    d = route(at(MG, grid_code="D-S2-C1-G1", matter="NOISE"), REG, CAT, NOW)
    assert d.place == MG
    assert "locate.grid_code_disagrees" in rules(d)


def test_point_outside_every_micro_grid_goes_to_the_command_centre_of_the_smallest_area() -> None:
    d = route(at("D-S2-C2-G2", matter="NOISE"), REG, CAT, NOW)  # its north micro-grid has no boundary
    lon, lat = centre("D-S2-C2-G2")
    assert REG.locate_point(lon, lat + STEP / 4) is None
    d = route(ReportFacts(lon=lon, lat=lat + STEP / 4, matter="NOISE"), REG, CAT, NOW)
    assert rules(d)[:2] == ["locate.point_outside", "locate.smallest_containing"]
    assert d.located_by is LocateMethod.CONTAINING_AREA and d.place == "D-S2-C2-G2"
    assert d.lead == U("D-S2") and d.triage and d.assisting == ()
    assert "units.unlocated_command_centre" in rules(d)


def test_a_report_with_no_usable_location_goes_to_the_district_never_nowhere() -> None:
    for report in (ReportFacts(matter="NOISE"), ReportFacts(lon=100.0, lat=30.0, address="火星路1号")):
        d = route(report, REG, CAT, NOW)
        assert d.located_by is LocateMethod.DISTRICT
        assert d.lead == U("D") and d.level is Level.DISTRICT and d.triage
        assert "locate.district_fallback" in rules(d)


# --- classify ----------------------------------------------------------------------------------------


def test_given_matter_code_is_used() -> None:
    d = route(at(MG, matter="PARKING", title="噪音"), REG, CAT, NOW)
    assert d.matter == "PARKING" and "classify.given_code" in rules(d)


def test_unknown_matter_code_falls_back_to_keywords() -> None:
    d = route(at(MG, matter="NOPE", title="楼下非机动车乱停"), REG, CAT, NOW)
    assert rules(d)[1:3] == ["classify.unknown_code", "classify.keywords"]
    assert d.matter == "PARKING" and not d.triage


def test_keyword_classification_names_the_matched_words() -> None:
    d = route(at(MG, title="楼上噪音扰民", description="每天深夜"), REG, CAT, NOW)
    step = next(s for s in d.trace if s.rule == "classify.keywords")
    assert d.matter == "NOISE" and step.detail["keywords"] == ["噪音", "扰民"]


def test_weak_keyword_match_goes_to_triage_at_the_community() -> None:
    d = route(at(MG, title="有点吵"), REG, CAT, NOW)  # "吵" scores 1, below the minimum of 2
    assert "classify.keywords_below_min" in rules(d) and "classify.triage" in rules(d)
    assert d.matter is None and d.triage
    assert d.lead == U("D-S1-C1") and d.level is Level.COMMUNITY and d.assisting == ()
    assert d.accept_by == NOW + timedelta(hours=2) and d.resolve_by == NOW + timedelta(hours=24)


def test_triage_is_at_the_street_when_no_community_is_known() -> None:
    d = route(ReportFacts(grid_code="D-S2", title="不知道找谁"), REG, CAT, NOW)
    assert d.lead == U("D-S2") and d.level is Level.STREET and d.triage


def test_safety_words_never_wait_in_triage_at_the_community() -> None:
    d = route(at(MG, title="楼道里有人说闻到煤气"), REG, CAT, NOW)
    assert d.matter is None and d.level is Level.STREET and d.lead == U("D-S1")


# --- how big -----------------------------------------------------------------------------------------


def test_base_level_from_the_catalog() -> None:
    d = route(at(MG, matter="NOISE"), REG, CAT, NOW)
    assert d.level is Level.GRID and d.lead == U("D-S1-C1-G1") and d.assisting == ()
    assert "level.base" in rules(d)


def test_emergency_raises_one_rung_and_high_does_not() -> None:
    assert route(at(MG, matter="NOISE", urgency=Urgency.HIGH), REG, CAT, NOW).level is Level.GRID
    d = route(at(MG, matter="NOISE", urgency=Urgency.EMERGENCY), REG, CAT, NOW)
    assert d.level is Level.COMMUNITY and "level.raise_urgency" in rules(d)


def test_high_can_be_made_to_raise_by_policy() -> None:
    policy = Policy(raise_on=frozenset({Urgency.HIGH, Urgency.EMERGENCY}))
    assert route(at(MG, matter="NOISE", urgency="high"), REG, CAT, NOW, policy).level is Level.COMMUNITY  # type: ignore[arg-type]


def test_safety_keywords_raise_a_non_safety_matter_once() -> None:
    d = route(at(MG, matter="NOISE", description="隔壁冒烟，还有爆炸声"), REG, CAT, NOW)
    assert d.level is Level.COMMUNITY
    step = next(s for s in d.trace if s.rule == "level.raise_safety_keywords")
    assert step.detail["keywords"] == ["冒烟", "爆炸"]


def test_fire_words_inside_harmless_words_do_not_raise() -> None:
    assert route(at(MG, matter="NOISE", title="火锅店噪音"), REG, CAT, NOW).level is Level.GRID


@pytest.mark.parametrize(("households", "level"), [(9, Level.GRID), (10, Level.COMMUNITY), (50, Level.STREET)])
def test_households_affected_raise_by_threshold(households: int, level: Level) -> None:
    assert route(at(MG, matter="NOISE", households=households), REG, CAT, NOW).level is level


@pytest.mark.parametrize(("duplicates", "level"), [(2, Level.GRID), (3, Level.COMMUNITY)])
def test_linked_duplicates_raise_by_threshold(duplicates: int, level: Level) -> None:
    assert route(at(MG, matter="NOISE", duplicates=duplicates), REG, CAT, NOW).level is level


def test_raises_add_up_and_are_capped_at_the_district() -> None:
    d = route(at(MG, matter="GAS", urgency=Urgency.EMERGENCY, households=60), REG, CAT, NOW)
    assert d.level is Level.DISTRICT and "level.cap" in rules(d)


def test_level_is_never_below_what_the_location_knows() -> None:
    d = route(ReportFacts(grid_code="D-S1-C2", matter="ELDERLY"), REG, CAT, NOW)
    assert d.level is Level.COMMUNITY and d.lead == U("D-S1-C2")
    assert "level.clamp_to_place" in rules(d)


# --- units -------------------------------------------------------------------------------------------


def test_matter_without_lead_department_is_led_by_the_territorial_unit() -> None:
    d = route(at(MG, matter="ELDERLY"), REG, CAT, NOW)
    assert d.lead == U(MG) and d.unit == MG and d.assisting == ()
    assert "units.lead_territorial" in rules(d)


def test_department_matter_is_led_by_the_nearest_covering_branch_with_the_community_assisting() -> None:
    d = route(at(MG, matter="PARKING"), REG, CAT, NOW)
    assert d.lead == B("CM-C1")
    assert d.assisting == (U("D-S1-C1"), DEP("POLICE"))  # police has no branch here: the department
    assert d.unit == "D-S1-C1"
    unit_rules = [r for r in rules(d) if r.startswith("units.")]
    assert unit_rules == ["units.lead_branch", "units.assist_territorial", "units.assist_department"]


def test_department_without_a_branch_leads_itself() -> None:
    d = route(at(MG, matter="REPAIR"), REG, CAT, NOW)
    assert d.lead == DEP("HOUSING") and d.assisting == (U("D-S1-C1"),)
    assert "units.lead_department" in rules(d)


def test_big_matter_links_the_network_lead_plus_territory_departments_and_the_spot() -> None:
    d = route(at(MG, matter="GAS"), REG, CAT, NOW)  # street level, safety: raised to district
    assert d.level is Level.DISTRICT
    assert d.lead == DEP("HOUSING")
    assert d.assisting == (U("D"), B("FIRE-D"), U("D-S1-C1-G1"), U("D-S1-C1"))
    assert rules(d).count("units.big_matter_on_site") == 2


def test_a_raised_small_matter_co_assigns_the_grid_where_it_happened() -> None:
    d = route(at(MG, matter="NOISE", duplicates=3), REG, CAT, NOW)
    assert d.lead == U("D-S1-C1") and d.assisting == (U("D-S1-C1-G1"),)


# --- returns -----------------------------------------------------------------------------------------


def test_return_by_the_nearest_branch_goes_to_the_next_branch() -> None:
    d = route(at(MG, matter="PARKING", excluded=frozenset({B("CM-C1")}), returns=1), REG, CAT, NOW)
    assert d.lead == B("CM-S1") and "units.skip_returned" in rules(d)


def test_when_every_branch_returned_the_territorial_unit_leads() -> None:
    report = at(MG, matter="PARKING", excluded=frozenset({B("CM-C1"), B("CM-S1")}), returns=1)
    d = route(report, REG, CAT, NOW)
    assert d.lead == U("D-S1-C1") and "units.lead_territorial_fallback" in rules(d)
    assert U("D-S1-C1") not in d.assisting


def test_return_by_a_territorial_unit_goes_one_rung_up() -> None:
    d = route(at(MG, matter="NOISE", excluded=frozenset({U("D-S1-C1-G1")}), returns=1), REG, CAT, NOW)
    assert d.lead == U("D-S1-C1") and d.unit == "D-S1-C1" and d.level is Level.COMMUNITY


def test_returned_units_are_not_co_assigned_either() -> None:
    d = route(at(MG, matter="PARKING", excluded=frozenset({DEP("POLICE")}), returns=1), REG, CAT, NOW)
    assert DEP("POLICE") not in d.assisting


def test_repeated_returns_go_to_the_street_for_arbitration() -> None:
    d = route(at(MG, matter="PARKING", excluded=frozenset({B("CM-C1"), B("CM-S1")}), returns=2), REG, CAT, NOW)
    assert d.arbitration and d.lead == U("D-S1") and d.assisting == () and d.level is Level.STREET
    assert "returns.arbitration" in rules(d)


def test_arbitration_goes_to_the_district_when_the_street_returned_it() -> None:
    d = route(at(MG, matter="NOISE", excluded=frozenset({U("D-S1")}), returns=3), REG, CAT, NOW)
    assert d.arbitration and d.lead == U("D")


def test_number_of_returns_before_arbitration_is_configurable() -> None:
    report = at(MG, matter="NOISE", excluded=frozenset({U("D-S1-C1-G1"), U("D-S1-C1")}), returns=2)
    d = route(report, REG, CAT, NOW, Policy(max_returns=3))
    assert not d.arbitration and d.lead == U("D-S1")
    with pytest.raises(RoutingError):
        Policy(max_returns=0)


# --- deadlines ---------------------------------------------------------------------------------------


def test_calendar_hour_deadlines_from_the_catalog() -> None:
    d = route(at(MG, matter="NOISE"), REG, CAT, NOW)
    assert d.accept_by == NOW + timedelta(hours=2) and d.resolve_by == NOW + timedelta(hours=72)
    assert d.accept_by.tzinfo is UTC and d.clock is ClockKind.CALENDAR_HOURS
    assert d.warn_at == (0.5, 0.8)


def test_working_day_deadlines_cross_the_spring_festival() -> None:
    thursday = datetime(2026, 2, 12, 10, 0, tzinfo=CST)
    d = route(at(MG, matter="REPAIR"), REG, CAT, thursday)
    assert d.accept_by.astimezone(CST) == datetime(2026, 2, 12, 14, 0, tzinfo=CST)  # four office hours
    # 13 Feb, make-up Saturday 14 Feb, then 24, 25, 26 Feb after the holiday
    assert d.resolve_by.astimezone(CST) == datetime(2026, 2, 26, 17, 0, tzinfo=CST)
    assert d.clock is ClockKind.WORKING_DAYS and d.warn_at == (0.6, 0.9) and d.calendar_known


def test_high_urgency_halves_the_allowances() -> None:
    d = route(at(MG, matter="NOISE", urgency=Urgency.HIGH), REG, CAT, NOW)
    assert d.accept_by == NOW + timedelta(hours=1) and d.resolve_by == NOW + timedelta(hours=36)
    assert "deadline.urgency" in rules(d)


def test_emergency_counts_calendar_hours_and_quarters_the_allowance() -> None:
    d = route(at(MG, matter="REPAIR", urgency=Urgency.EMERGENCY), REG, CAT, NOW)
    assert d.clock is ClockKind.CALENDAR_HOURS and "deadline.emergency_clock" in rules(d)
    assert d.accept_by == NOW + timedelta(hours=1) and d.resolve_by == NOW + timedelta(hours=30)


def test_shortening_stops_at_the_floor() -> None:
    d = route(at(MG, matter="GAS", urgency=Urgency.EMERGENCY), REG, CAT, NOW)
    assert d.accept_by == NOW + timedelta(minutes=15) and d.resolve_by == NOW + timedelta(hours=1)


def test_unknown_calendar_year_is_flagged_in_the_decision_and_trace() -> None:
    d = route(at(MG, matter="REPAIR"), REG, CAT, datetime(2031, 3, 4, 10, tzinfo=CST))
    assert not d.calendar_known and "deadline.calendar_unknown" in rules(d)


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        route(at(MG, matter="NOISE"), REG, CAT, datetime(2026, 3, 4, 10))  # noqa: DTZ001


# --- input and output --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"lon": 108.9}, {"lon": 200.0, "lat": 34.0}, {"households": -1}, {"urgency": "panic"}],
)
def test_bad_report_facts_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(RoutingError):
        ReportFacts(**kwargs)  # type: ignore[arg-type]


def test_decision_serialises_to_json_with_versions() -> None:
    d = route(at(MG, matter="GAS"), REG, CAT, NOW)
    body = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
    assert body["lead"] == "department:HOUSING"
    assert body["registry_version"] == REG.version and body["catalog_version"] == CAT.version
    assert body["trace"][0]["rule"] == "locate.point_in_polygon"


def test_same_input_same_decision() -> None:
    report = at(MG, title="楼下非机动车乱停", households=12)
    assert route(report, REG, CAT, NOW) == route(report, REG, CAT, NOW)


# --- escalation --------------------------------------------------------------------------------------


def test_escalation_climbs_the_territorial_ladder_and_stays_at_the_top() -> None:
    path, current = [], U(MG)
    for _ in range(6):
        step = escalate(current, REG)
        if step.at_top:
            assert step.target == current and step.trace[0].rule == "escalate.at_top"
            break
        path.append(step.target.code)
        current = step.target
    assert path == ["D-S1-C1-G1", "D-S1-C1", "D-S1", "D"]


def test_escalation_of_a_branch_goes_to_its_department_then_the_district() -> None:
    first = escalate(B("CM-C1"), REG)
    assert first.target == DEP("CM") and not first.at_top
    second = escalate(first.target, REG, place=MG)
    assert second.target == U("D") and second.trace[0].rule == "escalate.department"
    assert escalate(second.target, REG).at_top


def test_escalation_of_an_unknown_assignee_is_refused() -> None:
    for who in (U("NOPE"), B("NOPE"), DEP("NOPE")):
        with pytest.raises(UnknownAssignee):
            escalate(who, REG)


# --- summons -----------------------------------------------------------------------------------------


def test_street_summons_departments_with_report_in_deadlines() -> None:
    s = summon(MG, ["CM", "HOUSING", "CM"], "D-S1", NOW, REG)
    assert [(c.department, c.assignee) for c in s.calls] == [("CM", B("CM-C1")), ("HOUSING", DEP("HOUSING"))]
    assert all(c.report_in_by == NOW + timedelta(hours=24) for c in s.calls)
    assert s.by == U("D-S1")


def test_emergency_summons_must_report_in_within_the_hour() -> None:
    s = summon(MG, ["FIRE"], "D-S1-C1", NOW, REG, urgency=Urgency.EMERGENCY)
    assert s.calls[0].report_in_by == NOW + timedelta(hours=1) and s.calls[0].assignee == B("FIRE-D")


def test_the_district_summons_on_behalf_of_the_street_the_case_lies_in() -> None:
    s = summon(MG, ["CM"], "D", NOW, REG)
    assert s.by == U("D") and s.on_behalf_of == U("D-S1")
    assert s.trace[0].rule == "summon.on_behalf" and s.trace[0].detail == {"district": "D", "street": "D-S1"}
    assert [c.assignee for c in s.calls] == [B("CM-C1")]
    assert summon(MG, ["CM"], "D-S1", NOW, REG).on_behalf_of is None


def test_the_district_cannot_summon_for_a_case_in_no_street() -> None:
    with pytest.raises(RoutingError, match="lies in no street"):
        summon("D", ["CM"], "D", NOW, REG)


@pytest.mark.parametrize(
    ("by_unit", "departments", "message"),
    [
        ("D-S1-C1-G1", ["CM"], "only a street or community"),
        ("D-S2", ["CM"], "its own area"),
        ("D-S1", ["NOPE"], "unknown department"),
        ("D-S1", [], "at least one department"),
    ],
)
def test_summons_are_validated(by_unit: str, departments: list[str], message: str) -> None:
    with pytest.raises(RoutingError, match=message):
        summon(MG, departments, by_unit, NOW, REG)


# --- properties --------------------------------------------------------------------------------------

lons = st.floats(min_value=X0 - STEP, max_value=X0 + 5 * STEP, allow_nan=False)
lats = st.floats(min_value=Y0 - STEP, max_value=Y0 + 5 * STEP, allow_nan=False)
assignees = st.sampled_from(
    [U(c) for c in REG.units] + [B(c) for c in REG.branches] + [DEP(c) for c in REG.departments]
)
reports = st.builds(
    ReportFacts,
    title=st.sampled_from(["", "噪音", "非机动车乱停", "燃气泄漏", "房屋维修墙皮脱落", "有点吵", "冒烟"]),
    matter=st.sampled_from([None, "NOPE", *CAT.codes]),
    lon=lons,
    lat=lats,
    grid_code=st.sampled_from([None, "NOPE", *list(REG.units)[:5]]),
    urgency=st.sampled_from(Urgency),
    households=st.integers(0, 80),
    duplicates=st.integers(0, 5),
    excluded=st.frozensets(assignees, max_size=6),
    returns=st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(reports)
def test_every_decision_has_exactly_one_lead_and_distinct_assisting_units(report: ReportFacts) -> None:
    d = route(report, REG, CAT, NOW)
    assert isinstance(d.lead, Assignee)
    assert d.lead not in d.assisting and len(set(d.assisting)) == len(d.assisting)
    assert not (set(d.assisting) & report.excluded)
    if d.lead.kind is AssigneeKind.UNIT:
        assert d.unit == d.lead.code and d.level is REG.unit(d.unit).level
    assert d.accept_by <= d.resolve_by and d.accept_by > NOW
    assert d.trace and d.trace[-1].rule == "deadline.resolve"


@settings(max_examples=300, deadline=None)
@given(lons, lats, st.sampled_from(CAT.codes))
def test_a_located_point_routes_to_a_unit_whose_polygon_contains_it(lon: float, lat: float, code: str) -> None:
    d = route(ReportFacts(lon=lon, lat=lat, matter=code), REG, CAT, NOW)
    point = shapely.Point(lon, lat)
    if d.located_by is LocateMethod.POINT:
        assert REG.unit(d.place).boundary.covers(point)
        assert REG.unit(d.unit).boundary.covers(point)
    else:
        holder = REG.unit(d.place).boundary
        assert holder is None or holder.covers(point) or d.located_by is LocateMethod.DISTRICT


@settings(max_examples=100, deadline=None)
@given(assignees)
def test_escalation_strictly_climbs_and_ends(start: Assignee) -> None:
    seen, current = [start], start
    for _ in range(8):
        step = escalate(current, REG, place=MG)
        if step.at_top:
            assert current.kind is AssigneeKind.UNIT and REG.unit(current.code).level is Level.DISTRICT
            return
        assert step.target not in seen
        if current.kind is AssigneeKind.UNIT:
            assert REG.unit(step.target.code).level.rank == REG.unit(current.code).level.rank + 1
        seen.append(step.target)
        current = step.target
    pytest.fail(f"escalation did not end: {seen}")


# --- who may return ----------------------------------------------------------------------------------


def test_return_allowed_only_at_the_catalog_levels() -> None:
    noise = replace(CAT.get("NOISE"), returnable_by=(Level.GRID,))
    check_return(noise, U("D-S1-C1-G1"), REG)
    with pytest.raises(ReturnNotAllowed, match="NOISE may be returned by grid, not by unit:D-S1-C1"):
        check_return(noise, U("D-S1-C1"), REG)


def test_a_matter_with_no_returnable_level_cannot_be_returned() -> None:
    with pytest.raises(ReturnNotAllowed, match="by no level"):
        check_return(CAT.get("GAS"), DEP("HOUSING"), REG)


def test_branch_and_department_levels_for_returns() -> None:
    assert assignee_level(B("CM-C1"), REG) is Level.COMMUNITY
    assert assignee_level(B("CM-S1"), REG) is Level.STREET
    assert assignee_level(DEP("POLICE"), REG) is Level.DISTRICT
    with pytest.raises(UnknownAssignee):
        assignee_level(B("NOPE"), REG)


def test_assignee_strings_parse_back() -> None:
    for a in (U("D-S1"), B("CM-C1"), DEP("gas")):
        assert parse_assignee(str(a)) == a
    for bad in ("D-S1", "street:D-S1", "unit:"):
        with pytest.raises(RoutingError, match="not an assignee"):
            parse_assignee(bad)
