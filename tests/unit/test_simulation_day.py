"""The day generator: deterministic for a seed, shaped like the seeds' numbers, places inside their polygons,
duplicates that dispatch would merge, text that routing classifies as intended."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from functools import cache

import pytest
import shapely

from griddispatch.simulation.day import DayPlan, expected_per_day, parse_mix, plan_day
from griddispatch.simulation.places import distance_m
from griddispatch.simulation.reports import ReportFactory
from griddispatch.simulation.shape import FAVOURITES, HOTLINE_PER_COMMUNITY, DayShape
from shared.domain.model import Level
from shared.domain.routing import ReportFacts, Urgency, route
from shared.errors import InvalidInput
from shared.registry_files.load import LoadedRegistry, load_directory
from shared.settings import PROJECT_ROOT

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in the district


@cache
def sample() -> LoadedRegistry:
    return load_directory(PROJECT_ROOT / "data" / "sample-district")


def factory(scale: float = 1.0) -> ReportFactory:
    return ReportFactory(sample().registry, sample().catalog, DayShape(scale=scale))


@cache
def big_day() -> DayPlan:
    return plan_day(factory(scale=10), random.Random(11))


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    one = plan_day(factory(), random.Random(3))
    again = plan_day(factory(), random.Random(3))
    other = plan_day(factory(), random.Random(4))
    assert one == again
    assert [r.body("x") for r in one.reports] == [r.body("x") for r in again.reports]
    assert [r.body("x") for r in one.reports] != [r.body("x") for r in other.reports]


def test_volumes_follow_the_seed_figures_per_unit() -> None:
    expected = expected_per_day(factory())
    # 63,000 hotline requests a year over 131 communities; the sample district has 16 communities
    assert round(HOTLINE_PER_COMMUNITY, 3) == 1.318
    assert expected["hotline"] == pytest.approx(16 * HOTLINE_PER_COMMUNITY)
    assert expected == pytest.approx({"hotline": 21.08, "grid_app": 144.0, "camera": 60.0, "department": 8.0}, 0.01)
    plan = big_day()
    originals = Counter(r.source for r in plan.reports if r.duplicate_of is None)
    for source, per_day in expected.items():
        assert abs(originals[source] - 10 * per_day) <= 1, source  # randomised rounding only


def test_source_shares_of_the_whole_day_stay_near_the_shape_with_duplicates_added() -> None:
    expected = expected_per_day(factory())
    total = sum(expected.values())
    plan = big_day()
    shares = Counter(r.source for r in plan.reports)
    for source, per_day in expected.items():
        assert shares[source] / len(plan.reports) == pytest.approx(per_day / total, abs=0.03), source


def test_every_report_lies_inside_its_micro_grid() -> None:
    registry = sample().registry
    for r in big_day().reports:
        if r.duplicate_of is None:
            unit = registry.unit(r.micro_grid)
            assert unit.level is Level.MICRO_GRID
            assert shapely.contains_xy(unit.boundary, r.lon, r.lat), r


def test_duplicates_are_the_same_matter_nearby_later_from_another_source() -> None:
    plan = big_day()
    by_seq = {r.seq: r for r in plan.reports}
    duplicates = [r for r in plan.reports if r.duplicate_of is not None]
    originals = [r for r in plan.reports if r.duplicate_of is None]
    assert len(duplicates) == pytest.approx(0.06 * len(originals), abs=2)
    for dup in duplicates:
        first = by_seq[dup.duplicate_of]  # type: ignore[index]
        assert dup.matter_code == first.matter_code and dup.send_matter_code
        assert dup.source != first.source
        assert distance_m((dup.lon, dup.lat), (first.lon, first.lat)) <= 60.5  # dispatch links within 100 m
        assert first.at_s < dup.at_s <= first.at_s + 5400


def test_the_day_has_a_night_lull_and_grid_workers_report_in_working_hours() -> None:
    hours = Counter(int(r.at_s // 3600) for r in big_day().reports)
    night = sum(hours[h] for h in range(0, 6))
    morning = sum(hours[h] for h in range(9, 12))
    assert night * 10 < morning
    app_hours = {int(r.at_s // 3600) for r in big_day().reports if r.source == "grid_app" and r.duplicate_of is None}
    assert app_hours <= set(range(6, 21))


def test_a_window_of_the_day_holds_its_share_of_the_reports() -> None:
    morning = plan_day(factory(scale=10), random.Random(5), hours=3, start_hour=9)
    assert all(0 <= r.at_s < 3 * 3600 for r in morning.reports)
    whole = big_day()
    in_window = sum(1 for r in whole.reports if r.duplicate_of is None and 9 * 3600 <= r.at_s < 12 * 3600)
    assert sum(1 for r in morning.reports if r.duplicate_of is None) == pytest.approx(in_window, rel=0.15)
    with pytest.raises(InvalidInput):
        plan_day(factory(), random.Random(1), hours=0)


def test_cameras_report_only_what_they_recognise_and_small_matters_dominate() -> None:
    plan = big_day()
    assert {r.matter_code for r in plan.reports if r.source == "camera"} <= set(FAVOURITES["camera"])
    catalog = sample().catalog
    levels = Counter(catalog.get(r.matter_code).level for r in plan.reports)
    small = levels[Level.MICRO_GRID] + levels[Level.GRID]
    assert small > len(plan.reports) / 2  # 小事不出格: most of what is reported is a small matter


def test_routing_places_and_classifies_each_report_as_the_generator_meant() -> None:
    registry, catalog = sample().registry, sample().catalog
    plan = plan_day(factory(scale=3), random.Random(8))
    text_only = [r for r in plan.reports if not r.send_matter_code]
    assert text_only, "some hotline reports carry no matter code"
    assert {r.source for r in text_only} == {"hotline"}
    for r in plan.reports:
        facts = ReportFacts(
            title=r.title,
            description=r.description,
            matter=r.matter_code if r.send_matter_code else None,
            lon=r.lon,
            lat=r.lat,
            urgency=Urgency(r.urgency),
            households=r.households,
        )
        decision = route(facts, registry, catalog, NOW)
        assert decision.matter == r.matter_code, (r.title, r.description, decision.matter)
        if r.duplicate_of is None:
            assert decision.place == r.micro_grid


def test_fates_follow_the_shape() -> None:
    plan = big_day()
    kinds = Counter(r.fate.kind for r in plan.reports)
    n = len(plan.reports)
    assert kinds["neglected"] / n == pytest.approx(0.03, abs=0.015)
    assert kinds["returned"] / n == pytest.approx(0.05, abs=0.025)
    assert kinds["verify_failed"] / n == pytest.approx(0.03, abs=0.015)
    catalog = sample().catalog
    assert all(catalog.get(r.matter_code).returnable_by for r in plan.reports if r.fate.kind == "returned")
    assert all(r.source == "hotline" for r in plan.reports if r.fate.kind == "unsatisfied")
    hotline = [r for r in plan.reports if r.source == "hotline"]
    assert all(r.reporter is not None for r in hotline)


def test_bodies_are_what_intake_takes() -> None:
    from services.intake.schemas import ReportIn

    for r in plan_day(factory(), random.Random(2)).reports:
        body = ReportIn.model_validate(r.body("run1"))
        assert body.source_ref == f"sim-run1-{r.seq:06d}"


def test_mix_parses_normalises_and_names_what_is_wrong() -> None:
    assert parse_mix("hotline=0.6,grid_app=0.3,camera=0.1") == pytest.approx(
        {"hotline": 0.6, "grid_app": 0.3, "camera": 0.1}
    )
    assert parse_mix("hotline=3, camera=1") == {"hotline": 0.75, "camera": 0.25}
    assert parse_mix("hotline=1,camera=0") == {"hotline": 1.0}
    for bad, says in (
        ("hotline", "not source=share"),
        ("fax=1", "unknown source 'fax'"),
        ("hotline=lots", "'lots' of hotline is not a number"),
        ("hotline=-1", "at least 0"),
        ("hotline=0", "at least one source"),
        ("hotline=nan", "finite"),
    ):
        with pytest.raises(InvalidInput, match=says):
            parse_mix(bad)
