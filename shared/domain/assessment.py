"""Assessment (考核): the figures of one subject (a unit, a department or a person) for a period, the score
the district's weights give them, and the ranking. Pure arithmetic, no I/O (the SQL is in
services/intake/assessment_queries.py, the definitions in docs/people.md#assessment-考核).

Score, out of 100:

    good  = Σ w_g · rate_g / Σ w_g   over accepted_on_time_rate, resolved_on_time_rate, satisfaction_rate
                                     (satisfaction left out, its weight too, when nothing was rated)
    bad   = Σ w_b · rate_b           over overdue_rate, escalated_rate, wrongly_returned_rate, urged_rate
    score = clamp(100 · (good − bad), 0, 100), two decimals; None when nothing was received

every rate of the cases received except satisfaction (satisfied / rated) and urged (urges per case received,
capped at 1). Ranks are competition ranks (1, 2, 2, 4): equal scores share a rank; no score, no rank.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput

GOOD = ("accepted_on_time", "resolved_on_time", "satisfaction")
BAD = ("overdue", "escalated", "wrongly_returned", "urged")
MAX_WEIGHT = 10.0


class BadPeriod(InvalidInput):
    code = "bad_period"


class BadWeights(InvalidInput):
    code = "bad_weights"


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month (2026-11) or quarter (2026-Q4) on the district's clock: [start, end)."""

    text: str
    start: datetime
    end: datetime
    months: tuple[str, ...]  # YYYY-MM of each month it spans

    @property
    def is_quarter(self) -> bool:
        return len(self.months) == 3


_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


def parse_period(text: str, tz: ZoneInfo) -> Period:
    """`YYYY-MM` or `YYYY-Qn` (years 1900-2199); anything else is BadPeriod (field `period`)."""
    found = _PERIOD.match(text.strip().upper()) if len(text) <= 16 else None
    if found is None:
        raise BadPeriod(f"period {text[:16]!r}: YYYY-MM (2026-11) or YYYY-Qn (2026-Q4), please", field="period")
    year = int(found.group(1))
    if not 1900 <= year < 2200:
        raise BadPeriod("a period between 1900 and 2199, please", field="period")
    if found.group(2):
        first, count = int(found.group(2)), 1
        label = f"{year}-{first:02d}"
    else:
        quarter = int(found.group(3))
        first, count = 3 * quarter - 2, 3
        label = f"{year}-Q{quarter}"
    months = tuple(f"{year}-{m:02d}" for m in range(first, first + count))
    last = first + count - 1
    start = datetime(year, first, 1, tzinfo=tz)
    end = datetime(year + last // 12, last % 12 + 1, 1, tzinfo=tz)
    return Period(label, start, end, months)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each rate counts (0 to 10 each). The defaults apply until the district sets its own."""

    accepted_on_time: float = 0.3
    resolved_on_time: float = 0.4
    satisfaction: float = 0.3
    overdue: float = 0.2
    escalated: float = 0.1
    wrongly_returned: float = 0.2
    urged: float = 0.05

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, values: Mapping[str, Any], base: Weights | None = None) -> Weights:
        """Weights from a mapping (names missing keep `base`'s, else the default); BadWeights on anything else."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise BadWeights(f"unknown weight(s): {', '.join(unknown)}", field=f"weights.{unknown[0]}")
        checked: dict[str, float] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_WEIGHT:
                raise BadWeights(f"{name}: a number from 0 to {MAX_WEIGHT:g}, please", field=f"weights.{name}")
            checked[name] = float(value)
        weights = replace(base or cls(), **checked)
        if not any(getattr(weights, g) > 0 for g in GOOD):
            raise BadWeights("at least one of the good figures needs a weight above 0", field="weights")
        return weights


@dataclass(frozen=True, slots=True)
class Figures:
    """What one subject did with the cases of the period (definitions: docs/people.md)."""

    received: int = 0
    accepted_on_time: int = 0
    resolved_on_time: int = 0
    overdue: int = 0
    escalated: int = 0
    returned: int = 0
    wrongly_returned: int = 0
    urged: int = 0  # urges (催办) of its cases: urge actions to it, comments with reason_code urge
    orders_issued: int = 0  # supervision orders (督办单) issued to it (automatic and by hand)
    orders_answered: int = 0  # of its orders, those it replied to (in time or late)
    orders_answered_in_time: int = 0  # replied by the order's reply-by
    extensions_asked: int = 0  # extensions (延期) it asked for
    extensions_approved: int = 0  # of those, approved by the supervising level
    suspensions: int = 0  # suspensions (挂起) of its clock approved
    suspended_seconds: float = 0.0  # time its clock stood suspended (resumed, or still suspended: until now)
    reported_up: int = 0  # report-ups (上报) it made as the lead (a case reported up twice counts twice)
    rated: int = 0
    satisfied: int = 0
    accept_seconds_total: float = 0.0  # sum over the acceptances timed, for averages that add up
    accepts_timed: int = 0
    resolve_seconds_total: float = 0.0
    resolves_timed: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Figures)})

    def rate(self, name: str) -> float | None:
        """The rate the score uses for `name` (GOOD or BAD), None when its denominator is 0."""
        if name == "satisfaction":
            return self.satisfied / self.rated if self.rated else None
        if not self.received:
            return None
        value: float = getattr(self, name) / self.received
        return min(value, 1.0)

    @property
    def avg_accept_hours(self) -> float | None:
        return round(self.accept_seconds_total / self.accepts_timed / 3600, 2) if self.accepts_timed else None

    @property
    def avg_resolve_hours(self) -> float | None:
        return round(self.resolve_seconds_total / self.resolves_timed / 3600, 2) if self.resolves_timed else None

    def as_dict(self) -> dict[str, object]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "received": self.received,
            "accepted_on_time": self.accepted_on_time,
            "resolved_on_time": self.resolved_on_time,
            "overdue": self.overdue,
            "escalated": self.escalated,
            "returned": self.returned,
            "wrongly_returned": self.wrongly_returned,
            "urged": self.urged,
            "orders_issued": self.orders_issued,
            "orders_answered": self.orders_answered,
            "orders_answered_in_time": self.orders_answered_in_time,
            "extensions_asked": self.extensions_asked,
            "extensions_approved": self.extensions_approved,
            "suspensions": self.suspensions,
            "suspended_hours": round(self.suspended_seconds / 3600, 2),
            "reported_up": self.reported_up,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "accepted_on_time_rate": r(self.rate("accepted_on_time")),
            "resolved_on_time_rate": r(self.rate("resolved_on_time")),
            "satisfaction_rate": r(self.rate("satisfaction")),
            "avg_accept_hours": self.avg_accept_hours,
            "avg_resolve_hours": self.avg_resolve_hours,
        }


