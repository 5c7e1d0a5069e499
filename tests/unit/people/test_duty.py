"""Duty rosters and who answers for a unit: shifts by weekday and kind of day, past midnight, swaps, fallbacks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.calendar import LocalDays, is_working_day
from shared.errors import InvalidInput
from shared.people.duty import (
    DayKind,
    Roster,
    RosterError,
    Shift,
    Swap,
    build_snapshot,
    check_roster,
    on_duty,
    responsible_for,
)

CST = timezone(timedelta(hours=8))
TZ = "Asia/Shanghai"
UNIT = "unit:610199001001"
DAY = Shift(time(8), time(20), ("day-1",), name="day")
NIGHT = Shift(time(20), time(8), ("night-1",), name="night")
ROSTER = Roster(UNIT, (DAY, NIGHT))
WED = date(2026, 3, 4)  # a working Wednesday
SAT = date(2026, 3, 7)
NATIONAL_DAY = date(2026, 10, 1)  # a Thursday, a public holiday


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST)


def test_the_day_shift_at_ten_and_the_night_shift_at_three() -> None:
    assert on_duty(ROSTER, at(WED, 10), tz=TZ) == ("day-1",)
    assert on_duty(ROSTER, at(WED, 3), tz=TZ) == ("night-1",)  # the night shift that began on Tuesday
    assert on_duty(ROSTER, at(WED, 23), tz=TZ) == ("night-1",)


def test_the_hand_over_at_the_shift_boundary_is_exact() -> None:
    assert on_duty(ROSTER, at(WED, 7, 59), tz=TZ) == ("night-1",)
    assert on_duty(ROSTER, at(WED, 8), tz=TZ) == ("day-1",)  # start inclusive, end exclusive
    assert on_duty(ROSTER, at(WED, 19, 59), tz=TZ) == ("day-1",)
    assert on_duty(ROSTER, at(WED, 20), tz=TZ) == ("night-1",)


def test_the_time_is_read_in_the_district_time_zone() -> None:
    utc_two_am = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Xi'an
    assert on_duty(ROSTER, utc_two_am, tz=TZ) == ("day-1",)
    assert on_duty(ROSTER, utc_two_am, tz="UTC") == ("night-1",)


def test_no_shift_means_nobody() -> None:
    assert on_duty(Roster(UNIT), at(WED, 10), tz=TZ) == ()
    office = Roster(UNIT, (Shift(time(9), time(17), ("clerk",)),))
    assert on_duty(office, at(WED, 18), tz=TZ) == ()


def test_working_day_and_rest_day_shifts_follow_the_national_calendar() -> None:
    roster = Roster(
        UNIT,
        (
            Shift(time(9), time(17), ("weekday-clerk",), days=DayKind.WORKING),
            Shift(time(9), time(17), ("weekend-duty",), days=DayKind.REST),
        ),
    )
    assert on_duty(roster, at(WED, 10), tz=TZ) == ("weekday-clerk",)
    assert on_duty(roster, at(SAT, 10), tz=TZ) == ("weekend-duty",)
    assert on_duty(roster, at(NATIONAL_DAY, 10), tz=TZ) == ("weekend-duty",)  # a holiday on a Thursday


def test_a_local_holiday_of_the_district_counts_as_a_rest_day() -> None:
    roster = Roster(UNIT, (Shift(time(9), time(17), ("clerk",), days=DayKind.WORKING),))
    local = LocalDays(holidays=frozenset({WED}))
    assert on_duty(roster, at(WED, 10), tz=TZ) == ("clerk",)
    assert on_duty(roster, at(WED, 10), local, TZ) == ()


def test_weekdays_narrow_a_shift_and_a_night_shift_belongs_to_the_day_it_starts() -> None:
    friday_night = Shift(time(22), time(6), ("fri-night",), weekdays=frozenset({4}))
    roster = Roster(UNIT, (friday_night,))
    friday, saturday = date(2026, 3, 6), date(2026, 3, 7)
    assert on_duty(roster, at(friday, 23), tz=TZ) == ("fri-night",)
    assert on_duty(roster, at(saturday, 5), tz=TZ) == ("fri-night",)  # Saturday morning: still Friday's shift
    assert on_duty(roster, at(saturday, 23), tz=TZ) == ()
    assert on_duty(roster, at(friday, 5), tz=TZ) == ()  # Thursday's night has no shift


def test_a_shift_whose_end_equals_its_start_runs_24_hours() -> None:
    roster = Roster(UNIT, (Shift(time(8), time(8), ("24h",), weekdays=frozenset({2})),))
    assert on_duty(roster, at(WED, 8), tz=TZ) == ("24h",)
    assert on_duty(roster, at(WED + timedelta(days=1), 7, 59), tz=TZ) == ("24h",)
    assert on_duty(roster, at(WED + timedelta(days=1), 8), tz=TZ) == ()


def test_a_swap_replaces_a_person_on_the_shifts_starting_in_its_range() -> None:
    swap = Swap(WED, WED, "night-1", "night-2", "sick")
    roster = Roster(UNIT, (DAY, NIGHT), (swap,))
    assert on_duty(roster, at(WED, 23), tz=TZ) == ("night-2",)
    assert on_duty(roster, at(WED + timedelta(days=1), 3), tz=TZ) == ("night-2",)  # Wednesday's night shift
    assert on_duty(roster, at(WED, 3), tz=TZ) == ("night-1",)  # Tuesday's night shift: not swapped
    assert on_duty(roster, at(WED, 10), tz=TZ) == ("day-1",)


def test_swaps_apply_in_order_and_a_person_counts_once() -> None:
    two = Shift(time(8), time(20), ("a", "b"))
    roster = Roster(UNIT, (two,), (Swap(WED, WED, "a", "c"), Swap(WED, WED, "c", "b")))
    assert on_duty(roster, at(WED, 10), tz=TZ) == ("b",)


def test_on_duty_needs_an_aware_time() -> None:
    with pytest.raises(InvalidInput):
        on_duty(ROSTER, datetime(2026, 3, 4, 10), tz=TZ)  # noqa: DTZ001 - the naive time is the point


def test_check_roster_refuses_what_cannot_be_meant() -> None:
    with pytest.raises(RosterError, match="nobody"):
        check_roster(Roster(UNIT, (Shift(time(8), time(9), ()),)))
    with pytest.raises(RosterError, match="weekdays"):
        check_roster(Roster(UNIT, (Shift(time(8), time(9), ("a",), weekdays=frozenset({7})),)))
    with pytest.raises(RosterError, match="before"):
        check_roster(Roster(UNIT, swaps=(Swap(WED, WED - timedelta(days=1), "a", "b"),)))
    with pytest.raises(RosterError, match="themself"):
        check_roster(Roster(UNIT, swaps=(Swap(WED, WED, "a", "a"),)))
    assert check_roster(ROSTER) is ROSTER


# ---- properties --------------------------------------------------------------------------------------------

times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(CST))  # noqa: DTZ001


@given(st.lists(times, min_size=1, max_size=6, unique=True), moments)
def test_shifts_that_tile_the_day_always_have_exactly_one_person_on_duty(starts: list[time], moment: datetime) -> None:
    starts = sorted(starts)
    ends = [*starts[1:], starts[0]]  # each shift ends when the next begins; the last wraps past midnight
    shifts = tuple(Shift(s, e, (f"p{i}",)) for i, (s, e) in enumerate(zip(starts, ends, strict=True)))
    if len(shifts) == 1:
        shifts = (Shift(starts[0], starts[0], ("p0",)),)  # one shift: all day
    assert len(on_duty(Roster(UNIT, shifts), moment, tz=TZ)) == 1


@given(times, times, moments)
def test_a_person_is_on_duty_exactly_when_the_moment_lies_in_a_shift_started_today_or_yesterday(
    start: time, end: time, moment: datetime
) -> None:
    shift = Shift(start, end, ("p",))
    local = moment.replace(tzinfo=None)
    hours = (datetime.combine(date.min, end) - datetime.combine(date.min, start)) % timedelta(days=1) or timedelta(1)
    expected = any(
        datetime.combine(d, start) <= local < datetime.combine(d, start) + hours
        for d in (local.date() - timedelta(days=1), local.date())
    )
    assert (on_duty(Roster(UNIT, (shift,)), moment, tz=TZ) == ("p",)) == expected


@given(moments)
def test_working_and_rest_shifts_split_every_moment(moment: datetime) -> None:
    roster = Roster(
        UNIT,
        (
            Shift(time(0), time(0), ("w",), days=DayKind.WORKING),
            Shift(time(0), time(0), ("r",), days=DayKind.REST),
        ),
    )
    expected = "w" if is_working_day(moment.date()) else "r"
    assert on_duty(roster, moment, tz=TZ) == (expected,)


@given(moments, st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), st.integers(0, 5))
def test_a_swap_only_acts_on_shifts_starting_in_its_range(moment: datetime, first: date, days: int) -> None:
    roster = Roster(UNIT, (DAY, NIGHT), (Swap(first, first + timedelta(days=days), "night-1", "sub"),))
    plain = on_duty(ROSTER, moment, tz=TZ)
    swapped = on_duty(roster, moment, tz=TZ)
    local = moment.replace(tzinfo=None)
    started = local.date() if local.time() >= time(8) else local.date() - timedelta(days=1)
    if plain == ("night-1",) and first <= started <= first + timedelta(days=days):
        assert swapped == ("sub",)
    else:
        assert swapped == plain


# ---- who answers for a unit ---------------------------------------------------------------------------------

MG = "unit:610199001001003"
PEOPLE = build_snapshot(
    ["day-1", "night-1", "head-1", "mg-worker", "mg-head", "volunteer-off"],
    [
        ("day-1", "duty_officer", UNIT),
        ("night-1", "duty_officer", UNIT),
        ("head-1", "grid_head", UNIT),
        ("mg-worker", "grid_worker", MG),
        ("mg-head", "micro_grid_head", MG),
        ("retired", "grid_head", "unit:elsewhere"),
    ],
    [ROSTER],
    tz=TZ,
)


def test_the_person_on_duty_answers_for_the_unit() -> None:
    assert responsible_for(UNIT, at(WED, 10), PEOPLE, level="grid") == "day-1"
    assert responsible_for(UNIT, at(WED, 3), PEOPLE, level="grid") == "night-1"


def test_a_disabled_person_on_duty_gives_way_to_the_head() -> None:
    without_night = build_snapshot(
        ["day-1", "head-1"], [("day-1", "duty_officer", UNIT), ("head-1", "grid_head", UNIT)], [ROSTER], tz=TZ
    )
    assert responsible_for(UNIT, at(WED, 3), without_night, level="grid") == "head-1"


def test_a_micro_grid_goes_to_its_grid_worker_then_its_head() -> None:
    assert responsible_for(MG, at(WED, 3), PEOPLE, level="micro_grid") == "mg-worker"
    only_head = build_snapshot(["mg-head"], [("mg-head", "micro_grid_head", MG)], [], tz=TZ)
    assert responsible_for(MG, at(WED, 3), only_head, level="micro_grid") == "mg-head"


def test_a_unit_without_a_roster_goes_to_its_head_and_without_one_to_nobody() -> None:
    assert responsible_for("unit:no-roster", at(WED, 10), PEOPLE) is None
    headed = build_snapshot(["dh"], [("dh", "department_head", "department:housing")], [], tz=TZ)
    assert responsible_for("department:housing", at(WED, 10), headed) == "dh"
    assert responsible_for("unit:elsewhere", at(WED, 10), PEOPLE) is None  # its head is not an active person


def test_the_snapshot_knows_who_belongs_to_a_unit_and_who_heads_it() -> None:
    assert PEOPLE.holds("day-1", UNIT) and not PEOPLE.holds("day-1", MG)
    assert PEOPLE.is_head("head-1", UNIT) and not PEOPLE.is_head("day-1", UNIT)
    assert not PEOPLE.holds("retired", "unit:elsewhere")


person_ids = st.sampled_from(["a", "b", "c", "d", "e"])
role_names = st.sampled_from(["grid_worker", "micro_grid_head", "grid_head", "duty_officer", "department_head"])


@given(
    active=st.sets(person_ids),
    roles=st.lists(st.tuples(person_ids, role_names), max_size=8),
    on_shift=st.lists(person_ids, min_size=1, max_size=3),
    level=st.sampled_from(["micro_grid", "grid", "community", None]),
    moment=moments,
)
def test_the_responsible_person_is_active_and_on_duty_or_of_the_unit(
    active: set[str], roles: list[tuple[str, str]], on_shift: list[str], level: str | None, moment: datetime
) -> None:
    roster = Roster(UNIT, (Shift(time(8), time(20), tuple(on_shift)),))
    snapshot = build_snapshot(active, [(p, r, UNIT) for p, r in roles], [roster], tz=TZ)
    who = responsible_for(UNIT, moment, snapshot, level=level)
    on = [p for p in on_duty(roster, moment, tz=TZ) if p in active]
    if on:
        assert who == on[0]  # whoever is on duty comes first
        return
    held = {p for p, _ in roles if p in active}
    heads = sorted(p for p, r in roles if p in active and r in ("micro_grid_head", "grid_head", "department_head"))
    workers = sorted(p for p, r in roles if p in active and r in ("grid_worker", "micro_grid_head"))
    if level == "micro_grid" and workers:
        assert who in held and who in workers
    elif heads:
        assert who == heads[0]
    else:
        assert who is None
