"""The matter catalog: lookup, order, and keyword classification of Chinese text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import CatalogError, Classification, MatterCatalog, UnknownMatterError
from shared.domain.model import ClockKind, Level, MatterType
from shared.errors import NotFound
from shared.registry_files import load_directory

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"
CATALOG = load_directory(SAMPLE).catalog


def matter(code: str, *keywords: str, level: Level = Level.GRID) -> MatterType:
    return MatterType(code, code, code, tuple(keywords), level, None)


# --- lookup ----------------------------------------------------------------------------------------


def test_sample_catalog_covers_what_the_seeds_name() -> None:
    assert len(CATALOG) >= 50
    named = {
        "sanitation": "环境卫生",
        "fire_hazards": "消防安全隐患",
        "neighbour_dispute": "邻里纠纷",
        "social_security": "社会保障",
        "house_repair": "房屋维修",
        "road_damage": "道路破损",
        "property_management": "物业管理",
        "non_motor_parking": "非机动车乱停放",
        "cross_door_business": "跨门经营",
        "street_vending": "占道经营",
        "residential_noise": "生活噪音扰民",
        "illegal_construction": "违章搭建",
        "manhole_covers": "井盖缺失",
        "gas_leak": "燃气泄漏",
        "elderly_alone": "独居老人关爱",
    }
    for code, name in named.items():
        assert CATALOG.get(code).name == name


def test_get_contains_iteration_and_order() -> None:
    c = MatterCatalog([matter("b", "乙"), matter("a", "甲")])
    assert [m.code for m in c] == ["b", "a"] == list(c.codes)  # file order, not sorted
    assert len(c) == 2 and "a" in c and "z" not in c
    assert c.get("a").keywords == ("甲",)
    with pytest.raises(UnknownMatterError) as error:
        c.get("z")
    assert isinstance(error.value, KeyError) and isinstance(error.value, NotFound)


def test_duplicates_and_empty_keywords_are_refused() -> None:
    with pytest.raises(CatalogError, match="duplicate"):
        MatterCatalog([matter("a", "甲"), matter("a", "乙")])
    with pytest.raises(CatalogError, match="no keywords"):
        MatterCatalog([matter("a", " ")])


def test_version_is_a_content_hash() -> None:
    a = MatterCatalog([matter("a", "甲"), matter("b", "乙")])
    assert a.version == MatterCatalog([matter("a", "甲"), matter("b", "乙")]).version
    assert a.version != MatterCatalog([matter("a", "甲"), matter("b", "丙")]).version
    assert len(a.version) == 16


# --- classification over the sample ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们楼下垃圾堆放好几天了没人清运，环境卫生太差", "sanitation"),
        ("商场消防安全隐患严重，灭火器都过期了", "fire_hazards"),
        ("楼上楼下邻里纠纷，两家天天吵", "neighbour_dispute"),
        ("想咨询社保卡和养老金的问题", "social_security"),
        ("老旧小区房屋维修，屋顶漏水", "house_repair"),
        ("路口道路破损，路面坑洼很危险", "road_damage"),
        ("物业不作为，物业费照收", "property_management"),
        ("小区门口非机动车乱停放", "non_motor_parking"),
        ("超市跨门经营，货物摆到人行道", "cross_door_business"),
        ("夜市占道经营，流动摊贩很多", "street_vending"),
        ("隔壁装修噪音扰民", "residential_noise"),
        ("楼顶违章搭建彩钢棚", "illegal_construction"),
        ("人行道上井盖缺失，晚上看不见", "manhole_covers"),
        ("单元楼里一股燃气泄漏的味道", "gas_leak"),
        ("3号楼独居老人好几天没出门了", "elderly_alone"),
        ("电动车在楼道充电，飞线充电", "ebike_charging"),
        ("电梯困人了，快来", "elevator_fault"),
        ("饭店油烟扰民", "cooking_fumes"),
    ],
)
def test_sample_texts_classify_to_the_expected_matter(text: str, expected: str) -> None:
    best = CATALOG.classify(text, limit=1)
    assert best and best[0].matter.code == expected, CATALOG.classify(text, limit=3)


@pytest.mark.parametrize("code", CATALOG.codes)
def test_every_matter_type_is_found_by_its_own_name(code: str) -> None:
    assert CATALOG.classify(CATALOG.get(code).name, limit=1)[0].matter.code == code


def test_classification_unpacks_as_a_triple() -> None:
    matter_type, score, keywords = CATALOG.classify("井盖缺失")[0]
    assert matter_type.code == "manhole_covers"
    assert keywords == ("井盖缺失",)  # "井盖" lies inside "井盖缺失" and is not counted again
    assert score == 4.0


def test_no_keyword_no_result() -> None:
    assert CATALOG.classify("今天天气不错") == []
    assert CATALOG.classify("") == []
    assert CATALOG.classify("   ") == []


# --- scoring rules ---------------------------------------------------------------------------------


def test_more_hits_rank_higher() -> None:
    c = MatterCatalog([matter("one", "垃圾"), matter("two", "垃圾", "异味")])
    assert [r.matter.code for r in c.classify("垃圾有异味")] == ["two", "one"]


def test_longer_hits_rank_higher() -> None:
    c = MatterCatalog([matter("short", "燃气"), matter("long", "燃气泄漏")])
    ranked = c.classify("燃气泄漏")
    assert [(r.matter.code, r.score) for r in ranked] == [("long", 4.0), ("short", 2.0)]


def test_nested_keywords_count_once() -> None:
    c = MatterCatalog([matter("gas", "燃气", "燃气泄漏", "泄漏")])
    [result] = c.classify("燃气泄漏了")
    assert result.keywords == ("燃气泄漏",) and result.score == 4.0


def test_ties_go_to_more_keywords_then_the_smaller_code() -> None:
    c = MatterCatalog([matter("b_two", "垃", "圾"), matter("c_long", "垃圾"), matter("a_long", "垃圾")])
    assert [r.matter.code for r in c.classify("垃圾")] == ["b_two", "a_long", "c_long"]


def test_text_is_normalised_before_matching() -> None:
    c = MatterCatalog([matter("ktv", "KTV"), matter("gas", "燃气泄漏")])
    assert c.classify("楼下ＫＴＶ太吵")[0].matter.code == "ktv"  # full-width, other case
    assert c.classify("燃 气\n泄 漏")[0].matter.code == "gas"  # spaces and line breaks


def test_limit_and_min_score() -> None:
    c = MatterCatalog([matter("a", "垃圾"), matter("b", "垃圾堆放"), matter("c", "堆放")])
    assert len(c.classify("垃圾堆放")) == 3
    assert [r.matter.code for r in c.classify("垃圾堆放", limit=1)] == ["b"]
    assert [r.matter.code for r in c.classify("垃圾堆放", min_score=3)] == ["b"]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="垃圾燃气泄漏井盖缺失噪音扰民物业邻里纠纷 ，。abc", max_size=40))
def test_classification_is_ordered_and_explained(text: str) -> None:
    results = CATALOG.classify(text)
    keys = [(-r.score, -len(r.keywords), r.matter.code) for r in results]
    assert keys == sorted(keys)
    for r in results:
        assert isinstance(r, Classification) and r.keywords
        assert set(r.keywords) <= set(r.matter.keywords)
        assert r.score == sum(len(k) for k in r.keywords)
        assert all(k in text.replace(" ", "") for k in r.keywords)


# --- the sample's levels and deadlines are realistic -----------------------------------------------


def test_sample_uses_every_level_and_both_clocks() -> None:
    assert {m.level for m in CATALOG} == set(Level)
    assert {m.clock for m in CATALOG} == set(ClockKind)


def test_sample_safety_matters_are_fast_and_never_returned() -> None:
    safety = [m for m in CATALOG if m.safety]
    assert len(safety) >= 8
    for m in safety:
        assert m.accept_within_hours <= 1 and m.returnable_by == ()
        assert m.clock is ClockKind.CALENDAR_HOURS


def test_sample_neighbourhood_matters_stay_in_the_grid() -> None:
    small = [CATALOG.get(c) for c in ("sanitation", "non_motor_parking", "corridor_clutter", "elderly_alone")]
    assert all(m.level in (Level.MICRO_GRID, Level.GRID) and m.lead_department is None for m in small)
    disputes = [CATALOG.get(c) for c in ("neighbour_dispute", "family_dispute")]
    assert all(m.level is Level.COMMUNITY and "justice" in m.assisting_departments for m in disputes)
    enforcement = [CATALOG.get(c) for c in ("street_vending", "cross_door_business", "illegal_construction")]
    assert all(m.level is Level.STREET and m.lead_department == "city_management" for m in enforcement)
