"""The ladder: where an escalated case goes next, and summons (吹哨报到) with their report-in deadlines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from shared.domain.calendar import deadline
from shared.domain.model import Assignee, AssigneeKind, ClockKind, Level, TraceStep
from shared.domain.registry import Registry
from shared.domain.routing.locate import district_of
from shared.domain.routing.staffing import nearest_staffed
from shared.domain.routing.units import department_candidates
from shared.domain.routing.values import (
    DEFAULT_POLICY,
    Policy,
    RoutingError,
    Trace,
    UnknownAssignee,
    Urgency,
)

_T = TypeVar("_T")

SUMMONING_LEVELS = frozenset({Level.STREET, Level.COMMUNITY})


@dataclass(frozen=True, slots=True)
class Escalation:
    target: Assignee
    at_top: bool  # the district command centre cannot go higher: re-alert it instead of moving the case
    trace: tuple[TraceStep, ...]


@dataclass(frozen=True, slots=True)
class SummonCall:
    department: str
    assignee: Assignee  # the department's branch covering the place, else the department
    report_in_by: datetime


@dataclass(frozen=True, slots=True)
class Summons:
    by: Assignee
    calls: tuple[SummonCall, ...]
    trace: tuple[TraceStep, ...]
    on_behalf_of: Assignee | None = None  # the street a district summons for (区代街道吹哨)


def escalate(current_lead: Assignee, registry: Registry, *, place: str | None = None) -> Escalation:
    """One rung up: micro-grid → grid → community → street → district; branch → department → district.

    `place` (the case's unit) picks the district when the registry holds several.
    """
    trace = Trace()
    kind, code = current_lead.kind, current_lead.code
    if kind is AssigneeKind.UNIT:
        unit = _known(registry.units, code, current_lead)
        if unit.parent is None:
            trace.add("escalate.at_top", f"{current_lead} is the district command centre: re-alerted, not moved")
            return Escalation(current_lead, True, tuple(trace.steps))
        parent = registry.unit(unit.parent)
        target = Assignee(AssigneeKind.UNIT, parent.code)
        trace.add("escalate.unit", f"{unit.level.value} {code} → {parent.level.value} {parent.code} ({parent.name})")
    elif kind is AssigneeKind.BRANCH:
        branch = _known(registry.branches, code, current_lead)
        target = Assignee(AssigneeKind.DEPARTMENT, branch.department)
        trace.add("escalate.branch", f"branch {code} → its department {branch.department}")
    else:
        _known(registry.departments, code, current_lead)
        district = district_of(registry, place)
        target = Assignee(AssigneeKind.UNIT, district.code)
        trace.add("escalate.department", f"department {code} → district command centre {district.code}")
    staffed = nearest_staffed(target, registry, place or _unit_of(current_lead, registry), trace, role="takes it")
    return Escalation(staffed, False, tuple(trace.steps))


def _unit_of(assignee: Assignee, registry: Registry) -> str | None:
    """A unit on the assignee's ladder, to pick the district by: the unit itself, or a branch's first cover."""
    if assignee.kind is AssigneeKind.UNIT:
        return assignee.code
    if assignee.kind is AssigneeKind.BRANCH:
        return registry.branches[assignee.code].covers[0]
    return None


@dataclass(frozen=True, slots=True)
class TopRealert:
    """A top-rung lead missed an accept-by or resolve-by deadline: it keeps the case and is chased again."""

    lead: Assignee
    due_at: datetime  # the next re-alert deadline: the missed deadline's allowance again, counted from now
    trace: tuple[TraceStep, ...]


MIN_REALERT = timedelta(seconds=1)  # a deadline recorded with no allowance still waits a moment, never a busy loop


def realert_top(step: Escalation, starts_at: datetime, due_at: datetime, at: datetime) -> TopRealert:
    """Nowhere to climb from the district command centre: no move and no escalation counted, the same lead is
    re-alerted and gets a fresh deadline of the missed one's length, so it is chased no more often than that."""
    if not step.at_top:
        raise RoutingError(f"not the top of the ladder: the case can climb to {step.target}")
    allowance = max(due_at - starts_at, MIN_REALERT)
    trace = Trace()
    trace.steps.extend(step.trace)
    trace.add("escalate.realert", f"{step.target} stays lead: re-alerted, next due {at + allowance} (same allowance)")
    return TopRealert(step.target, at + allowance, tuple(trace.steps))


@dataclass(frozen=True, slots=True)
class PartEscalation:
    """Who answers for a part a party did not report in on time, and by when."""

    party: Assignee
    target: Assignee  # the rung above the party; it owes the part from now on
    at_top: bool  # the party is the district command centre: nobody above, re-alerted instead
    report_in_by: datetime
    trace: tuple[TraceStep, ...]


def escalate_part(
    party: Assignee,
    registry: Registry,
    at: datetime,
    *,
    place: str | None = None,
    urgency: Urgency = Urgency.NORMAL,
    policy: Policy = DEFAULT_POLICY,
) -> PartEscalation:
    """A summoned (or co-assigned) party missed its report-in deadline: the rung above it answers for the part.

    The ladder is the one cases climb (branch → department → district command centre; a territorial unit → the
    unit above it), and the rung gets a summons' report-in time of its own (街呼区应: the district answers).
    """
    step = escalate(party, registry, place=place)
    hours = policy.summon_report_in_hours[urgency]
    due = deadline(at, hours, ClockKind.CALENDAR_HOURS).due
    trace = Trace()
    trace.steps.extend(step.trace)
    if not step.at_top:
        trace.add("summon.escalate", f"{party} did not report in: {step.target} answers for its part by {due}")
    return PartEscalation(party, step.target, step.at_top, due, tuple(trace.steps))


def summon(
    place: str,
    departments: Iterable[str],
    by_unit: str,
    at: datetime,
    registry: Registry,
    *,
    urgency: Urgency = Urgency.NORMAL,
    policy: Policy = DEFAULT_POLICY,
) -> Summons:
    """A street or community summons departments to a case in its area; each must report in by a deadline.

    The district may summon on behalf of the street the case lies in (区代街道吹哨): the street stays the
    summoning level, the district is who asked."""
    trace = Trace()
    by = _known(registry.units, by_unit, Assignee(AssigneeKind.UNIT, by_unit))
    chain = registry.chain(place)
    if by_unit not in {u.code for u in chain}:
        raise RoutingError(f"{by_unit} may summon only to cases in its own area; {place} is outside it")
    summoner, on_behalf_of = by, None
    if by.level is Level.DISTRICT:
        street = next((u for u in chain if u.level is Level.STREET), None)
        if street is None:
            raise RoutingError(f"case place {place} lies in no street: the district has no street to summon for")
        summoner, on_behalf_of = street, Assignee(AssigneeKind.UNIT, street.code)
        trace.add(
            "summon.on_behalf",
            f"district {by_unit} summons on behalf of street {street.code} ({street.name})",
            district=by_unit,
            street=street.code,
        )
    elif by.level not in SUMMONING_LEVELS:
        raise RoutingError(
            f"only a street or community (or the district for a street) may summon departments; "
            f"{by_unit} is a {by.level.value}"
        )
    wanted = list(dict.fromkeys(departments))
    if not wanted:
        raise RoutingError("a summons names at least one department")
    hours = policy.summon_report_in_hours[urgency]
    due = deadline(at, hours, ClockKind.CALENDAR_HOURS).due
    calls = []
    for code in wanted:
        if code not in registry.departments:
            raise RoutingError(f"unknown department {code!r}", field="departments")
        assignee = department_candidates(registry, code, registry.unit(place), trace)[0]
        assignee = nearest_staffed(assignee, registry, place, trace, role="reports in")
        calls.append(SummonCall(code, assignee, due))
        who = f"{summoner.level.value} {summoner.code}"
        trace.add("summon.call", f"{who} summons {code} ({assignee}): report in by {due}", department=code)
    trace.add("summon.deadline", f"urgency {urgency.value}: report in within {hours:g} hour(s)", hours=hours)
    return Summons(Assignee(AssigneeKind.UNIT, by_unit), tuple(calls), tuple(trace.steps), on_behalf_of)


def _known(table: Mapping[str, _T], code: str, who: Assignee) -> _T:
    try:
        return table[code]
    except KeyError:
        raise UnknownAssignee(f"{who} is not in the registry", assignee=str(who)) from None
