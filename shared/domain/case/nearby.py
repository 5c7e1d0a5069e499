"""Which open case a new report is a further report of: same matter, close by, recent, still being handled."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from shared.domain.case.model import Case, DuplicatePolicy
from shared.domain.lifecycle import MERGE_TARGETS

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (the formula the database's candidate search uses)."""
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def box(lat: float, radius_m: float) -> tuple[float, float]:
    """Half the width and height, in degrees of longitude and latitude, of a box holding the radius."""
    dlat = radius_m / 111_320.0
    return dlat / max(0.01, abs(math.cos(math.radians(lat)))), dlat


def duplicate_of(
    matter: str | None,
    lon: float | None,
    lat: float | None,
    received_at: datetime,
    candidates: Iterable[Case],
    policy: DuplicatePolicy,
) -> tuple[Case, float] | None:
    """The nearest candidate the report merges into (MERGE_TARGETS, same matter, within the radius, reported
    within the window before it), with its distance; None when there is none."""
    if matter is None or lon is None or lat is None or policy.radius_m <= 0:
        return None
    since = received_at - policy.window
    best: tuple[Case, float] | None = None
    for case in candidates:
        if case.matter_code != matter or case.state not in MERGE_TARGETS or case.received_at < since:
            continue
        if case.lon is None or case.lat is None:
            continue
        distance = distance_m(lon, lat, case.lon, case.lat)
        if distance <= policy.radius_m and (best is None or distance < best[1]):
            best = (case, distance)
    return best
