"""The decision: locate, classify, size, choose units and deadlines, in that order, with the trace."""

from __future__ import annotations

from datetime import datetime

from shared.domain.calendar import NaiveDatetimeError
from shared.domain.catalog import MatterCatalog
from shared.domain.model import AssigneeKind
from shared.domain.registry import Registry
from shared.domain.routing.classify import classify
from shared.domain.routing.deadlines import deadlines
from shared.domain.routing.locate import locate
from shared.domain.routing.size import safety_words, size
from shared.domain.routing.staffing import nearest_staffed
from shared.domain.routing.units import Units, choose_units, territorial, unit_at, unplaced_safety
from shared.domain.routing.values import DEFAULT_POLICY, Decision, Policy, ReportFacts, Trace

DEFAULT_WARN_AT = (0.5, 0.8)


def route(
    report: ReportFacts,
    registry: Registry,
    catalog: MatterCatalog,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """Decide where the case goes. Pure: the same inputs give the same decision and trace."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise NaiveDatetimeError(f"now has no time zone ({now.isoformat()})")
    trace = Trace()
    placement = locate(report, registry, trace)
    matter = classify(report, catalog, policy, trace)
    place = placement.unit
    if placement.method.located:
        sized = size(report, matter, place, policy, trace)
        units = choose_units(report, matter, sized, place, registry, policy, trace)
        # a territorial lead is the responsible unit, even when returns moved it up from the decided level
        led_by_unit = units.lead.kind is AssigneeKind.UNIT
        home = registry.unit(units.lead.code) if led_by_unit else unit_at(registry, place, sized.level)
    else:
        centre = territorial(registry.command_centre_for(place.code))
        home = registry.unit(nearest_staffed(centre, registry, place.code, trace, role="dispatches by hand").code)
        if (matter is not None and matter.safety) or safety_words(report, policy):
            units = unplaced_safety(report, matter, place, home, registry, trace)
            if units.lead.kind is AssigneeKind.UNIT:
                home = registry.unit(units.lead.code)
        else:
            units = Units(territorial(home), ())
            trace.add(
                "units.unlocated_command_centre",
                f"not located to a micro-grid: {territorial(home)}, command centre of {home.name}, dispatches by hand",
            )
    due = deadlines(report, matter, now, policy, trace)
    return Decision(
        lead=units.lead,
        assisting=units.assisting,
        level=home.level,
        unit=home.code,
        place=place.code,
        located_by=placement.method,
        matter=matter.code if matter else None,
        triage=matter is None or not placement.method.located,
        arbitration=units.arbitration,
        accept_by=due.accept_by,
        resolve_by=due.resolve_by,
        clock=due.clock,
        warn_at=matter.warn_at if matter else DEFAULT_WARN_AT,
        calendar_known=due.calendar_known,
        registry_version=registry.version,
        catalog_version=catalog.version,
        trace=tuple(trace.steps),
    )
