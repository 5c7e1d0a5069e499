"""Plausible Chinese names for generated districts: streets, communities, roads, people, phone numbers.

All fake. Street names follow Xi'an Lianhu's pattern (北院门街道); beyond the pool, new names are made
from syllable pairs. Every function takes the caller's `random.Random`, so output depends on the seed only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import product

STREET_CORES = ("北院门", "青年路", "北关", "红庙坡", "环城西路", "西关", "土门", "桃园路", "枣园")
COMMUNITY_CORES = (
    "西关", "桃园", "丰庆", "劳动", "星火", "大兴", "红光", "枣园", "习武园", "远东",
    "汉城", "永新", "莲湖", "青年", "西华门", "光明", "团结", "友谊", "幸福", "和平",
    "建国", "朝阳", "东风", "育才", "文景", "安定", "广济", "龙首", "丰登", "桥梓口",
    "庙后", "洒金桥", "红埠", "潘家", "玉祥门", "许士庙", "自强", "香米园", "大麦市", "药王洞",
)  # fmt: skip
COMMUNITY_SUFFIXES = ("", "东", "西", "南", "北", "新村", "中", "一坊", "二坊", "三坊", "花园", "家园", "苑", "里")
SYLLABLES = ("丰", "安", "华", "兴", "庆", "宁", "泰", "康", "乐", "和", "昌", "盛", "德", "福", "顺", "祥", "瑞", "平")
ROAD_SUFFIXES = ("路", "街", "巷", "大街", "北路", "南路", "东路", "西路")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文斌志鹏宇浩婷雪梅琳晨欣怡子涵晓东海波丹"
PHONE_PREFIXES = ("133", "135", "136", "138", "139", "150", "152", "158", "177", "180", "186", "189", "199")


def unique_names(cores: tuple[str, ...], suffixes: tuple[str, ...], rng: random.Random) -> Iterator[str]:
    """Endless distinct names: cores first (shuffled), then core+suffix, then syllable pairs, then numbered."""
    first = list(cores)
    rng.shuffle(first)
    yield from first
    combos = [c + s for s, c in product(suffixes, cores) if s]
    rng.shuffle(combos)
    yield from combos
    pairs = [a + b for a, b in product(SYLLABLES, SYLLABLES) if a != b]
    rng.shuffle(pairs)
    yield from pairs
    n = 1
    while True:
        yield f"{rng.choice(SYLLABLES)}{n}"
        n += 1


def street_names(count: int, rng: random.Random) -> list[str]:
    """Street names ending in 街道, e.g. 北院门街道."""
    names = unique_names(STREET_CORES, ("东", "西", "南", "北"), rng)
    return [f"{next(names)}街道" for _ in range(count)]


def community_cores(count: int, rng: random.Random) -> list[str]:
    """Distinct cores for community names (西关 → 西关社区, road 西关路)."""
    names = unique_names(COMMUNITY_CORES, COMMUNITY_SUFFIXES, rng)
    return [next(names) for _ in range(count)]


def road_for(core: str, rng: random.Random, taken: set[str]) -> str:
    """A road named after a community core (西关 → 西关东路), not in `taken`; adds it to `taken`."""
    suffixes = list(ROAD_SUFFIXES)
    rng.shuffle(suffixes)
    candidates = [core + s for s in suffixes] + [f"{core}{n}路" for n in range(1, len(taken) + 2)]
    road = next(c for c in candidates if c not in taken)
    taken.add(road)
    return road


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    return rng.choice(SURNAMES) + given


def masked_phone(rng: random.Random) -> str:
    """A mobile number with the middle digits masked, as work rosters publish them."""
    return f"{rng.choice(PHONE_PREFIXES)}****{rng.randrange(10_000):04d}"
