"""Statistics per unit and period, from one row of facts per case: pure arithmetic, no I/O.

The cases counted are a cohort: those received in the period. Every other figure is what has happened to
those cases so far (a report run after the month has ended sees their whole story):

* received: cases received in the period (merged duplicates are not cases of their own and are left out);
* accepted_in_time: an accept-by deadline of the case was met before it was due (签收 in time);
* resolved_in_time: a resolve-by deadline was met before it was due (办结 in time);
* overdue: any accept-by, resolve-by or report-in deadline ran past its due time (met late, still open
  after it, or voided after it, e.g. by escalation);
* escalated: escalated at least once (上报); returned: returned at least once (退回);
* rated / satisfied: the residents' ratings of these cases (a case reopened after an unsatisfied rating
  can be rated again: each rating counts); satisfaction_rate = satisfied / rated, null without ratings. 基本满意
  counts as satisfied (as the hotlines count 满意率); basically_satisfied says how many of the satisfied it was.

Rates of the monthly report (按时签收率, 按时办结率) are of the cases received.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What one case contributes; `bucket` is the row it counts in (a unit or department code)."""

    bucket: str
    accepted_in_time: bool = False
    resolved_in_time: bool = False
    overdue: bool = False
    escalated: bool = False
    returned: bool = False
    rated: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0  # of the satisfied: rated 基本满意


@dataclass(slots=True)
class Tally:
    received: int = 0
    accepted_in_time: int = 0
    resolved_in_time: int = 0
    overdue: int = 0
    escalated: int = 0
    returned: int = 0
    rated: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0

    def add(self, f: CaseFacts) -> None:
        self.received += 1
        self.accepted_in_time += f.accepted_in_time
        self.resolved_in_time += f.resolved_in_time
        self.overdue += f.overdue
        self.escalated += f.escalated
        self.returned += f.returned
        self.rated += f.rated
        self.satisfied += f.satisfied
        self.basically_satisfied += f.basically_satisfied

    def merge(self, other: Tally) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class StatsRow:
    unit: str
    name: str
    tally: Tally = field(default_factory=Tally)

    @property
    def satisfaction_rate(self) -> float | None:
        return ratio(self.tally.satisfied, self.tally.rated)

    @property
    def accepted_in_time_rate(self) -> float | None:
        return ratio(self.tally.accepted_in_time, self.tally.received)

    @property
    def resolved_in_time_rate(self) -> float | None:
        return ratio(self.tally.resolved_in_time, self.tally.received)

    def as_dict(self) -> dict[str, object]:
        t = self.tally
        return {
            "unit": self.unit,
            "name": self.name,
            "received": t.received,
            "accepted_in_time": t.accepted_in_time,
            "resolved_in_time": t.resolved_in_time,
            "overdue": t.overdue,
            "escalated": t.escalated,
            "returned": t.returned,
            "rated": t.rated,
            "satisfied": t.satisfied,
            "basically_satisfied": t.basically_satisfied,
            "satisfaction_rate": self.satisfaction_rate,
            "accepted_in_time_rate": self.accepted_in_time_rate,
            "resolved_in_time_rate": self.resolved_in_time_rate,
        }


@dataclass(frozen=True, slots=True)
class Stats:
    rows: tuple[StatsRow, ...]
    totals: StatsRow


TOTAL = "total"


def tally(buckets: Sequence[tuple[str, str]], facts: Iterable[CaseFacts], total_name: str = "合计") -> Stats:
    """One row per bucket (code, name), in the order given, zero rows included; totals over the rows' cases.

    A case whose bucket is not listed is counted nowhere (it lies outside the rows asked for)."""
    rows = {code: StatsRow(code, name) for code, name in buckets}
    for f in facts:
        row = rows.get(f.bucket)
        if row is not None:
            row.tally.add(f)
    totals = StatsRow(TOTAL, total_name)
    for row in rows.values():
        totals.tally.merge(row.tally)
    return Stats(tuple(rows.values()), totals)
