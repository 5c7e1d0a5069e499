"""The deadline scale: what is left of an allowance, and warning offsets, shrink by the same factor from now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.timescale import ScaleError, check_scale, scale_deadline, scale_moment

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # the moment dispatch records the deadline


def test_an_allowance_of_n_hours_at_scale_0_001_is_n_times_3_6_seconds() -> None:
    for hours in (0.5, 2, 24, 120):
        due = scale_moment(START, START + timedelta(hours=hours), 0.001)
        assert due - START == timedelta(seconds=hours * 3.6)


def test_warnings_keep_their_fraction_of_the_allowance_and_their_order() -> None:
    due = START + timedelta(hours=8)
    warns = [START + timedelta(hours=4), START + timedelta(hours=6.4)]
    new_due, new_warns = scale_deadline(START, due, warns, 1 / 480)
    assert new_due - START == timedelta(minutes=1)
    assert [w - START for w in new_warns] == [timedelta(seconds=30), timedelta(seconds=48)]
    assert START < new_warns[0] < new_warns[1] < new_due


def test_time_spent_before_now_is_not_shrunk_into_the_past() -> None:
    received = START - timedelta(seconds=30)  # the report waited 30 s for dispatch
    due = received + timedelta(hours=2)
    assert scale_moment(START, due, 1 / 480) == START + (due - START) / 480  # about 15 s from now, not -15 s
    assert scale_moment(START, due, 1 / 480) > START
    assert scale_moment(START, START - timedelta(hours=1), 0.5) == START - timedelta(minutes=30)  # already past


def test_scale_one_changes_nothing() -> None:
    due = START + timedelta(days=5, microseconds=7)
    assert scale_deadline(START, due, [START + timedelta(hours=1)], 1.0) == (due, [START + timedelta(hours=1)])


@pytest.mark.parametrize("scale", [0.0, -0.5, 1.5, float("nan")])
def test_a_scale_outside_0_to_1_is_refused(scale: float) -> None:
    with pytest.raises(ScaleError, match="above 0 and at most 1"):
        check_scale(scale)
    with pytest.raises(ScaleError):
        scale_moment(START, START + timedelta(hours=1), scale)
