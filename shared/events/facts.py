"""From the wire contract to the domain: what routing needs to know about a submitted report."""

from __future__ import annotations

from shared.domain.routing import ReportFacts, Urgency
from shared.events.types import ReportSubmitted


def report_facts(report: ReportSubmitted, *, duplicates: int = 0) -> ReportFacts:
    """The routing input for a report; `duplicates` is how many reports are already linked to its case."""
    return ReportFacts(
        title=report.title,
        description=report.description,
        matter=report.matter_code,
        lon=report.location.lon,
        lat=report.location.lat,
        grid_code=report.location.grid_code,
        address=report.location.address,
        urgency=Urgency(report.urgency),
        households=report.households_affected,
        duplicates=duplicates,
    )
