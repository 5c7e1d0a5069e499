"""Routing: "small matters in the grid, big matters across the network". Pure functions over explicit inputs.

* `route(report, registry, catalog, now, policy)` → `Decision` (lead, assisting, level, deadlines, trace)
* `escalate(current_lead, registry)` → `Escalation` (next rung, or `at_top`)
* `realert_top(step, starts_at, due_at, at)` → `TopRealert` (the top rung keeps a missed case, chased again)
* `escalate_part(party, registry, at)` → `PartEscalation` (who answers for a part not reported in, by when)
* `summon(place, departments, by_unit, at, registry)` → `Summons` (report-in deadline per department)
* `check_return(matter, assignee, registry)` raises `ReturnNotAllowed` unless the catalog lets that level return it

The rules, their ids and thresholds are documented in docs/routing.md.
"""

from shared.domain.routing.decide import route
from shared.domain.routing.ladder import (
    Escalation,
    PartEscalation,
    SummonCall,
    Summons,
    TopRealert,
    escalate,
    escalate_part,
    realert_top,
    summon,
)
from shared.domain.routing.returns import ReturnNotAllowed, assignee_level, check_return
from shared.domain.routing.values import (
    DEFAULT_POLICY,
    SAFETY_KEYWORDS,
    ByUrgency,
    Decision,
    LocateMethod,
    Policy,
    ReportFacts,
    RoutingError,
    UnknownAssignee,
    Urgency,
    parse_assignee,
)

__all__ = [
    "DEFAULT_POLICY",
    "SAFETY_KEYWORDS",
    "ByUrgency",
    "Decision",
    "Escalation",
    "LocateMethod",
    "PartEscalation",
    "Policy",
    "ReportFacts",
    "ReturnNotAllowed",
    "RoutingError",
    "SummonCall",
    "Summons",
    "TopRealert",
    "UnknownAssignee",
    "Urgency",
    "assignee_level",
    "check_return",
    "escalate",
    "escalate_part",
    "parse_assignee",
    "realert_top",
    "route",
    "summon",
]
