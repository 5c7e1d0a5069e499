"""The warning colour of a deadline: blue on track, yellow in the warning window, red overdue, none when done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.warning_colour import colour, worst

DUE = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_before_the_first_warning_is_blue_after_it_yellow_at_the_due_time_red() -> None:
    warns = [DUE - 1 * HOUR, DUE - 3 * HOUR]  # in any order: the earliest opens the window
    assert colour(DUE, DUE - 4 * HOUR, warn_times=warns) == "blue"
    assert colour(DUE, DUE - 3 * HOUR, warn_times=warns) == "yellow"
    assert colour(DUE, DUE - timedelta(seconds=1), warn_times=warns) == "yellow"
    assert colour(DUE, DUE, warn_times=warns) == "red"
    assert colour(DUE, DUE + 48 * HOUR, warn_times=warns) == "red"


def test_a_deadline_that_no_longer_runs_has_no_colour_even_when_late() -> None:
    assert colour(DUE, DUE + HOUR, running=False) == "none"


def test_without_warning_times_the_window_opens_at_half_the_allowance() -> None:
    start = DUE - 10 * HOUR
    assert colour(DUE, start + 4 * HOUR, starts_at=start) == "blue"
    assert colour(DUE, start + 5 * HOUR, starts_at=start) == "yellow"
    assert colour(DUE, DUE - HOUR) == "blue"  # nothing known of the window: on track until due


def test_a_case_shows_its_most_pressing_colour() -> None:
    assert worst(["blue", "red", "yellow"]) == "red"
    assert worst(["blue", "none"]) == "blue"
    assert worst([]) == "none"
