"""Reports in traditional characters are routed as their simplified form would be, on a generated district."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.domain.catalog import MatterCatalog, normalise_text
from shared.domain.chinese import to_simplified
from shared.domain.model import Level, MatterType
from shared.domain.routing import ReportFacts, route
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import LoadedRegistry, load_directory

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))

# traditional text -> the same report in simplified characters
PAIRS = [
    ("路燈不亮，晚上看不見路", "路灯不亮，晚上看不见路"),
    ("井蓋丟失，很危險", "井盖丢失，很危险"),
    ("樓下垃圾堆積好幾天沒人清運", "楼下垃圾堆积好几天没人清运"),
    ("樓上裝修噪音擾民", "楼上装修噪音扰民"),
    ("小區裡燃氣洩漏，聞到煤氣味", "小区里燃气泄漏，闻到煤气味"),
]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> LoadedRegistry:
    spec = DistrictSpec(
        streets=3, communities=7, grids=16, micro_grids=45, seed=13, centre=(113.93, 22.53),
        district_code="440305", district_name="南山区",
    )  # fmt: skip
    return load_directory(generate(tmp_path_factory.mktemp("nanshan"), spec))


@pytest.mark.parametrize(("traditional", "simplified"), PAIRS)
def test_a_traditional_report_is_routed_as_its_simplified_form(
    district: LoadedRegistry, traditional: str, simplified: str
) -> None:
    building = sorted(district.registry.buildings.values(), key=lambda b: b.code)[-1]
    facts = {"address": building.address, "households": 1}
    trad = route(ReportFacts(title=traditional, **facts), district.registry, district.catalog, NOW)
    simp = route(ReportFacts(title=simplified, **facts), district.registry, district.catalog, NOW)
    assert simp.matter is not None  # the simplified report is classified at all
    assert trad.matter == simp.matter
    assert (trad.lead, trad.assisting, trad.level, trad.accept_by, trad.resolve_by) == (
        simp.lead,
        simp.assisting,
        simp.level,
        simp.accept_by,
        simp.resolve_by,
    )
    assert [s.rule for s in trad.trace] == [s.rule for s in simp.trace]


def test_the_trace_shows_the_keywords_as_the_catalog_writes_them(district: LoadedRegistry) -> None:
    d = route(ReportFacts(title="路燈不亮"), district.registry, district.catalog, NOW)
    step = next(s for s in d.trace if s.rule == "classify.keywords")
    assert "路灯不亮" in step.detail["keywords"]


def test_safety_words_in_traditional_characters_raise_the_level(district: LoadedRegistry) -> None:
    mg = district.registry.units_at(Level.MICRO_GRID)[0]
    plain = route(ReportFacts(title="院子裡有人吵架", grid_code=mg.code), district.registry, district.catalog, NOW)
    fire = route(ReportFacts(title="院子裡有人吵架，樓道冒煙起火", grid_code=mg.code), district.registry,
                 district.catalog, NOW)  # fmt: skip
    assert "level.raise_safety_keywords" in [s.rule for s in fire.trace]
    assert "level.raise_safety_keywords" not in [s.rule for s in plain.trace]


def test_an_address_in_traditional_characters_finds_the_building(district: LoadedRegistry) -> None:
    building = sorted(district.registry.buildings.values(), key=lambda b: b.code)[0]
    traditional = building.address.replace("号", "號").replace("楼", "樓")
    assert traditional != building.address
    assert district.registry.building_by_address(traditional) == building


def test_a_catalog_written_in_traditional_characters_matches_simplified_text() -> None:
    catalog = MatterCatalog([MatterType("lamp", "路燈", "Street lamp", ("路燈不亮",), Level.GRID, None)])
    assert [c.matter.code for c in catalog.classify("路灯不亮了")] == ["lamp"]


def test_only_the_matching_key_is_converted() -> None:
    facts = ReportFacts(title="路燈不亮")
    assert facts.text == "路燈不亮"  # what is stored and shown stays as written
    assert normalise_text("路燈 不亮") == "路灯不亮"
    assert to_simplified("ok 123") == "ok 123"


def test_the_sample_catalog_file_is_unchanged_by_conversion() -> None:
    """Simplified keywords are their own simplified form, so existing catalogs match as before."""
    path = Path(__file__).parents[3] / "shared" / "registry_files" / "sample_catalog.yaml"
    words = [w.strip() for line in path.read_text(encoding="utf-8").splitlines() if "keywords:" in line
             for w in line.split("[", 1)[1].rstrip("]").split(",")]  # fmt: skip
    changed = [w for w in words if to_simplified(w) != w]
    assert changed == []
