"""Who: exactly one lead, plus co-assigned (assisting) units; returns skip whoever returned the case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.model import Assignee, AssigneeKind, Level, MatterType, Unit
from shared.domain.registry import Registry
from shared.domain.routing.locate import district_of
from shared.domain.routing.size import Size
from shared.domain.routing.staffing import nearest_staffed
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


@dataclass(frozen=True, slots=True)
class _Case:
    report: ReportFacts
    matter: MatterType | None
    place: Unit
    registry: Registry
    trace: Trace

    def candidates(self, department: str) -> list[Assignee]:
        return department_candidates(self.registry, department, self.place, self.trace)

    def pick(self, candidates: Iterable[Assignee], role: str = "leads") -> Assignee | None:
        """The first candidate that did not return the case; one with nobody assigned gives way to the
        nearest staffed rung above it (units.skip_unstaffed), which must not have returned it either."""
        for candidate in candidates:
            found = first_not_excluded((candidate,), self.report.excluded, self.trace)
            if found is None:
                continue
            found = nearest_staffed(found, self.registry, self.place.code, self.trace, role=role)
            if first_not_excluded((found,), self.report.excluded, self.trace) is not None:
                return found
        return None

    def staffed(self, assignee: Assignee) -> Assignee:
        return nearest_staffed(assignee, self.registry, self.place.code, self.trace, role="assists")


def choose_units(
    report: ReportFacts,
    matter: MatterType | None,
    sized: Size,
    place: Unit,
    registry: Registry,
    policy: Policy,
    trace: Trace,
) -> Units:
    """Lead and assisting units for a located case (see docs/routing.md, rules units.* and returns.*)."""
    if report.returns >= policy.max_returns:
        return _arbitration(report, place, registry, policy, trace)
    case = _Case(report, matter, place, registry, trace)
    home = unit_at(registry, place, sized.level)
    lead = _lead(case, home)
    if matter is None:
        return Units(lead, ())
    return Units(lead, _assisting(case, matter, lead, home, sized.big))


def _lead(c: _Case, home: Unit) -> Assignee:
    candidates: list[Assignee] = []
    if c.matter is not None and c.matter.lead_department:
        candidates += c.candidates(c.matter.lead_department)
    candidates += [territorial(u) for u in c.registry.chain(home.code)]
    lead = c.pick(candidates)
    if lead is None:
        district = district_of(c.registry, c.place.code)
        c.trace.add("units.all_returned", f"every candidate returned the case: district {district.code} decides")
        return territorial(district)
    _explain_lead(c, lead)
    return lead


def _explain_lead(c: _Case, lead: Assignee) -> None:
    matter, trace = c.matter, c.trace
    dept = matter.lead_department if matter is not None else None
    if lead.kind is AssigneeKind.BRANCH:
        trace.add("units.lead_branch", f"{lead}, the branch of {dept} covering {c.place.code}, leads")
    elif lead.kind is AssigneeKind.DEPARTMENT:
        has_branch = dept is not None and bool(c.registry.branches_for(dept, c.place.code))
        which = "no branch of" if not has_branch else "no staffed branch of"
        trace.add("units.lead_department", f"{which} {dept} covers {c.place.code}: {lead} leads")
    else:
        level = c.registry.unit(lead.code).level.value
        if matter is None:
            trace.add("units.triage_desk", f"{lead} triages the case at {level} level")
        elif dept is None:
            trace.add("units.lead_territorial", f"{matter.code} has no lead department: {lead} ({level}) leads")
        else:
            why = "has anyone assigned" if any(st.rule == "units.skip_unstaffed" for st in trace.steps) else "is left"
            trace.add("units.lead_territorial_fallback", f"no unit of {dept} {why}: {lead} ({level}) leads")


def _assisting(c: _Case, matter: MatterType, lead: Assignee, home: Unit, big: bool) -> tuple[Assignee, ...]:
    out: list[Assignee] = []
    if lead.kind is not AssigneeKind.UNIT:
        out.append(c.staffed(territorial(home)))
        c.trace.add("units.assist_territorial", f"{out[-1]} assists as the territorial unit")
    for department in matter.assisting_departments:
        found = c.pick(c.candidates(department), role="assists")
        if found is not None:
            out.append(found)
            c.trace.add("units.assist_department", f"{found} assists for department {department}")
    if big:
        for u in c.registry.chain(c.place.code):
            if u.level in ON_SITE_LEVELS and u.level.rank < home.level.rank:
                out.append(c.staffed(territorial(u)))
                c.trace.add("units.big_matter_on_site", f"big matter: {out[-1]}, where it happened, assists")
    return _clean(out, lead, c.report.excluded)


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
    arbiter = nearest_staffed(arbiter, registry, place.code, trace, role="arbitrates")
    trace.add(
        "returns.arbitration",
        f"returned {report.returns} time(s) (limit {policy.max_returns}): {arbiter} arbitrates",
        returns=report.returns,
    )
    return Units(arbiter, (), arbitration=True)


def unplaced_safety(
    report: ReportFacts, matter: MatterType | None, area: Unit, centre: Unit, registry: Registry, trace: Trace
) -> Units:
    """A safety matter that could not be placed in a grid never waits in triage alone: the department's branch
    covering the area the point lies in (else the department) leads at once, else the district command centre;
    the command centre of the area assists, to place it."""
    case = _Case(report, matter, area, registry, trace)
    dept = matter.lead_department if matter is not None else None
    lead = case.pick(case.candidates(dept)) if dept else None
    what = f"{matter.code} is a safety matter" if matter is not None else "the text holds safety words"
    if lead is not None and lead.kind is not AssigneeKind.UNIT:
        whose = "the branch of" if lead.kind is AssigneeKind.BRANCH else "the department"
        trace.add(
            "units.safety_unplaced_department",
            f"{what} and could not be placed in a grid: {lead}, {whose} {dept} covering {area.code}, leads at once",
        )
    else:
        lead = territorial(district_of(registry, area.code))
        trace.add(
            "units.safety_unplaced_district",
            f"{what} and could not be placed in a grid: {lead}, the district command centre, leads at once",
        )
    out = [territorial(centre)]
    trace.add(
        "units.unlocated_command_centre",
        f"not located to a micro-grid: {territorial(centre)}, command centre of {centre.name}, places it",
    )
    for department in matter.assisting_departments if matter is not None else ():
        found = case.pick(case.candidates(department), role="assists")
        if found is not None:
            out.append(found)
            trace.add("units.assist_department", f"{found} assists for department {department}")
    return Units(lead, _clean(out, lead, report.excluded))
