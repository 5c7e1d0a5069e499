"""A day's timeline of reports, and the source mix of an open-loop load: pure, deterministic for a seed.

    plan = plan_day(factory, random.Random(7), hours=24)    # every report of the day, in time order
    mix = parse_mix("hotline=0.6,grid_app=0.3,camera=0.1")

Volumes come from `DayShape.per_unit` times the registry's units at each level (see `shape.py` for the
figures and their sources); times follow each source's diurnal curve; a share of reports are duplicates.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from griddispatch.simulation.reports import PlannedReport, ReportFactory
from griddispatch.simulation.shape import DIURNAL, SOURCES
from shared.errors import InvalidInput

DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class DayPlan:
    reports: tuple[PlannedReport, ...]
    start_hour: float
    hours: float

    @property
    def duration_s(self) -> float:
        return self.hours * 3600

    def count(self, source: str) -> int:
        return sum(1 for r in self.reports if r.source == source)


def expected_per_day(factory: ReportFactory) -> dict[str, float]:
    """Reports per full day by source for this registry (before duplicates)."""
    shape = factory.shape
    return {
        source: len(factory.registry.units_at(level)) * per_unit * shape.scale
        for source, (level, per_unit) in shape.per_unit.items()
    }


def _times(source: str, n: int, start_h: float, hours: float, rng: random.Random) -> list[float]:
    """n times (seconds from the window's start) drawn from the source's diurnal curve over the window."""
    curve = DIURNAL.get(source, DIURNAL["hotline"])
    # weight of each whole hour of the window, with partial first and last hours
    slots: list[tuple[float, float, float]] = []  # (start_s, length_s, weight)
    t = 0.0
    while t < hours * 3600 - 1e-9:
        local = (start_h * 3600 + t) % DAY_S
        hour = int(local // 3600)
        length = min(3600 - local % 3600, hours * 3600 - t)
        slots.append((t, length, curve[hour] * length / 3600))
        t += length
    if sum(w for *_, w in slots) <= 0:
        slots = [(s, ln, ln) for s, ln, _ in slots]  # a window the source never reports in: spread evenly
    picks = rng.choices(slots, [w for *_, w in slots], k=n)
    return [start + rng.uniform(0, length) for start, length, _ in picks]


def plan_day(factory: ReportFactory, rng: random.Random, *, hours: float = 24, start_hour: float = 0) -> DayPlan:
    """The reports of `hours` hours starting at local `start_hour`, sorted by time, numbered from 1."""
    if not 0 < hours <= 24:
        raise InvalidInput("hours must be more than 0 and at most 24", field="hours")
    whole_day = expected_per_day(factory)
    share_of_day = {s: _curve_share(s, start_hour, hours) for s in whole_day}
    timed: list[tuple[float, str]] = []
    for source in sorted(whole_day):
        n = _round(whole_day[source] * share_of_day[source], rng)
        timed += [(t, source) for t in _times(source, n, start_hour, hours, rng)]
    timed.sort()
    reports = [factory.report(i + 1, t, source, rng) for i, (t, source) in enumerate(timed)]
    reports += _duplicates(factory, reports, hours * 3600, rng)
    reports.sort(key=lambda r: (r.at_s, r.seq))
    return DayPlan(tuple(reports), start_hour, hours)


def _curve_share(source: str, start_hour: float, hours: float) -> float:
    curve = DIURNAL.get(source, DIURNAL["hotline"])
    total = sum(curve)
    if total <= 0:
        return hours / 24
    covered, t = 0.0, 0.0
    while t < hours - 1e-9:
        local = (start_hour + t) % 24
        step = min(1 - local % 1, hours - t)
        covered += curve[int(local)] * step
        t += step
    return covered / total


def _round(x: float, rng: random.Random) -> int:
    """Round at random so that small expected counts still average right."""
    low = math.floor(x)
    return low + (1 if rng.random() < x - low else 0)


def _duplicates(
    factory: ReportFactory, reports: list[PlannedReport], window_s: float, rng: random.Random
) -> list[PlannedReport]:
    share = factory.shape.duplicate_share
    count = _round(len(reports) * share, rng)
    candidates = [r for r in reports if r.at_s < window_s - 600]
    volume = expected_per_day(factory)
    out: list[PlannedReport] = []
    for i, original in enumerate(rng.sample(candidates, min(count, len(candidates)))):
        # people report again: a caller, a grid worker or a department, rarely a second camera
        others = sorted(s for s in volume if s != original.source and s != "camera" and volume[s] > 0)
        source = rng.choices(others, [volume[s] for s in others])[0] if others else original.source
        at = min(original.at_s + rng.uniform(300, 5400), window_s - 1)
        out.append(factory.duplicate(original, len(reports) + i + 1, at, source, rng))
    return out


def parse_mix(text: str) -> dict[str, float]:
    """`hotline=0.6,grid_app=0.3,camera=0.1` as normalised shares; InvalidInput naming what is wrong."""
    mix: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise InvalidInput(f"mix entry {part!r} is not source=share", field="mix")
        if name not in SOURCES:
            raise InvalidInput(f"unknown source {name!r} in the mix; choose from {', '.join(SOURCES)}", field="mix")
        try:
            share = float(value)
        except ValueError:
            raise InvalidInput(f"share {value.strip()!r} of {name} is not a number", field="mix") from None
        if not math.isfinite(share) or share < 0:
            raise InvalidInput(f"share of {name} must be a finite number of at least 0", field="mix")
        mix[name] = mix.get(name, 0.0) + share
    total = sum(mix.values())
    if total <= 0:
        raise InvalidInput("the mix needs at least one source with a share above 0", field="mix")
    return {name: share / total for name, share in mix.items() if share > 0}


def pick_source(mix: Mapping[str, float], rng: random.Random) -> str:
    names = sorted(mix)
    return rng.choices(names, [mix[n] for n in names])[0]
