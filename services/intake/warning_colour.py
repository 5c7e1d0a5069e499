"""The warning colour of a deadline, as command centres read it on the wall.

blue: on track; yellow (黄牌, 预警): inside the warning window, i.e. the deadline's first warning time has
passed (the catalog's `warn_at`, by default half the allowance); red (红牌, 超时): the due time has passed;
none: the deadline no longer runs (met or void). Pure: the due time, the warning times and now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

Colour = Literal["red", "yellow", "blue", "none"]
_RANK: dict[Colour, int] = {"none": 0, "blue": 1, "yellow": 2, "red": 3}
DEFAULT_WARN_FRACTION = 0.5  # without recorded warning times: yellow from half the allowance, as warn_at's default


def colour(
    due_at: datetime,
    now: datetime,
    *,
    warn_times: Iterable[datetime] = (),
    starts_at: datetime | None = None,
    running: bool = True,
) -> Colour:
    if not running:
        return "none"
    if now >= due_at:
        return "red"
    warns = sorted(warn_times)
    if warns:
        first = warns[0]
    elif starts_at is not None and starts_at < due_at:
        first = starts_at + (due_at - starts_at) * DEFAULT_WARN_FRACTION
    else:
        return "blue"
    return "yellow" if now >= first else "blue"


def worst(colours: Iterable[Colour]) -> Colour:
    """The colour a case shows: that of its most pressing running deadline."""
    return max(colours, key=_RANK.__getitem__, default="none")
