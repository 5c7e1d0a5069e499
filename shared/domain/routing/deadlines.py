"""How long: accept-by and resolve-by from the catalog (or the triage defaults), shortened by urgency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.domain.calendar import Deadline, add_working_hours, deadline
from shared.domain.model import ClockKind, MatterType
from shared.domain.routing.values import Policy, ReportFacts, Trace, Urgency

HOURS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True)
class Deadlines:
    accept_by: datetime
    resolve_by: datetime
    clock: ClockKind
    calendar_known: bool


def deadlines(report: ReportFacts, matter: MatterType | None, now: datetime, policy: Policy, trace: Trace) -> Deadlines:
    """Emergencies run on calendar hours (a working-day allowance becomes 24 hours a day) before shortening."""
    if matter is None:
        accept, resolve, clock = policy.triage_accept_hours, policy.triage_resolve_hours, ClockKind.CALENDAR_HOURS
        source = "triage defaults"
    else:
        accept, resolve, clock = matter.accept_within_hours, matter.resolve_within, matter.clock
        source = f"catalog {matter.code}"
    if report.urgency is Urgency.EMERGENCY and clock is ClockKind.WORKING_DAYS:
        resolve, clock = resolve * HOURS_PER_DAY, ClockKind.CALENDAR_HOURS
        trace.add("deadline.emergency_clock", "emergency: counted in calendar hours, not working days")
    factor = policy.deadline_factor[report.urgency]
    if factor != 1.0:
        accept = max(accept * factor, min(accept, policy.min_accept_hours))
        resolve = max(resolve * factor, min(resolve, _in_clock(policy.min_resolve_hours, clock, policy)))
        trace.add("deadline.urgency", f"urgency {report.urgency.value}: allowances × {factor:g}", factor=factor)
    accept_by = _accept_by(now, accept, clock, policy)
    resolve_by = deadline(now, resolve, clock, policy.tz, policy.local_days, policy.office)
    due = max(resolve_by.due, accept_by.due)
    _explain(trace, source, accept, resolve, clock, accept_by.due, due, policy.tz)
    known = accept_by.calendar_known and resolve_by.calendar_known
    if not known:
        trace.add("deadline.calendar_unknown", "a day counted lies outside the known holiday years: weekdays assumed")
    return Deadlines(accept_by.due, due, clock, known)


def _in_clock(hours: float, clock: ClockKind, policy: Policy) -> float:
    return hours if clock is ClockKind.CALENDAR_HOURS else hours / policy.office.hours


def _accept_by(now: datetime, hours: float, clock: ClockKind, policy: Policy) -> Deadline:
    """Acceptance is counted in hours: of office time for working-day matters, else of the clock."""
    if clock is ClockKind.WORKING_DAYS:
        return add_working_hours(now, hours, policy.tz, policy.local_days, policy.office)
    return deadline(now, hours, clock, policy.tz, policy.local_days, policy.office)


def _explain(
    trace: Trace,
    source: str,
    accept: float,
    resolve: float,
    clock: ClockKind,
    accept_by: datetime,
    resolve_by: datetime,
    tz: str,
) -> None:
    zone = ZoneInfo(tz)
    unit = "working day(s)" if clock is ClockKind.WORKING_DAYS else "hour(s)"
    hours = "working hour(s)" if clock is ClockKind.WORKING_DAYS else "hour(s)"
    trace.add(
        "deadline.accept",
        f"{source}: accept within {accept:g} {hours}, by {accept_by.astimezone(zone).isoformat()}",
        at=accept_by.isoformat(),
    )
    trace.add(
        "deadline.resolve",
        f"{source}: resolve within {resolve:g} {unit}, by {resolve_by.astimezone(zone).isoformat()}",
        at=resolve_by.isoformat(),
    )
