"""Shrinking deadlines for a replayed day: every allowance and warning offset times a scale in (0, 1].

    due, warns = scale_deadline(now, due_at, warn_times, scale=1 / 480)

A moment `m` of a deadline becomes `now + (m - now) * scale`, `now` being when the deadline is recorded: what is
left of the allowance and each warning's offset shrink by the same factor, so the order of warnings and due
time is kept, and time already spent before `now` (a report waiting in a queue) is not shrunk into the past.
Scale 1 changes nothing. Pure: the caller passes the scale (dispatch from its settings) and the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


class ScaleError(ValueError):
    """A deadline scale outside (0, 1]."""


def check_scale(scale: float) -> float:
    """The scale itself when 0 < scale <= 1, else ScaleError naming it."""
    if not 0 < scale <= 1:
        raise ScaleError(f"a deadline scale must be above 0 and at most 1, not {scale!r}")
    return scale


def scale_moment(now: datetime, moment: datetime, scale: float) -> datetime:
    """`moment` brought toward `now`: now + (moment - now) * scale (unchanged at scale 1)."""
    check_scale(scale)
    if scale == 1:
        return moment
    return now + (moment - now) * scale


def scale_deadline(
    now: datetime, due: datetime, warn_times: Iterable[datetime], scale: float
) -> tuple[datetime, list[datetime]]:
    """The due time and warning times of a deadline recorded at `now`, every offset from it times `scale`."""
    return scale_moment(now, due, scale), [scale_moment(now, w, scale) for w in warn_times]
