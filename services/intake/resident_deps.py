"""What the residents' endpoints share, built once by the composition root: the link key, the limits, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter

from services.intake.attempts import AttemptLimiter
from shared.settings import ResidentSettings

LOOKUPS = Counter(
    "griddispatch_resident_lookups_total",
    "Residents' case look-ups, by outcome (found, not_found, limited)",
    ["outcome"],
)
RATINGS = Counter(
    "griddispatch_resident_ratings_total",
    "Answers to rating links, by outcome (rated, expired, used, forged, not_rateable, limited)",
    ["outcome"],
)


@dataclass(frozen=True, slots=True)
class Residents:
    settings: ResidentSettings
    link_key: bytes
    per_address: AttemptLimiter  # look-ups of one client address
    per_case: AttemptLimiter  # wrong answers for one case number (whether it exists or not)
    ratings: AttemptLimiter  # rating-link answers of one client address

    @classmethod
    def of(cls, settings: ResidentSettings, link_key: bytes) -> Residents:
        window = settings.window_minutes * 60
        return cls(
            settings,
            link_key,
            AttemptLimiter(settings.lookup_per_address, window),
            AttemptLimiter(settings.failures_per_case, window),
            AttemptLimiter(settings.ratings_per_address, window),
        )


def residents(request: Request) -> Residents:
    found: Residents = request.app.state.residents
    return found


Desk = Annotated[Residents, Depends(residents)]


def address(request: Request) -> str:
    """The client's address (behind a proxy, run intake with --proxy-headers so that this is the resident's)."""
    return request.client.host if request.client else "-"
