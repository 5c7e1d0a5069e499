"""A submitted report as the case aggregate sees it, and the routing rules worth a dashboard."""

from __future__ import annotations

import uuid

from prometheus_client import Counter

from shared.domain.case import Case, Rules, Who, scope_keys
from shared.domain.routing import Decision
from shared.events.types import ReportSubmitted

# Rules that mean the registry has gaps or a safety case could not be placed: worth a dashboard.
WATCHED_RULES = ("units.skip_unstaffed", "units.safety_unplaced_department", "units.safety_unplaced_district")
ROUTING_RULES = Counter(
    "griddispatch_routing_rule_decisions_total",
    "New cases whose routing decision used the rule (unstaffed units passed over, unplaced safety cases)",
    ["rule"],
)


def count_watched_rules(decision: Decision) -> set[str]:
    """Counts each watched rule once per decision; returns those that fired."""
    fired = {step.rule for step in decision.trace} & set(WATCHED_RULES)
    for rule in fired:
        ROUTING_RULES.labels(rule=rule).inc()
    return fired


def new_case(report: ReportSubmitted, decision: Decision, rules: Rules) -> Case:
    """The case a report opens, placed and classified by its routing decision (not assigned yet)."""
    loc = report.location
    return Case(
        case_id=uuid.UUID(report.case_id),
        case_number=report.case_number,
        source=report.source,
        source_ref=report.source_ref,
        title=report.title,
        description=report.description,
        received_at=report.received_at,
        matter_code=decision.matter,
        level=decision.level.value,
        place=decision.place,
        location=loc.model_dump(exclude_none=True),
        urgency=report.urgency,
        households=report.households_affected,
        reporter=report.reporter.model_dump() if report.reporter else None,
        attachments=tuple(report.attachments),
        observed_at=report.observed_at,
        registry_version=rules.version,
        decision=decision.to_dict(),
        scope_keys=tuple(scope_keys(rules.registry, [], decision.place, report.submitted_by)),
        submitted_by=report.submitted_by,
    )


def reporter_of(report: ReportSubmitted) -> Who:
    return Who(id=report.submitted_by or report.source, role="resident")
