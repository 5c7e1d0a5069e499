"""The replay and dispatch's deadline scale: a day replayed at N x needs deadlines shortened to 1/N to show them.

    actual = await dispatch_scale(http, "http://127.0.0.1:8001")   # from dispatch's /readyz; None: no answer
    warning = scale_mismatch(expected=1 / 480, actual=actual)      # a line to print, or None when they agree
    wait = tail_wait_s(dues, now, grace_s=20, cap_s=180)           # how long to wait for unaccepted cases' deadlines

The reading is I/O; the judgements are pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

import httpx

RELATIVE_TOLERANCE = 0.01  # 1/480 printed as 0.00208333 by make still agrees


async def dispatch_scale(http: httpx.AsyncClient, dispatch_url: str) -> float | None:
    """The deadline scale the dispatch worker at `dispatch_url` runs with, or None if it does not say."""
    try:
        answer = await http.get(f"{dispatch_url.rstrip('/')}/readyz", timeout=5)
        value = answer.json().get("deadline_scale")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def scale_mismatch(expected: float, actual: float | None, dispatch_url: str = "dispatch") -> str | None:
    """What to tell the person running the replay when dispatch does not shorten deadlines as expected."""
    if actual is None:
        return (
            f"note: dispatch's deadline scale is unknown (no answer with one at {dispatch_url}/readyz); "
            f"warnings and escalations show within the replay only if it runs with "
            f"GRIDDISPATCH_DISPATCH_DEADLINE_SCALE={expected:.6g}"
        )
    if math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE):
        return None
    effect = (
        "deadlines run on the real clock, so the replay will show (almost) no warnings or escalations"
        if actual == 1
        else f"one hour of allowance lasts {3600 * actual:.1f} s, not the {3600 * expected:.1f} s this speed-up needs"
    )
    return (
        f"WARNING: dispatch runs with deadline scale {actual:.6g}, not {expected:.6g} (1/speed-up): {effect}. "
        f"The stack was started with another scale: restart it (`make down`, then `make demo`), or start the "
        f"services with GRIDDISPATCH_DISPATCH_DEADLINE_SCALE={expected:.6g} `griddispatch up`"
    )


def tail_wait_s(dues: Iterable[datetime], now: datetime, grace_s: float, cap_s: float) -> float:
    """Seconds to wait so that the latest of `dues` has passed by `grace_s` (escalation and dispatch act on
    it), at most `cap_s`; 0 when there is nothing to wait for."""
    latest = max(dues, default=None)
    if latest is None:
        return 0.0
    return min(cap_s, max(0.0, (latest - now).total_seconds() + grace_s))
