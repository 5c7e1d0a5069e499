"""The values routing takes and gives: report facts, policy (thresholds), decisions, errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.calendar import DEFAULT_TZ, NO_LOCAL_DAYS, OFFICE_HOURS, LocalDays, OfficeHours
from shared.domain.model import Assignee, AssigneeKind, ClockKind, Level, TraceStep
from shared.errors import InvalidInput, NotFound


class RoutingError(InvalidInput):
    """Routing cannot proceed with the input as given."""

    code = "routing_error"


class UnknownAssignee(NotFound):
    """An assignee code the registry does not know."""

    code = "unknown_assignee"


def parse_assignee(text: str) -> Assignee:
    """The inverse of `str(Assignee)`: "unit:610199001", "branch:gas-610199001", "department:gas"."""
    kind, sep, code = text.partition(":")
    try:
        if sep and code:
            return Assignee(AssigneeKind(kind), code)
    except ValueError:
        pass
    raise RoutingError(f"not an assignee: {text!r} (expected unit:CODE, branch:CODE or department:CODE)")


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"


class LocateMethod(StrEnum):
    POINT = "point"  # point-in-polygon over micro-grids
    GRID_CODE = "grid_code"  # the unit code the app sent
    ADDRESS = "address"  # the address matched a registry building
    CONTAINING_AREA = "containing_area"  # not located: the smallest unit whose boundary holds the point
    DISTRICT = "district"  # not located at all: the district

    @property
    def located(self) -> bool:
        return self in (LocateMethod.POINT, LocateMethod.GRID_CODE, LocateMethod.ADDRESS)


@dataclass(frozen=True, slots=True)
class ByUrgency:
    """One number per urgency."""

    low: float
    normal: float
    high: float
    emergency: float

    def __getitem__(self, urgency: Urgency) -> float:
        value: float = getattr(self, urgency.value)
        return value


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What routing needs to know about one report (built by dispatch from the report event)."""

    title: str = ""
    description: str = ""
    matter: str | None = None
    lon: float | None = None
    lat: float | None = None
    grid_code: str | None = None
    address: str | None = None
    urgency: Urgency = Urgency.NORMAL
    households: int = 0
    duplicates: int = 0  # reports linked to this case as duplicates
    excluded: frozenset[Assignee] = frozenset()  # assignees that returned the case
    returns: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.urgency, Urgency):
            try:
                object.__setattr__(self, "urgency", Urgency(self.urgency))
            except ValueError:
                raise RoutingError(f"unknown urgency {self.urgency!r}", field="urgency") from None
        if (self.lon is None) != (self.lat is None):
            raise RoutingError("lon and lat come together or not at all", field="lon")
        if self.lon is not None and self.lat is not None:
            ok = math.isfinite(self.lon) and math.isfinite(self.lat)
            if not ok or not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
                raise RoutingError(f"({self.lon}, {self.lat}) is not a WGS84 lon/lat", field="lon")
        for name in ("households", "duplicates", "returns"):
            if getattr(self, name) < 0:
                raise RoutingError(f"{name} cannot be negative", field=name)

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.description}".strip()

    @property
    def point(self) -> tuple[float, float] | None:
        return None if self.lon is None or self.lat is None else (self.lon, self.lat)


# Words that make any report a safety matter, whatever its category (fire, gas, structures, electricity).
# Single characters such as 火 are left out on purpose: 火锅, 火车站 and 火爆 are not emergencies.
SAFETY_KEYWORDS: tuple[str, ...] = (
    "燃气", "煤气", "天然气", "液化气", "漏气", "泄漏", "着火", "起火", "失火", "火灾", "火情", "冒烟",
    "爆炸", "坍塌", "倒塌", "塌陷", "垮塌", "危房", "触电", "漏电", "电线裸露", "中毒", "溺水", "坠落",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Policy:
    """Every threshold routing uses, with the defaults documented in docs/routing.md."""

    min_keyword_score: float = 2.0  # catalog score = characters of matched keywords: one 2-character word
    households_thresholds: tuple[int, ...] = (10, 50)  # each threshold reached raises one rung
    duplicates_thresholds: tuple[int, ...] = (3,)
    safety_keywords: tuple[str, ...] = SAFETY_KEYWORDS
    raise_on: frozenset[Urgency] = frozenset({Urgency.EMERGENCY})  # urgencies that raise one rung
    max_returns: int = 2  # at this many returns the case goes to arbitration
    deadline_factor: ByUrgency = ByUrgency(low=1.0, normal=1.0, high=0.5, emergency=0.25)
    min_accept_hours: float = 0.25  # shortening never goes below these
    min_resolve_hours: float = 1.0
    triage_accept_hours: float = 2.0
    triage_resolve_hours: float = 24.0  # for the triage desk to classify and re-dispatch
    summon_report_in_hours: ByUrgency = ByUrgency(low=48.0, normal=24.0, high=4.0, emergency=1.0)
    tz: str = DEFAULT_TZ
    local_days: LocalDays = NO_LOCAL_DAYS
    office: OfficeHours = OFFICE_HOURS

    def __post_init__(self) -> None:
        if self.max_returns < 1:
            raise RoutingError("max_returns must be at least 1", field="max_returns")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a case goes, for how long, and why (the trace)."""

    lead: Assignee
    assisting: tuple[Assignee, ...]
    level: Level
    unit: str  # the territorial unit at `level` (for an unlocated case, the command centre's unit)
    place: str  # the smallest unit the case was placed in (a micro-grid when located by point or address)
    located_by: LocateMethod
    matter: str | None
    triage: bool  # a person must classify or locate it before real handling
    arbitration: bool
    accept_by: datetime
    resolve_by: datetime
    clock: ClockKind
    warn_at: tuple[float, ...]
    calendar_known: bool
    registry_version: str
    catalog_version: str
    trace: tuple[TraceStep, ...] = field(default_factory=tuple)

    @property
    def assignees(self) -> tuple[Assignee, ...]:
        return (self.lead, *self.assisting)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as `griddispatch route --explain` prints it."""
        return {
            "lead": str(self.lead),
            "assisting": [str(a) for a in self.assisting],
            "level": self.level.value,
            "unit": self.unit,
            "place": self.place,
            "located_by": self.located_by.value,
            "matter": self.matter,
            "triage": self.triage,
            "arbitration": self.arbitration,
            "accept_by": self.accept_by.isoformat(),
            "resolve_by": self.resolve_by.isoformat(),
            "clock": self.clock.value,
            "warn_at": list(self.warn_at),
            "calendar_known": self.calendar_known,
            "registry_version": self.registry_version,
            "catalog_version": self.catalog_version,
            "trace": [{"rule": s.rule, "reason": s.reason, "detail": s.detail} for s in self.trace],
        }


class Trace:
    """Collects trace steps in order."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[TraceStep] = []

    def add(self, rule: str, reason: str, **detail: Any) -> None:
        self.steps.append(TraceStep(rule, reason, detail))
