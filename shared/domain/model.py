"""The vocabulary every part of griddispatch shares: levels, units, departments, matter types.

Names follow GLOSSARY.md. These are plain immutable values; behaviour lives in the modules beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """Territorial levels, smallest first. The order is the escalation ladder."""

    MICRO_GRID = "micro_grid"
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"

    @property
    def rank(self) -> int:
        return LADDER.index(self)

    def up(self) -> Level | None:
        """The next rung, or None at the top (the district command centre)."""
        i = self.rank + 1
        return LADDER[i] if i < len(LADDER) else None


LADDER: tuple[Level, ...] = (
    Level.MICRO_GRID,
    Level.GRID,
    Level.COMMUNITY,
    Level.STREET,
    Level.DISTRICT,
)

COMMAND_CENTRE_LEVELS = frozenset({Level.STREET, Level.DISTRICT})


class ClockKind(StrEnum):
    """How a matter type's deadlines count time."""

    CALENDAR_HOURS = "calendar_hours"
    WORKING_DAYS = "working_days"


class AssigneeKind(StrEnum):
    UNIT = "unit"  # a territorial unit (micro-grid ... district); street/district act through their command centre
    BRANCH = "branch"  # a department's local branch (e.g. a street's city-management squad)
    DEPARTMENT = "department"  # a line department at district level


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    role: str  # "grid_worker", "grid_head", "volunteer", "duty_officer"
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Unit:
    """One territorial unit. `boundary` is a shapely (Multi)Polygon in WGS84 lon/lat, or None."""

    code: str
    name: str
    level: Level
    parent: str | None
    boundary: Any = None
    people: tuple[Person, ...] = ()

    @property
    def has_command_centre(self) -> bool:
        return self.level in COMMAND_CENTRE_LEVELS


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str  # Chinese
    name_en: str
    people: tuple[Person, ...] = ()  # its duty staff, when the registry records them (see Registry.staffed)


@dataclass(frozen=True, slots=True)
class Branch:
    """A department's local branch and the territorial units (any level) it covers."""

    code: str
    department: str
    name: str
    covers: tuple[str, ...]
    people: tuple[Person, ...] = ()


@dataclass(frozen=True, slots=True)
class Building:
    code: str
    address: str
    micro_grid: str
    lon: float | None = None
    lat: float | None = None


class EscalationPolicy(StrEnum):
    """What a missed accept-by or resolve-by deadline does to the case (docs/routing.md#escalation-policy)."""

    SUPERVISE = "supervise"  # 督办: the next rung supervises, a supervision order is issued, the lead stays
    TAKE_OVER = "take_over"  # 提级: the next rung leads


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """A matter type's escalation policy (or the district default): `supervise` puts the next rung on the case as
    supervisor for the first misses, and the `take_over_after`-th missed deadline at the same lead takes it over;
    `take_over` takes over at the first. `reply_within_hours`: the reply-by of a supervision order."""

    policy: EscalationPolicy = EscalationPolicy.TAKE_OVER
    take_over_after: int = 2  # with `supervise`: the miss that takes over (>= 2); `take_over` is always the 1st
    reply_within_hours: float = 24.0

    def takes_over(self, misses: int) -> bool:
        """Whether the `misses`-th missed deadline at the same lead takes the case over."""
        return self.policy is EscalationPolicy.TAKE_OVER or misses >= self.take_over_after


DEFAULT_ESCALATION = EscalationRule()


@dataclass(frozen=True, slots=True)
class ExtensionRule:
    """How far a matter type's resolve-by may be extended (延期): `max_count` approved extensions per lead, each
    moving it by at most `max_working_days` working days (the catalog's `extension`, else the district default)."""

    max_count: int = 1
    max_working_days: float = 5.0


DEFAULT_EXTENSION = ExtensionRule()


@dataclass(frozen=True, slots=True)
class MatterType:
    """One entry of the matter catalog (事项清单)."""

    code: str
    name: str  # Chinese
    name_en: str
    keywords: tuple[str, ...]
    level: Level  # base handling level
    lead_department: str | None  # None: the territorial unit leads
    assisting_departments: tuple[str, ...] = ()
    accept_within_hours: float = 2.0
    resolve_within: float = 72.0  # in units of `clock`: hours, or working days
    clock: ClockKind = ClockKind.CALENDAR_HOURS
    returnable_by: tuple[Level, ...] = ()
    safety: bool = False  # safety matters (gas, fire, structures) are raised a level and never wait in triage
    warn_at: tuple[float, ...] = (0.5, 0.8)  # warning tiers, as fractions of the allowed time
    escalation: EscalationRule | None = None  # None: the district default (the catalog's `escalation`)
    extension: ExtensionRule | None = None  # None: the district default (the catalog's `extension`)


@dataclass(frozen=True, slots=True)
class Assignee:
    kind: AssigneeKind
    code: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.code}"


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a decision's rule trace: which rule fired and why."""

    rule: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)
