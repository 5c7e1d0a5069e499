"""One simulated report: what a hotline, a grid worker's app, a camera or a department system would send.

Pure: a `random.Random`, the registry and the catalog in, a `PlannedReport` out; the same seed gives the same
report. `body()` is the intake API's JSON (docs/intake-api.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from griddispatch.simulation import places
from griddispatch.simulation.shape import FAVOURITES, FAVOURITES_ONLY, LEVEL_WEIGHT, SOURCES, DayShape
from shared.domain.catalog import MatterCatalog
from shared.domain.model import Level, MatterType, Unit
from shared.domain.registry import Registry

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
TAILS = {
    "hotline": ("，请尽快处理", "，已经好几天了", "，希望有人来看看", "，影响居民生活"),
    "grid_app": ("，网格员巡查发现", "，入户走访时发现", "，已拍照上报"),
    "camera": ("，视频智能分析自动识别", "，监控抓拍自动派单"),
    "department": ("，部门巡查发现，移交属地", "，执法检查中发现"),
}
CHANNEL = {"hotline": "市民来电反映", "grid_app": "", "camera": "", "department": ""}


@dataclass(frozen=True, slots=True)
class Fate:
    """What the day actor will do with the case, and after how long (simulated seconds after the report)."""

    kind: str  # normal, returned, neglected, verify_failed, unsatisfied
    accept_after_s: float
    resolve_after_s: float  # after acceptance
    verify_after_s: float  # after resolution
    rate_after_s: float  # after verification


@dataclass(frozen=True, slots=True)
class PlannedReport:
    seq: int
    at_s: float  # simulated seconds from the start of the day
    source: str
    matter_code: str
    send_matter_code: bool  # False: the text alone must classify it
    title: str
    description: str
    lon: float
    lat: float
    micro_grid: str
    urgency: str
    households: int
    reporter: tuple[str, str] | None  # name, phone: hotline callers
    fate: Fate
    duplicate_of: int | None = None

    def body(self, run: str) -> dict[str, Any]:
        """The POST /v1/reports body; `run` makes the source reference unique across replays."""
        out: dict[str, Any] = {
            "source": self.source,
            "source_ref": f"sim-{run}-{self.seq:06d}",
            "title": self.title,
            "description": self.description,
            "location": {"lon": self.lon, "lat": self.lat},
            "urgency": self.urgency,
            "households_affected": self.households,
        }
        if self.send_matter_code:
            out["matter_code"] = self.matter_code
        if self.reporter is not None:
            out["reporter"] = {"name": self.reporter[0], "phone": self.reporter[1]}
        return out


class ReportFactory:
    """Makes reports for one registry and catalog."""

    def __init__(self, registry: Registry, catalog: MatterCatalog, shape: DayShape | None = None) -> None:
        self.registry = registry
        self.catalog = catalog
        self.shape = shape or DayShape()
        self.micro_grids = tuple(u for u in registry.units_at(Level.MICRO_GRID) if u.boundary is not None)
        if not self.micro_grids:
            raise ValueError("the registry has no micro-grid with a boundary to place reports in")
        self._matters = {s: self._weights(s) for s in SOURCES}

    def _weights(self, source: str) -> tuple[tuple[MatterType, ...], tuple[float, ...]]:
        favourites = FAVOURITES.get(source, {})
        only = source in FAVOURITES_ONLY and any(code in self.catalog for code in favourites)
        matters, weights = [], []
        for m in self.catalog:
            w = float(favourites.get(m.code, 0.0)) + (0.0 if only else LEVEL_WEIGHT[m.level])
            if w > 0:
                matters.append(m)
                weights.append(w)
        return tuple(matters), tuple(weights)

    def _classifies(self, matter: MatterType, text: str) -> bool:
        best = self.catalog.classify(text, limit=1, min_score=2)
        return bool(best) and best[0].matter.code == matter.code

    def matter(self, source: str, rng: random.Random) -> MatterType:
        matters, weights = self._matters.get(source) or self._matters["hotline"]
        return rng.choices(matters, weights)[0]

    def report(self, seq: int, at_s: float, source: str, rng: random.Random) -> PlannedReport:
        matter = self.matter(source, rng)
        unit = rng.choice(self.micro_grids)
        lon, lat = places.point_in(unit, rng)
        return self._build(seq, at_s, source, matter, unit, lon, lat, rng)

    def duplicate(
        self, original: PlannedReport, seq: int, at_s: float, source: str, rng: random.Random
    ) -> PlannedReport:
        """A second report of the same problem, a few tens of metres away, from another source."""
        lon, lat = places.offset(original.lon, original.lat, rng.uniform(5, self.shape.duplicate_radius_m), rng)
        unit = self.registry.locate_point(lon, lat) or self.registry.unit(original.micro_grid)
        report = self._build(seq, at_s, source, self.catalog.get(original.matter_code), unit, lon, lat, rng)
        return replace(report, send_matter_code=True, duplicate_of=original.seq)

    def _build(
        self, seq: int, at_s: float, source: str, matter: MatterType, unit: Unit, lon: float, lat: float,
        rng: random.Random,
    ) -> PlannedReport:  # fmt: skip
        channel, tail = CHANNEL.get(source, ""), rng.choice(TAILS.get(source, ("",)))
        keyword = rng.choice(matter.keywords[:3])
        text_only = False
        if source == "hotline" and rng.random() < self.shape.text_only_hotline_share:
            # only when the words alone lead routing to the same matter type, as a call-taker's would
            text_only = self._classifies(matter, _text(matter.keywords[0], unit.name, channel, tail))
            keyword = matter.keywords[0] if text_only else keyword
        urgency = _urgency(matter, self.shape, rng)
        return PlannedReport(
            seq=seq,
            at_s=at_s,
            source=source,
            matter_code=matter.code,
            send_matter_code=not text_only,
            title=_title(matter, keyword, source),
            description=_text(keyword, unit.name, channel, tail),
            lon=lon,
            lat=lat,
            micro_grid=unit.code,
            urgency=urgency,
            households=_households(matter, rng),
            reporter=_caller(rng) if source == "hotline" else None,
            fate=_fate(matter, source, self.shape, rng),
        )


def _title(matter: MatterType, keyword: str, source: str) -> str:
    if source == "camera":
        return f"智能识别：{matter.name}"
    return matter.name if keyword == matter.name else f"{matter.name}：{keyword}"


def _text(keyword: str, place: str, channel: str, tail: str) -> str:
    return f"{channel}{'：' if channel else ''}{place}附近{keyword}{tail}"


def _urgency(matter: MatterType, shape: DayShape, rng: random.Random) -> str:
    draw = rng.random()
    if draw < shape.emergency_share:
        return "emergency"
    if matter.safety or draw < shape.emergency_share + shape.high_urgency_share:
        return "high"
    return "normal"


def _households(matter: MatterType, rng: random.Random) -> int:
    if matter.level in (Level.MICRO_GRID, Level.GRID):
        return rng.choice((0, 0, 1, 1, 2, 3))
    return rng.choice((0, 1, 2, 5, 8, 12)) if rng.random() < 0.9 else rng.randint(20, 60)


def _caller(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + rng.choice(("先生", "女士"))
    phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
    return name, phone


def _fate(matter: MatterType, source: str, shape: DayShape, rng: random.Random) -> Fate:
    f = shape.fates
    draw = rng.random()
    if draw < f.neglected:
        kind = "neglected"
    elif draw < f.neglected + f.returned and matter.returnable_by:
        kind = "returned"
    elif draw < f.neglected + f.returned + f.verify_failed:
        kind = "verify_failed"
    elif source in shape.rated_sources and rng.random() < f.unsatisfied:
        kind = "unsatisfied"
    else:
        kind = "normal"
    hour = 3600.0
    quick = matter.safety or matter.accept_within_hours <= 1
    accept = rng.uniform(60, 900) if quick else rng.uniform(300, 3600)
    resolve = rng.uniform(0.3, 1.5) * hour if quick else rng.uniform(0.5, 4) * hour
    return Fate(
        kind=kind,
        accept_after_s=accept,
        resolve_after_s=resolve,
        verify_after_s=rng.uniform(600, 3600),
        rate_after_s=rng.uniform(1800, 3 * hour),
    )