def score(figures: Figures, weights: Weights) -> float | None:
    """The score out of 100 (module docstring); None for a subject that received nothing."""
    if not figures.received:
        return None
    good_total = good_weight = 0.0
    for name in GOOD:
        value, weight = figures.rate(name), float(getattr(weights, name))
        if value is not None:
            good_total += weight * value
            good_weight += weight
    good = good_total / good_weight if good_weight else 0.0
    bad = sum(float(getattr(weights, name)) * (figures.rate(name) or 0.0) for name in BAD)
    return round(min(100.0, max(0.0, 100 * (good - bad))), 2)


@dataclass(frozen=True, slots=True)
class Subject:
    """A row of a ranking table: a unit, department, branch or person, and what it did."""

    code: str
    name: str
    figures: Figures = field(default_factory=Figures)
    extra: Mapping[str, object] = field(default_factory=dict)  # e.g. a person's units


@dataclass(frozen=True, slots=True)
class Ranked:
    subject: Subject
    score: float | None
    rank: int | None

    def as_dict(self) -> dict[str, object]:
        s = self.subject
        return {
            "code": s.code,
            "name": s.name,
            **s.extra,
            **s.figures.as_dict(),
            "score": self.score,
            "rank": self.rank,
        }


def rank(subjects: Iterable[Subject], weights: Weights) -> list[Ranked]:
    """Best first; equal scores share a rank (1, 2, 2, 4), ordered by code among themselves; unscored last."""
    scored = [(s, score(s.figures, weights)) for s in subjects]
    scored.sort(key=lambda p: (p[1] is None, -(p[1] or 0.0), p[0].code))
    out: list[Ranked] = []
    previous: float | None = None
    place = 0
    for position, (subject, value) in enumerate(scored, start=1):
        if value is None:
            out.append(Ranked(subject, None, None))
            continue
        if value != previous:
            place, previous = position, value
        out.append(Ranked(subject, value, place))
    return out


def total(subjects: Sequence[Subject]) -> Figures:
    """The figures added up (counts and time sums; a roll-up's distinct cases are counted by its own query)."""
    out = Figures()
    for s in subjects:
        out = out + s.figures
    return out
