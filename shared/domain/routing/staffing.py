"""Staffing: a unit, branch or department with nobody assigned never leads; the nearest staffed rung above does.

"Above" is the escalation ladder: micro-grid → grid → community → street → district; branch → its department →
the district command centre. The district is the last rung: it leads even with nobody listed (one lead always).
"""

from __future__ import annotations

from shared.domain.model import Assignee, AssigneeKind
from shared.domain.registry import Registry
from shared.domain.routing.values import Trace


def describe(assignee: Assignee, registry: Registry) -> str:
    """How a trace names it: 'micro_grid 4403050010010 西丽社区邻里格3', 'branch gas-440305001 ...'."""
    if assignee.kind is AssigneeKind.UNIT:
        u = registry.unit(assignee.code)
        return f"{u.level.value} {u.code} {u.name}"
    if assignee.kind is AssigneeKind.BRANCH:
        return f"branch {assignee.code} {registry.branches[assignee.code].name}"
    return f"department {assignee.code} {registry.department(assignee.code).name}"


def rung_above(assignee: Assignee, registry: Registry, place: str | None) -> Assignee | None:
    """The next rung of the ladder, or None at the district."""
    if assignee.kind is AssigneeKind.UNIT:
        parent = registry.unit(assignee.code).parent
        return None if parent is None else Assignee(AssigneeKind.UNIT, parent)
    if assignee.kind is AssigneeKind.BRANCH:
        return Assignee(AssigneeKind.DEPARTMENT, registry.branches[assignee.code].department)
    district = registry.chain(place)[-1] if place is not None else registry.roots[0]
    return Assignee(AssigneeKind.UNIT, district.code)


def nearest_staffed(
    assignee: Assignee, registry: Registry, place: str | None, trace: Trace, *, role: str = "leads"
) -> Assignee:
    """The assignee itself when staffed, else the nearest staffed rung above (the district at worst), traced."""
    if registry.staffed(assignee):
        return assignee
    current = assignee
    above = rung_above(current, registry, place)
    while above is not None and not registry.staffed(above):
        current, above = above, rung_above(above, registry, place)
    target = above or current
    if above is None:
        reason = f"{describe(assignee, registry)} has nobody assigned, nor has any rung above: {target} {role}"
    else:
        reason = f"{describe(assignee, registry)} has nobody assigned: the nearest staffed unit above, {target}, {role}"
    trace.add("units.skip_unstaffed", reason, unstaffed=str(assignee), instead=str(target))
    return target
