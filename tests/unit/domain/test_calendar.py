"""Deadline arithmetic: Chinese working days (holidays and 调休), calendar hours, overrides, warning tiers."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.calendar import (
    CalendarError,
    LocalDays,
    NaiveDatetimeError,
    OfficeHours,
    add_working_hours,
    day_status,
    deadline,
    is_working_day,
    parse_local_days,
    warning_times,
)
from shared.domain.model import ClockKind

CST = timezone(timedelta(hours=8))
WD = ClockKind.WORKING_DAYS
HOURS = ClockKind.CALENDAR_HOURS


def cst(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def due_local(start: datetime, amount: float, **kw: object) -> datetime:
    return deadline(start, amount, WD, **kw).due.astimezone(CST)  # type: ignore[arg-type]


# --- the national calendar, as chinese_calendar knows it -------------------------------------------


def test_the_2026_spring_festival_facts_this_suite_relies_on() -> None:
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Saturday, make-up working day (调休)
    assert date(2026, 2, 14).weekday() == 5
    for d in range(15, 24):
        assert chinese_calendar.is_holiday(date(2026, 2, d)), d
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 17))[1] == chinese_calendar.Holiday.spring_festival.value


def test_working_days_across_the_2026_spring_festival_and_a_make_up_saturday() -> None:
    thursday = cst(2026, 2, 12, 10)
    assert due_local(thursday, 1) == cst(2026, 2, 13, 17)  # the start day is not counted
    assert due_local(thursday, 2) == cst(2026, 2, 14, 17)  # make-up Saturday counts
    assert due_local(thursday, 3) == cst(2026, 2, 24, 17)  # nine holiday days skipped


def test_working_days_across_the_2025_spring_festival_and_a_make_up_sunday() -> None:
    assert chinese_calendar.is_workday(date(2025, 1, 26)) and date(2025, 1, 26).weekday() == 6
    friday = cst(2025, 1, 24, 10)
    assert due_local(friday, 1) == cst(2025, 1, 26, 17)
    assert due_local(friday, 2) == cst(2025, 1, 27, 17)
    assert due_local(friday, 3) == cst(2025, 2, 5, 17)  # 28 Jan to 4 Feb are holidays


def test_result_is_utc_and_flagged_known() -> None:
    d = deadline(cst(2026, 2, 12, 10), 3, WD)
    assert d.due.tzinfo is UTC
    assert d.due == datetime(2026, 2, 24, 9, 0, tzinfo=UTC)
    assert d.calendar_known and d.clock is WD and d.amount == 3


def test_calendar_hours_ignore_holidays() -> None:
    start = cst(2026, 2, 15, 20)  # first day of the Spring Festival holiday
    d = deadline(start, 48, HOURS)
    assert d.due == datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
    assert deadline(start, 0.5, HOURS).due == start + timedelta(minutes=30)


def test_a_report_on_a_weekend_or_after_hours_counts_from_the_next_working_day() -> None:
    assert due_local(cst(2026, 3, 7, 11), 1) == cst(2026, 3, 9, 17)  # Saturday
    assert due_local(cst(2026, 3, 6, 23), 1) == cst(2026, 3, 9, 17)  # Friday night


# --- fractions: working hours ----------------------------------------------------------------------


def test_fraction_below_a_day_is_working_hours_from_the_start() -> None:
    assert due_local(cst(2026, 3, 5, 10), 0.5) == cst(2026, 3, 5, 14)
    assert due_local(cst(2026, 3, 5, 16), 0.5) == cst(2026, 3, 6, 12)  # one hour today, three tomorrow
    assert due_local(cst(2026, 3, 6, 18), 0.25) == cst(2026, 3, 9, 11)  # Friday evening → Monday


def test_whole_days_plus_a_fraction_continue_from_the_next_opening() -> None:
    assert due_local(cst(2026, 3, 4, 10), 1.5) == cst(2026, 3, 6, 13)


def test_add_working_hours_skips_the_festival() -> None:
    d = add_working_hours(cst(2026, 2, 14, 15), 4)  # make-up Saturday afternoon
    assert d.due.astimezone(CST) == cst(2026, 2, 24, 11)


def test_office_hours_can_be_set() -> None:
    office = OfficeHours(time(8, 30), time(17, 30))
    assert office.hours == 9
    assert due_local(cst(2026, 3, 5, 10), 1, office=office) == cst(2026, 3, 6, 17, 30)
    with pytest.raises(CalendarError):
        OfficeHours(time(17), time(9))


# --- per-district overrides ------------------------------------------------------------------------


def test_a_local_holiday_is_skipped_and_a_local_working_day_counts() -> None:
    local = LocalDays(holidays=frozenset({date(2026, 3, 5)}), workdays=frozenset({date(2026, 3, 7)}))
    assert due_local(cst(2026, 3, 4, 10), 1) == cst(2026, 3, 5, 17)
    assert due_local(cst(2026, 3, 4, 10), 1, local_overrides=local) == cst(2026, 3, 6, 17)
    assert due_local(cst(2026, 3, 6, 10), 1, local_overrides=local) == cst(2026, 3, 7, 17)  # Saturday
    assert not is_working_day(date(2026, 3, 5), local) and is_working_day(date(2026, 3, 7), local)


def test_a_day_cannot_be_both_holiday_and_working_day() -> None:
    with pytest.raises(CalendarError, match="2026-03-05"):
        LocalDays(holidays=frozenset({date(2026, 3, 5)}), workdays=frozenset({date(2026, 3, 5)}))


def test_parse_local_days_from_yaml_with_reasons() -> None:
    text = """
