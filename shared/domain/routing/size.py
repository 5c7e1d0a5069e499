"""How big: the base level from the catalog, raised by urgency, safety, households and duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.catalog import normalise_text
from shared.domain.model import LADDER, Level, MatterType, Unit
from shared.domain.routing.values import Policy, ReportFacts, Trace


@dataclass(frozen=True, slots=True)
class Size:
    level: Level
    raised: int  # rungs added by the raise rules, before the cap

    @property
    def big(self) -> bool:
        """Big matters are linked across the network: co-assigned with the units on the spot."""
        return self.raised > 0 or self.level.rank >= Level.STREET.rank


def size(report: ReportFacts, matter: MatterType | None, place: Unit, policy: Policy, trace: Trace) -> Size:
    """The decided handling level; never below the level the case could be placed at."""
    base = _base(matter, place, trace)
    raised = (
        _urgency(report, policy, trace)
        + _safety(report, matter, policy, trace)
        + _threshold("households", report.households, policy.households_thresholds, trace)
        + _threshold("duplicates", report.duplicates, policy.duplicates_thresholds, trace)
    )
    rank = base.rank + raised
    if rank > Level.DISTRICT.rank:
        trace.add("level.cap", f"raised {raised} rung(s) from {base.value}: capped at district")
        rank = Level.DISTRICT.rank
    if rank < place.level.rank:
        trace.add(
            "level.clamp_to_place",
            f"the case is only known down to {place.level.value} {place.code}: handled at that level",
        )
        rank = place.level.rank
    return Size(LADDER[rank], raised)


def _base(matter: MatterType | None, place: Unit, trace: Trace) -> Level:
    if matter is not None:
        trace.add("level.base", f"catalog level of {matter.code}: {matter.level.value}", level=matter.level.value)
        return matter.level
    level = Level.COMMUNITY if place.level.rank <= Level.COMMUNITY.rank else place.level
    trace.add("level.triage_base", f"unclassified: triage at {level.value} level", level=level.value)
    return level


def _urgency(report: ReportFacts, policy: Policy, trace: Trace) -> int:
    if report.urgency in policy.raise_on:
        trace.add("level.raise_urgency", f"urgency {report.urgency.value}: one rung up")
        return 1
    return 0


def _safety(report: ReportFacts, matter: MatterType | None, policy: Policy, trace: Trace) -> int:
    """One rung for a safety matter or for safety words in the text, not one per word."""
    if matter is not None and matter.safety:
        trace.add("level.raise_safety_matter", f"{matter.code} is a safety matter: one rung up")
        return 1
    found = safety_words(report, policy)
    if found:
        words = ", ".join(found)
        trace.add("level.raise_safety_keywords", f"safety words in the text ({words}): one rung up", keywords=found)
        return 1
    return 0


def safety_words(report: ReportFacts, policy: Policy) -> list[str]:
    """The policy's safety words found in the report's text (matched in simplified form)."""
    text = normalise_text(report.text)
    return [k for k in policy.safety_keywords if normalise_text(k) in text]


def _threshold(name: str, value: int, thresholds: tuple[int, ...], trace: Trace) -> int:
    reached = [t for t in thresholds if value >= t]
    if reached:
        trace.add(
            f"level.raise_{name}",
            f"{value} {name} reaches threshold(s) {', '.join(map(str, reached))}: {len(reached)} rung(s) up",
            value=value,
        )
    return len(reached)
