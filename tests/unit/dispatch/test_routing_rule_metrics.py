"""dispatch counts the routing rules that show registry gaps or unplaced safety cases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY

from services.dispatch.reports import count_watched_rules
from shared.domain.catalog import MatterCatalog
from shared.domain.model import Level, MatterType
from shared.domain.registry import Registry
from shared.domain.routing import ReportFacts, route
from shared.registry_files.generate import DistrictSpec, build_district

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def value(rule: str) -> float:
    return REGISTRY.get_sample_value("griddispatch_routing_rule_decisions_total", {"rule": rule}) or 0.0


def test_an_unplaced_safety_case_is_counted_once_per_decision() -> None:
    d = build_district(DistrictSpec(streets=1, communities=2, grids=3, micro_grids=5, district_code="3301"))
    reg = Registry(d.units, d.departments, d.branches, d.buildings)
    catalog = MatterCatalog([MatterType("N", "噪音", "Noise", ("噪音",), Level.GRID, None)])
    before = value("units.safety_unplaced_district")
    decision = route(ReportFacts(title="楼道冒烟，有人说起火了"), reg, catalog, NOW)
    assert count_watched_rules(decision) == {"units.safety_unplaced_district"}
    assert value("units.safety_unplaced_district") == before + 1
    quiet = route(ReportFacts(title="噪音", grid_code=d.units[-1].code), reg, catalog, NOW)
    assert count_watched_rules(quiet) == set()