district: LH
holidays:
  - 2026-03-05
  - {date: 2026-03-06, reason: 暴雨停工}
workdays: [2026-03-07]
"""
    local = parse_local_days(text, source="lh.yaml")
    assert local.district == "LH"
    assert local.holidays == {date(2026, 3, 5), date(2026, 3, 6)}
    assert local.workdays == {date(2026, 3, 7)}


def test_parse_local_days_from_json() -> None:
    local = parse_local_days('{"holidays": ["2026-03-05"], "workdays": []}', source="lh.json")
    assert local.holidays == {date(2026, 3, 5)} and local.workdays == frozenset()


def test_parse_empty_file_means_no_overrides() -> None:
    assert parse_local_days("") == LocalDays()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("holiday: [2026-03-05]", "unknown keys \\['holiday'\\]"),
        ("holidays: [2026-13-05]", "impossible date"),
        ('{"holidays": ["2026-02-30"]}', "holidays\\[0\\]: expected a date"),
        ("holidays: 2026-03-05", "must be a list"),
        ("workdays: [2026-03-05 10:00:00]", "date and time"),
        ("workdays: [{day: 2026-03-05}]", "expected \\{date, reason\\}"),
        ("- 2026-03-05", "expected a mapping"),
        ("holidays: [2026-03-05]\nworkdays: [2026-03-05]", "both as holiday and as working day"),
        ("holidays: [", "not valid YAML"),
        ("district: 7", "district must be a string"),
    ],
)
def test_parse_local_days_refuses_bad_files_naming_the_source(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=f"^lh.yaml: .*{message}"):
        parse_local_days(text, source="lh.yaml")


# --- outside the known years -----------------------------------------------------------------------


def test_years_outside_the_national_data_fall_back_to_weekdays_with_a_flag() -> None:
    assert day_status(date(2030, 1, 1)) == (True, False)  # a Tuesday; the real holiday is not known
    assert day_status(date(2030, 1, 5)) == (False, False)  # Saturday
    d = deadline(cst(2030, 1, 1, 10), 3, WD)
    assert not d.calendar_known
    assert d.due.astimezone(CST) == cst(2030, 1, 4, 17)


def test_overrides_still_apply_outside_the_known_years() -> None:
    local = LocalDays(holidays=frozenset({date(2030, 1, 2)}))
    assert day_status(date(2030, 1, 2), local) == (False, True)
    assert due_local(cst(2030, 1, 1, 10), 1, local_overrides=local) == cst(2030, 1, 3, 17)


def test_calendar_hours_are_always_known() -> None:
    assert deadline(cst(2035, 1, 1), 5, HOURS).calendar_known


# --- refused input ---------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 5, 10)  # noqa: DTZ001 - the point of the test
    for call in (
        lambda: deadline(naive, 1, WD),
        lambda: deadline(naive, 1, HOURS),
        lambda: add_working_hours(naive, 1),
        lambda: warning_times(naive, cst(2026, 3, 6)),
        lambda: warning_times(cst(2026, 3, 4), naive),
    ):
        with pytest.raises(NaiveDatetimeError, match="no time zone"):
            call()


@pytest.mark.parametrize("amount", [-1.0, math.nan, math.inf, 10_000.0])
def test_impossible_amounts_are_refused(amount: float) -> None:
    with pytest.raises(CalendarError, match="outside"):
        deadline(cst(2026, 3, 5), amount, WD)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CalendarError, match="unknown time zone"):
        deadline(cst(2026, 3, 5), 1, WD, tz="Asia/Atlantis")


def test_time_zone_decides_the_local_day() -> None:
    # 23:30 UTC on Wednesday is already Thursday 07:30 in Shanghai: Thursday is the start day.
    start = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    assert deadline(start, 1, WD).due == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert deadline(start, 1, WD, tz="UTC").due == datetime(2026, 3, 5, 17, 0, tzinfo=UTC)


# --- warning tiers ---------------------------------------------------------------------------------


def test_calendar_warning_tiers_are_fractions_of_the_span() -> None:
    start = cst(2026, 3, 5, 10)
    tiers = warning_times(start, start + timedelta(hours=10))
    assert tiers == (start + timedelta(hours=5), start + timedelta(hours=8))
    assert all(t.tzinfo is UTC for t in tiers)


def test_working_day_warning_tiers_fall_in_office_hours() -> None:
    start = cst(2026, 2, 12, 10)
    due = deadline(start, 3, WD).due  # 24 Feb 17:00: 31 office hours later
    half, late = warning_times(start, due, (0.8, 0.5), clock=WD)
    assert half.astimezone(CST) == cst(2026, 2, 14, 9, 30)  # 15.5 office hours in, on the make-up Saturday
    assert late.astimezone(CST) == cst(2026, 2, 24, 10, 48)  # 24.8 hours in: the first morning after


@pytest.mark.parametrize("tiers", [(0.0,), (1.0,), (0.5, 1.2)])
def test_warning_tiers_must_be_proper_fractions(tiers: tuple[float, ...]) -> None:
    with pytest.raises(CalendarError, match="fractions"):
        warning_times(cst(2026, 3, 5), cst(2026, 3, 6), tiers)


def test_warning_needs_due_after_start() -> None:
    with pytest.raises(CalendarError, match="must be after"):
        warning_times(cst(2026, 3, 6), cst(2026, 3, 5))


# --- properties ------------------------------------------------------------------------------------

# hypothesis wants naive bounds and adds the zone itself
starts = st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 1), timezones=st.just(UTC))  # noqa: DTZ001
amounts = st.integers(min_value=0, max_value=80).map(lambda q: q / 4)  # quarters of a day up to 20 days


@settings(max_examples=80, deadline=None)
@given(starts, amounts, amounts)
def test_working_day_deadlines_grow_with_the_amount(start: datetime, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert start <= deadline(start, lo, WD).due <= deadline(start, hi, WD).due


@settings(max_examples=150, deadline=None)
@given(starts, amounts.filter(lambda a: a > 0))
def test_working_day_deadlines_end_in_office_hours_of_a_working_day(start: datetime, amount: float) -> None:
    local = deadline(start, amount, WD).due.astimezone(CST)
    assert is_working_day(local.date())
    assert time(9) < local.time() <= time(17)


@settings(max_examples=100, deadline=None)
@given(starts, st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_calendar_hour_deadlines_are_plain_arithmetic(start: datetime, hours: float) -> None:
    assert deadline(start, hours, HOURS).due == start + timedelta(hours=hours)
