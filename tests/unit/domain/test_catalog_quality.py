"""Catalog quality over the sample district: how citizens and grid workers really write, and safety levels.

The phrasings are the kind a hotline operator or a grid worker types, not the catalog's own names: each must
reach its matter type on keywords alone (score at least the routing minimum, so it does not go to triage).
Near-misses hold a keyword of another matter type and must still reach the right one. Safety matters are
raised one rung by routing, so the catalog level is chosen for where a plain report should END.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.domain.model import Level
from shared.domain.routing import DEFAULT_POLICY, Decision, LocateMethod, ReportFacts, Urgency, route
from shared.registry_files.load import load_directory

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"
LOADED = load_directory(SAMPLE)
REG, CAT = LOADED.registry, LOADED.catalog
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))
MIN_SCORE = DEFAULT_POLICY.min_keyword_score


def best_code(text: str) -> str | None:
    ranked = CAT.classify(text, limit=1)
    return ranked[0].matter.code if ranked and ranked[0].score >= MIN_SCORE else None


# --- realistic phrasings ----------------------------------------------------------------------------

PHRASINGS: list[tuple[str, str]] = [
    # sanitation
    ("小区门口垃圾没人清运，臭气熏天", "sanitation"),
    ("楼下垃圾堆成山好几天没人收", "sanitation"),
    ("路边有人乱倒建筑垃圾", "sanitation"),
    # corridor_clutter
    ("楼道里堆满杂物", "corridor_clutter"),
    ("楼道堆物，邻居把旧家具放在楼梯口", "corridor_clutter"),
    ("3单元楼梯间堆了很多纸箱，过不去人", "corridor_clutter"),
    # ebike
    ("电动车在楼道里充电", "ebike_charging"),
    ("有人从窗户拉电线给电瓶车充电", "ebike_charging"),
    ("电瓶车推进楼里充电，很危险", "ebike_charging"),
    ("邻居把电动车推进电梯带回家", "ebike_charging"),
    # non_motor
    ("共享单车把小区门口堵了", "non_motor_parking"),
    ("电动车乱停乱放挡住人行道", "non_motor_parking"),
    # waste sorting
    ("垃圾桶满了溢出来也没人管", "waste_sorting"),
    ("小区垃圾分类不到位，干湿垃圾混在一起", "waste_sorting"),
    # flyposting
    ("单元门上贴满了小广告", "flyposting"),
    ("墙上被人乱涂乱画", "flyposting"),
    # stairwell lighting
    ("楼道灯坏了，晚上黑漆漆的", "stairwell_lighting"),
    ("声控灯不亮好久了", "stairwell_lighting"),
    # resident changes
    ("我家楼下新搬来一户租户需要登记", "resident_changes"),
    ("出租屋里住了很多外地人，没登记", "resident_changes"),
    # dog
    ("有人遛狗不拴绳，吓到小孩", "dog_nuisance"),
    ("小区里狗屎到处都是", "dog_nuisance"),
    ("邻居家的狗整夜叫", "dog_nuisance"),
    # vegetable plots
    ("居民在绿化带里种菜", "vegetable_plots"),
    ("小区空地被人开荒种菜", "vegetable_plots"),
    # elderly
    ("老人独居无人照看", "elderly_alone"),
    ("楼上一位孤寡老人好几天没见到了", "elderly_alone"),
    ("80多岁的老人一个人住，行动不便", "elderly_alone"),
    # hardship
    ("家里生活困难，希望社区帮扶", "hardship_help"),
    # minimum living
    ("想申请低保，不知道怎么办", "minimum_living"),
    ("家里老人想办临时救助", "minimum_living"),
    # children
    ("楼下有个留守儿童，父母都在外地打工", "children_in_difficulty"),
    # disability
    ("残疾人证怎么办理", "disability_support"),
    ("盲道被车占了，盲人没法走", "disability_support"),
    # veterans
    ("退伍军人优待证怎么领", "veterans_services"),
    # social security
    ("社保断缴了怎么补", "social_security"),
    ("退休后养老金一直没发", "social_security"),
    # employment
    ("失业了想找个工作", "employment"),
    # neighbour
    ("邻居吵架，天天闹", "neighbour_dispute"),
    ("楼上漏水到楼下，两家谈不拢", "neighbour_dispute"),
    ("对门邻居把鞋柜放在公共走廊，协商不成闹矛盾", "neighbour_dispute"),
    # family
    ("丈夫喝酒后打老婆", "family_dispute"),
    ("兄弟几个不愿赡养老人，闹得很僵", "family_dispute"),
    # property
    ("物业不管事，小区大门坏了也不修", "property_management"),
    ("物业费涨了，业主都不同意", "property_management"),
    # house_repair
    ("房顶漏水，下雨天屋里滴水", "house_repair"),
    ("老房子外墙渗水，墙皮发霉", "house_repair"),
    ("顶楼下雨就漏", "house_repair"),
    # sewer
    ("下水道堵了，污水冒出来", "sewer_blockage"),
    ("厨房下水反味，楼下污水井满溢", "sewer_blockage"),
    ("化粪池满了外溢，臭得不行", "sewer_blockage"),
    # pest
    ("小区老鼠很多，晚上到处跑", "pest_control"),
    ("垃圾站蚊蝇滋生", "pest_control"),
    # residential noise
    ("楼上半夜蹦迪太吵了", "residential_noise"),
    ("广场舞音乐声太大，晚上十点还在跳", "residential_noise"),
    ("隔壁装修电钻声从早到晚", "residential_noise"),
    # fire lane
    ("私家车堵住消防通道", "fire_lane_blocked"),
    ("小区消防车道被占用", "fire_lane_blocked"),
    # street vending
    ("路口有人占道摆摊卖菜", "street_vending"),
    ("流动商贩推车在人行道上卖水果", "street_vending"),
    # cross door
    ("饭店把桌子摆到门外人行道上", "cross_door_business"),
    ("水果店货物摆在店门口占道", "cross_door_business"),
    # illegal construction
    ("楼顶有人私搭乱建", "illegal_construction"),
    ("一楼住户私自扩建院子", "illegal_construction"),
    ("有人在楼顶搭建阳光房", "illegal_construction"),
    # signboards
    ("商铺招牌松动快掉下来了", "signboards"),
    # street lights
    ("路灯不亮", "street_lights"),
    ("小区门口那段路的路灯坏了一个月", "street_lights"),
    # public toilets
    ("公共厕所太脏没人打扫", "public_toilets"),
    # construction noise
    ("夜间施工噪音太大睡不着", "construction_noise"),
    ("工地半夜还在施工", "construction_noise"),
    ("附近工地晚上十一点还在打桩", "construction_noise"),
    # business noise
    ("楼下酒吧音乐声太大", "business_noise"),
    ("商店门口大喇叭循环播放", "business_noise"),
    # cooking fumes
    ("楼下烧烤店油烟熏得窗都不敢开", "cooking_fumes"),
    ("饭店排烟管道对着居民窗户", "cooking_fumes"),
    # dust
    ("工地扬尘太大，车辆进出不冲洗", "dust_pollution"),
    # muck trucks
    ("渣土车沿路撒土", "muck_trucks"),
    # food safety
    ("在餐馆吃饭后拉肚子，怀疑食物变质", "food_safety"),
    ("超市卖过期食品", "food_safety"),
    # unlicensed
    ("小区里有个黑作坊，没有执照", "unlicensed_business"),
    # consumer
    ("健身房关门跑路，预付卡的钱退不了", "consumer_dispute"),
    # elevator
    ("电梯坏了好几天没人修", "elevator_fault"),
    ("有人被困在电梯里了", "elevator_fault"),
    # wage
    ("欠薪", "wage_arrears"),
    ("老板拖欠农民工工资半年", "wage_arrears"),
    ("公司三个月没发工资", "wage_arrears"),
    # public order
    ("小区里有人偷电动车电瓶", "public_order"),
    ("晚上有可疑人员在楼下转悠", "public_order"),
    # vice
    ("楼里有人聚众赌博", "vice_leads"),
    # fraud
    ("接到冒充公检法的诈骗电话", "telecom_fraud"),
    # motor parking
    ("有车乱停挡住了小区出口", "motor_parking"),
    ("人行道上违停车辆很多", "motor_parking"),
    # abandoned
    ("一辆车停在小区两年没人动，落满灰", "abandoned_vehicles"),
    # road damage
    ("路面有个大坑，电动车摔了", "road_damage"),
    ("人行道砖松动翘起", "road_damage"),
    # manhole
    ("井盖丢了", "manhole_covers"),
    ("路中间的井盖被偷了", "manhole_covers"),
    ("下水井盖破了个洞", "manhole_covers"),
    # water main
    ("自来水管爆了，路面冒水", "water_main_leak"),
    # water outage
    ("家里停水一天了", "water_outage"),
    ("水龙头放出来的水是黄的", "water_outage"),
    # power
    ("整栋楼停电了", "power_outage"),
    # heating
    ("暖气不热，家里才十几度", "heating"),
    # gas leak
    ("燃气味道很大", "gas_leak"),
    ("楼道里有一股煤气味", "gas_leak"),
    ("家里天然气管道漏气", "gas_leak"),
    # gas service
    ("燃气表不走字", "gas_service"),
    ("燃气费怎么缴", "gas_service"),
    # fire hazards
    ("市场里灭火器都过期了", "fire_hazards"),
    ("仓库里堆满易燃物，没有消防设施", "fire_hazards"),
    # workplace safety
    ("饭店后厨液化气罐放在门口", "workplace_safety"),
    ("小作坊违规电焊，火星四溅", "workplace_safety"),
    # dangerous buildings
    ("房屋墙体开裂，担心倒塌", "dangerous_buildings"),
    ("外墙瓷砖脱落砸到车了", "dangerous_buildings"),
    # fallen trees
    ("大风把树刮倒了，压住了路", "fallen_trees"),
    ("路边树枝断了悬在半空", "fallen_trees"),
    # tree pruning
    ("树枝挡住我家窗户，屋里没光", "tree_pruning"),
    ("小区树太高了需要修剪", "tree_pruning"),
    # green damage
    ("绿化带被车压坏了", "green_damage"),
    # waterlogging
    ("下大雨路口积水很深", "waterlogging"),
    ("地下车库进水了", "waterlogging"),
    # school
    ("学校门口放学时车辆乱停很危险", "school_surroundings"),
    # tutoring
    ("小区里有人违规开补习班", "off_campus_tutoring"),
    # tenancy
    ("房东不退押金", "tenancy_dispute"),
    # illegal land use
    ("有人占用耕地盖房子", "illegal_land_use"),
    # geological
    ("路面突然塌陷出一个大坑", "geological_hazards"),
    # sewage discharge
    ("工厂往河里偷排污水", "sewage_discharge"),
    # industrial
    ("化工厂烟囱冒黑烟，气味刺鼻", "industrial_pollution"),
    # hazardous
    ("仓库里存放大量危化品", "hazardous_chemicals"),
    # traffic signals
    ("路口红绿灯坏了", "traffic_signals"),
    # bus
    ("公交车不按时发车", "bus_service"),
    # medical
    ("医院误诊，想投诉", "medical_dispute"),
    # collective
    ("几十个业主在售楼处聚集维权", "collective_dispute"),
    # sudden
    ("小区楼里起火了，有浓烟", "sudden_incident"),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS)
def test_realistic_phrasing_classifies_to_its_matter(text: str, expected: str) -> None:
    assert best_code(text) == expected, [(c.matter.code, c.score, c.keywords) for c in CAT.classify(text, limit=3)]


def test_phrasings_cover_the_common_matter_types() -> None:
    assert len(PHRASINGS) >= 60
    assert len({text for text, _ in PHRASINGS}) == len(PHRASINGS)
    per_matter = {code: sum(1 for _, c in PHRASINGS if c == code) for code in CAT.codes}
    assert all(code in CAT for _, code in PHRASINGS)
    assert sum(1 for n in per_matter.values() if n >= 2) >= 30
    assert all(n >= 1 for n in per_matter.values()), [c for c, n in per_matter.items() if n == 0]


# --- near-misses: a keyword of another matter type is in the text ------------------------------------

NEAR_MISSES: list[tuple[str, str, str]] = [  # text, expected, the matter type it must not go to
    ("邻居把电动车推进电梯带回家充电", "ebike_charging", "elevator_fault"),
    ("电动车乱停乱放堵住单元门", "non_motor_parking", "motor_parking"),
    ("楼道里电动车充电，飞线从窗户拉下来", "ebike_charging", "corridor_clutter"),
    ("消防通道堆满杂物", "fire_lane_blocked", "corridor_clutter"),
    ("私家车占用消防通道", "fire_lane_blocked", "motor_parking"),
    ("私家车乱停堵住小区门口", "motor_parking", "non_motor_parking"),
    ("房顶漏水", "house_repair", "water_main_leak"),
    ("卫生间漏水到楼下，邻居不管", "neighbour_dispute", "water_main_leak"),
    ("马路上自来水管漏水", "water_main_leak", "house_repair"),
    ("垃圾桶满溢没人清理", "waste_sorting", "sanitation"),
    ("装修垃圾堆在楼下没人清运", "sanitation", "residential_noise"),
    ("电动车被偷了", "public_order", "non_motor_parking"),
    ("路面有个大坑", "road_damage", "geological_hazards"),
    ("小区门口有人摆摊卖菜", "street_vending", "cross_door_business"),
    ("火锅店门口占道摆摊", "street_vending", "cross_door_business"),
    ("电梯里贴满了小广告", "flyposting", "elevator_fault"),
    ("楼道灯不亮", "stairwell_lighting", "street_lights"),
    ("楼下KTV噪音扰民", "business_noise", "residential_noise"),
    ("饭店油烟扰民", "cooking_fumes", "residential_noise"),
    ("工地扬尘太大", "dust_pollution", "construction_noise"),
    ("工地拖欠农民工工资", "wage_arrears", "construction_noise"),
    ("渣土车从工地出来一路遗撒", "muck_trucks", "construction_noise"),
    ("道路施工后路面坑洼不平", "road_damage", "construction_noise"),
    ("工厂排烟气味刺鼻", "industrial_pollution", "cooking_fumes"),
    ("家里厕所堵了", "sewer_blockage", "public_toilets"),
    ("公共厕所太脏", "public_toilets", "sewer_blockage"),
    ("出租屋里有人吸毒", "vice_leads", "resident_changes"),
    ("租户押金不退", "tenancy_dispute", "resident_changes"),
    ("广告牌被风刮倒了", "signboards", "fallen_trees"),
    ("大风把树刮倒了", "fallen_trees", "signboards"),
    ("邻居吵架", "neighbour_dispute", "family_dispute"),
    ("夫妻吵架闹离婚", "family_dispute", "neighbour_dispute"),
    ("楼上楼下邻居因为噪音吵架", "neighbour_dispute", "residential_noise"),
    ("燃气味道很大", "gas_leak", "gas_service"),
    ("燃气表不走字", "gas_service", "gas_leak"),
    ("小区里着火了，有人受伤", "sudden_incident", "fire_hazards"),
]


@pytest.mark.parametrize(("text", "expected", "not_this"), NEAR_MISSES)
def test_near_miss_goes_to_the_right_matter(text: str, expected: str, not_this: str) -> None:
    ranked = [c.matter.code for c in CAT.classify(text)]
    assert best_code(text) == expected, CAT.classify(text, limit=3)
    assert not_this in CAT and not_this != expected
    assert not_this not in ranked or ranked.index(not_this) > 0


@pytest.mark.parametrize(
    ("text", "expected"), [("电动车在楼道里充电", "ebike_charging"), ("楼道里堆满杂物", "corridor_clutter")]
)
def test_reported_gaps_are_routed_not_triaged(text: str, expected: str) -> None:
    micro_grid = REG.units_at(Level.MICRO_GRID)[0]
    lon, lat = micro_grid.boundary.representative_point().coords[0]
    d = route(ReportFacts(title=text, lon=lon, lat=lat), REG, CAT, NOW)
    assert d.matter == expected and not d.triage
    assert [s.rule for s in d.trace if s.rule.startswith("classify.")] == ["classify.keywords"]


# --- safety matters end at a realistic level --------------------------------------------------------

SAFETY = [m.code for m in CAT if m.safety]


def plain_safety_decisions() -> dict[str, Decision]:
    micro_grid = sorted(REG.units_at(Level.MICRO_GRID), key=lambda u: u.code)[0]
    lon, lat = micro_grid.boundary.representative_point().coords[0]
    out: dict[str, Decision] = {}
    for code in SAFETY:
        report = ReportFacts(matter=code, lon=lon, lat=lat, urgency=Urgency.NORMAL, households=0, duplicates=0)
        out[code] = route(report, REG, CAT, NOW)
    return out


DECISIONS = plain_safety_decisions()


@pytest.mark.parametrize("code", SAFETY)
def test_plain_safety_report_is_raised_once_with_one_lead(code: str) -> None:
    d = DECISIONS[code]
    base = CAT.get(code).level
    assert d.located_by is LocateMethod.POINT and d.matter == code and not d.triage and not d.arbitration
    assert d.level.rank <= Level.DISTRICT.rank
    assert d.level.rank == min(base.rank + 1, Level.DISTRICT.rank)  # only the safety raise applies
    assert d.assignees.count(d.lead) == 1 and len(set(d.assignees)) == len(d.assignees)


def test_not_every_safety_matter_ends_at_the_district() -> None:
    final = {code: d.level for code, d in DECISIONS.items()}
    assert len(final) >= 8
    assert any(level is not Level.DISTRICT for level in final.values()), final
    assert any(level is Level.DISTRICT for level in final.values()), final  # the big ones still do


@pytest.mark.parametrize(
    ("code", "final"),
    [
        ("ebike_charging", Level.COMMUNITY),  # a charger in a stairwell: grid worker, community follows up
        ("gas_leak", Level.STREET),  # gas smell in a flat: the street, with the gas company and fire
        ("elevator_fault", Level.STREET),
        ("fire_hazards", Level.DISTRICT),  # a large fire hazard in a market
        ("hazardous_chemicals", Level.DISTRICT),
    ],
)
def test_safety_matter_final_level(code: str, final: Level) -> None:
    assert DECISIONS[code].level is final
