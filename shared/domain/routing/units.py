"""Who: exactly one lead, plus co-assigned (assisting) units; returns skip whoever returned the case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.model import Assignee, AssigneeKind, Level, MatterType, Unit
from shared.domain.registry import Registry
from shared.domain.routing.locate import district_of
from shared.domain.routing.values import Policy, ReportFacts, Trace

ON_SITE_LEVELS = (Level.GRID, Level.COMMUNITY)


@dataclass(frozen=True, slots=True)
class Units:
    lead: Assignee
    assisting: tuple[Assignee, ...]
    arbitration: bool = False


def unit_at(registry: Registry, place: Unit, level: Level) -> Unit:
    """The unit at `level` on the place's chain (the place itself when it sits at or above `level`)."""
    for u in registry.chain(place.code):
        if u.level.rank >= level.rank:
            return u
    raise AssertionError("unreachable: every chain ends at a district")


def territorial(u: Unit) -> Assignee:
    return Assignee(AssigneeKind.UNIT, u.code)


def department_candidates(registry: Registry, department: str, place: Unit, trace: Trace) -> list[Assignee]:
    """The department's branches covering the place, nearest first, else the department itself."""
    if department not in registry.departments:
        trace.add("units.unknown_department", f"department {department!r} is not in the registry: skipped")
        return []
    branches = registry.branches_for(department, place.code)
    if branches:
        return [Assignee(AssigneeKind.BRANCH, b.code) for b in branches]
    return [Assignee(AssigneeKind.DEPARTMENT, department)]


def first_not_excluded(candidates: Iterable[Assignee], excluded: frozenset[Assignee], trace: Trace) -> Assignee | None:
    for candidate in candidates:
        if candidate not in excluded:
            return candidate
        trace.add("units.skip_returned", f"{candidate} returned this case before: skipped")
    return None


def choose_units(
    report: ReportFacts,
    matter: MatterType | None,
    level: Level,
    big: bool,
    place: Unit,
    registry: Registry,
    policy: Policy,
    trace: Trace,
) -> Units:
    """Lead and assisting units for a located case (see docs/routing.md, rules units.*)."""
    if report.returns >= policy.max_returns:
        return _arbitration(report, place, registry, policy, trace)
    home = unit_at(registry, place, level)
    lead = _lead(report, matter, home, place, registry, trace)
    if matter is None:
        return Units(lead, ())
    assisting = _assisting(report, matter, lead, home, big, place, registry, trace)
    return Units(lead, assisting)


def _lead(
    report: ReportFacts, matter: MatterType | None, home: Unit, place: Unit, registry: Registry, trace: Trace
) -> Assignee:
    candidates: list[Assignee] = []
    if matter is not None and matter.lead_department:
        candidates += department_candidates(registry, matter.lead_department, place, trace)
    candidates += [territorial(u) for u in registry.chain(home.code)]
    lead = first_not_excluded(candidates, report.excluded, trace)
    if lead is None:
        district = district_of(registry, place.code)
        trace.add("units.all_returned", f"every candidate returned the case: district {district.code} decides")
        return territorial(district)
    _explain_lead(lead, matter, place, registry, trace)
    return lead


def _explain_lead(lead: Assignee, matter: MatterType | None, place: Unit, registry: Registry, trace: Trace) -> None:
    dept = matter.lead_department if matter is not None else None
    if lead.kind is AssigneeKind.BRANCH:
        trace.add("units.lead_branch", f"{lead}, the branch of {dept} covering {place.code}, leads")
    elif lead.kind is AssigneeKind.DEPARTMENT:
        trace.add("units.lead_department", f"no branch of {dept} covers {place.code}: {lead} leads")
    else:
        level = registry.unit(lead.code).level.value
        if matter is None:
            trace.add("units.triage_desk", f"{lead} triages the case at {level} level")
        elif dept is None:
            trace.add("units.lead_territorial", f"{matter.code} has no lead department: {lead} ({level}) leads")
        else:
            trace.add("units.lead_territorial_fallback", f"no unit of {dept} is left: {lead} ({level}) leads")


def _assisting(
    report: ReportFacts,
    matter: MatterType,
    lead: Assignee,
    home: Unit,
    big: bool,
    place: Unit,
    registry: Registry,
    trace: Trace,
) -> tuple[Assignee, ...]:
    out: list[Assignee] = []
    if lead.kind is not AssigneeKind.UNIT:
        out.append(territorial(home))
        trace.add("units.assist_territorial", f"{territorial(home)} assists as the territorial unit")
    for department in matter.assisting_departments:
        found = first_not_excluded(department_candidates(registry, department, place, trace), report.excluded, trace)
        if found is not None:
            out.append(found)
            trace.add("units.assist_department", f"{found} assists for department {department}")
    if big:
        on_site = [
            u for u in registry.chain(place.code) if u.level in ON_SITE_LEVELS and u.level.rank < home.level.rank
        ]
        for u in on_site:
            out.append(territorial(u))
            trace.add("units.big_matter_on_site", f"big matter: {territorial(u)}, where it happened, is co-assigned")
    return _clean(out, lead, report.excluded)


def _clean(assignees: list[Assignee], lead: Assignee, excluded: frozenset[Assignee]) -> tuple[Assignee, ...]:
    seen = {lead} | excluded
    out: list[Assignee] = []
    for a in assignees:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return tuple(out)


def _arbitration(report: ReportFacts, place: Unit, registry: Registry, policy: Policy, trace: Trace) -> Units:
    """After repeated returns the street command centre decides; the district if the street returned it."""
    street = unit_at(registry, place, Level.STREET)
    arbiter = territorial(street)
    if arbiter in report.excluded or street.level is not Level.STREET:
        arbiter = territorial(district_of(registry, place.code))
    trace.add(
        "returns.arbitration",
        f"returned {report.returns} time(s) (limit {policy.max_returns}): {arbiter} arbitrates",
        returns=report.returns,
    )
    return Units(arbiter, (), arbitration=True)
