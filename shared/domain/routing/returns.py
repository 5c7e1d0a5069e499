"""Whether an assignee may return (退单) a case of a matter type: the catalog's `returnable_by` levels."""

from __future__ import annotations

from shared.domain.model import Assignee, AssigneeKind, Level, MatterType
from shared.domain.registry import Registry
from shared.domain.routing.values import UnknownAssignee
from shared.errors import Conflict


class ReturnNotAllowed(Conflict):
    """The matter type may not be returned at the assignee's level: handle it or escalate it."""

    code = "return_not_allowed"


def assignee_level(assignee: Assignee, registry: Registry) -> Level:
    """A unit's own level; a branch's highest covered level; a department works at district level."""
    try:
        if assignee.kind is AssigneeKind.UNIT:
            return registry.unit(assignee.code).level
        if assignee.kind is AssigneeKind.BRANCH:
            covered = [registry.unit(c).level for c in registry.branches[assignee.code].covers]
            return max(covered, key=lambda lv: lv.rank)
        registry.department(assignee.code)
    except KeyError:
        raise UnknownAssignee(f"{assignee} is not in the registry", assignee=str(assignee)) from None
    return Level.DISTRICT


def check_return(matter: MatterType, assignee: Assignee, registry: Registry) -> None:
    """Raise `ReturnNotAllowed` unless `returnable_by` lists the assignee's level."""
    level = assignee_level(assignee, registry)
    if level in matter.returnable_by:
        return
    allowed = ", ".join(lv.value for lv in matter.returnable_by) or "no level"
    raise ReturnNotAllowed(
        f"{matter.code} may be returned by {allowed}, not by {assignee} ({level.value}): handle or escalate it",
        matter=matter.code,
        assignee=str(assignee),
        level=level.value,
    )
