"""Deadline arithmetic in calendar hours or Chinese working days, and warning tiers.

Working days follow the national calendar of `chinese_calendar` (public holidays and the make-up working
days, 调休), overlaid by a district's own `LocalDays`. Counting follows the Civil Code's rule for periods
(民法典 第二百零一条、第二百零三条): the day the period starts is not counted, and the period ends when
business stops on its last day. So "N working days" is due at closing time of the Nth working day after the
start's local date. A fractional part counts as working hours (one working day = the office hours, 09:00 to
17:00 by default, i.e. 8 hours) and continues from the next opening; an amount below one day is that many
working hours from the start itself.

Outside the years `chinese_calendar` knows, days fall back to the weekday rule (Monday to Friday) plus the
local overrides, and the result says so (`Deadline.calendar_known` is False) instead of raising.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

from shared.domain.model import ClockKind
from shared.errors import InvalidInput

DEFAULT_TZ = "Asia/Shanghai"
MAX_WORKING_DAYS = 1000.0  # about four years: anything longer is a data error, and bounds the day walk
MAX_CALENDAR_HOURS = 24.0 * 366 * 4


class CalendarError(InvalidInput):
    """A deadline or a local-days file cannot be computed or read as given."""

    code = "calendar_error"


class NaiveDatetimeError(CalendarError):
    """A datetime without a time zone: the district it belongs to cannot be told."""

    code = "naive_datetime"


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """The hours of a working day during which working-hour deadlines run."""

    opens: time = time(9, 0)
    closes: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None or self.opens >= self.closes:
            raise CalendarError(f"office hours must be naive local times with opens < closes: {self}")

    @property
    def hours(self) -> float:
        span = datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)
        return span.total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class LocalDays:
    """A district's own days off and extra working days, taking precedence over the national calendar."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    district: str | None = None

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            days = ", ".join(d.isoformat() for d in sorted(both))
            raise CalendarError(f"days listed both as holiday and as working day: {days}")


NO_LOCAL_DAYS = LocalDays()
OFFICE_HOURS = OfficeHours()


@dataclass(frozen=True, slots=True)
class Deadline:
    due: datetime  # UTC
    clock: ClockKind
    amount: float
    calendar_known: bool = True  # False: a day counted lay outside the national calendar's known years


# --- days ------------------------------------------------------------------------------------------


def day_status(day: date, local: LocalDays = NO_LOCAL_DAYS) -> tuple[bool, bool]:
    """(is a working day, decided by known data): local overrides, else national calendar, else weekday."""
    return _day_status(day, local)


@functools.lru_cache(maxsize=16384)
def _day_status(day: date, local: LocalDays) -> tuple[bool, bool]:
    """`day_status`, computed once per day and district overlay (both immutable and hashable)."""
    if day in local.workdays:
        return True, True
    if day in local.holidays:
        return False, True
    return _national(day)


@functools.lru_cache(maxsize=4096)
def _national(day: date) -> tuple[bool, bool]:
    """The national calendar's verdict, remembered (chinese_calendar scans its tables on every call: it was
    a tenth of dispatch's time per report, bench.dispatch)."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:  # chinese_calendar's way of saying "year not in my data"
        return day.weekday() < 5, False


def is_working_day(day: date, local: LocalDays = NO_LOCAL_DAYS) -> bool:
    return day_status(day, local)[0]


# --- deadlines -------------------------------------------------------------------------------------


def deadline(
    start_utc: datetime,
    amount: float,
    clock: ClockKind,
    tz: str = DEFAULT_TZ,
    local_overrides: LocalDays = NO_LOCAL_DAYS,
    office: OfficeHours = OFFICE_HOURS,
) -> Deadline:
    """When a period of `amount` hours or working days that starts at `start_utc` ends (see module doc)."""
    _require_aware(start_utc, "start_utc")
    if clock is ClockKind.CALENDAR_HOURS:
        _check_amount(amount, MAX_CALENDAR_HOURS, "calendar hours")
        return Deadline((start_utc + timedelta(hours=amount)).astimezone(UTC), clock, amount)
    _check_amount(amount, MAX_WORKING_DAYS, "working days")
    walk = _Walk(_zone(tz), local_overrides, office)
    whole = math.floor(amount)
    hours = (amount - whole) * office.hours
    if whole == 0:
        due = walk.add_hours(start_utc, hours)
    else:
        due = walk.close_of_nth_day_after(start_utc, whole)
        if hours > 0:
            due = walk.add_hours(due, hours)
    return Deadline(due.astimezone(UTC), clock, amount, walk.known)


def add_working_hours(
    start_utc: datetime,
    hours: float,
    tz: str = DEFAULT_TZ,
    local_overrides: LocalDays = NO_LOCAL_DAYS,
    office: OfficeHours = OFFICE_HOURS,
) -> Deadline:
    """`hours` of office time after `start_utc` (used for accept-by on working-day matters)."""
    _require_aware(start_utc, "start_utc")
    _check_amount(hours, MAX_WORKING_DAYS * office.hours, "working hours")
    walk = _Walk(_zone(tz), local_overrides, office)
    due = walk.add_hours(start_utc, hours)
    return Deadline(due.astimezone(UTC), ClockKind.WORKING_DAYS, hours / office.hours, walk.known)


def warning_times(
    start: datetime,
    due: datetime,
    warn_at: Iterable[float] = (0.5, 0.8),
    clock: ClockKind = ClockKind.CALENDAR_HOURS,
    tz: str = DEFAULT_TZ,
    local_overrides: LocalDays = NO_LOCAL_DAYS,
    office: OfficeHours = OFFICE_HOURS,
) -> tuple[datetime, ...]:
    """UTC times at which each fraction of the allowed time has passed, in the deadline's own clock.

    For working-day deadlines the fractions are of office time, so a tier never falls on a night or a
    holiday when nobody could act on it.
    """
    _require_aware(start, "start")
    _require_aware(due, "due")
    if due <= start:
        raise CalendarError(f"due ({due.isoformat()}) must be after start ({start.isoformat()})")
    tiers = sorted(set(warn_at))
    if any(not 0 < f < 1 for f in tiers):
        raise CalendarError(f"warning tiers must be fractions strictly between 0 and 1: {tiers}")
    if clock is ClockKind.WORKING_DAYS:
        walk = _Walk(_zone(tz), local_overrides, office)
        total = walk.office_seconds_between(start, due)
        if total > 0:
            return tuple(walk.add_hours(start, f * total / 3600).astimezone(UTC) for f in tiers)
    span = due - start
    return tuple((start + span * f).astimezone(UTC) for f in tiers)


# --- local days files ------------------------------------------------------------------------------

_LOCAL_KEYS = frozenset({"district", "holidays", "workdays"})


def parse_local_days(text: str, source: str = "<text>") -> LocalDays:
    """Read a district's override file (YAML, or JSON which YAML reads too). See docs/routing.md."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarError(f"{source}: not valid YAML/JSON: {exc}") from None
    except ValueError as exc:  # PyYAML builds dates while parsing: "2026-13-05" fails here
        raise CalendarError(f"{source}: an impossible date: {exc}") from None
    if data is None:
        return NO_LOCAL_DAYS
    if not isinstance(data, Mapping):
        raise CalendarError(f"{source}: expected a mapping with keys {sorted(_LOCAL_KEYS)}")
    unknown = set(data) - _LOCAL_KEYS
    if unknown:
        raise CalendarError(f"{source}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(_LOCAL_KEYS)}")
    district = data.get("district")
    if district is not None and not isinstance(district, str):
        raise CalendarError(f"{source}: district must be a string")
    try:
        return LocalDays(
            holidays=_dates(data.get("holidays"), source, "holidays"),
            workdays=_dates(data.get("workdays"), source, "workdays"),
            district=district,
        )
    except CalendarError as exc:
        raise CalendarError(f"{source}: {exc.message}") from None


def _dates(raw: object, source: str, key: str) -> frozenset[date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise CalendarError(f"{source}: {key} must be a list of dates")
    return frozenset(_one_date(item, f"{source}: {key}[{i}]") for i, item in enumerate(raw))


def _one_date(item: object, where: str) -> date:
    """A date, an ISO string, or a mapping {date: ..., reason: ...}."""
    if isinstance(item, Mapping):
        extra = set(item) - {"date", "reason"}
        if "date" not in item or extra:
            raise CalendarError(f"{where}: expected {{date, reason}}, got keys {sorted(map(str, item))}")
        item = item["date"]
    if isinstance(item, datetime):  # YAML reads "2026-03-05 10:00" as a datetime: a day has no time
        raise CalendarError(f"{where}: expected a date, got a date and time {item.isoformat()}")
    if isinstance(item, date):
        return item
    if isinstance(item, str):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            pass
    raise CalendarError(f"{where}: expected a date as YYYY-MM-DD, got {item!r}")


# --- internals -------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise CalendarError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{name} has no time zone ({value.isoformat()}); pass an aware datetime")


def _check_amount(amount: float, limit: float, unit: str) -> None:
    if not math.isfinite(amount) or amount < 0 or amount > limit:
        raise CalendarError(f"a deadline of {amount!r} {unit} is outside 0..{limit:g}")


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {tz!r}") from None


@functools.lru_cache(maxsize=16384)
def _nth_working_day_after(start: date, n: int, local: LocalDays) -> tuple[date, bool]:
    """The nth working day after `start` (not counting `start`), and whether every day walked was known data:
    one walk per start date, amount and overlay, remembered (a pure function of immutable inputs)."""
    day, known = start, True
    while n > 0:
        day += timedelta(days=1)
        working, day_known = _day_status(day, local)
        known = known and day_known
        if working:
            n -= 1
    return day, known


class _Walk:
    """Day-by-day walk through a district's working time; remembers whether every day was known."""

    def __init__(self, zone: ZoneInfo, local: LocalDays, office: OfficeHours) -> None:
        self.zone = zone
        self.local = local
        self.office = office
        self.known = True

    def working(self, day: date) -> bool:
        working, known = _day_status(day, self.local)
        self.known = self.known and known
        return working

    def at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.zone)

    def close_of_nth_day_after(self, start: datetime, n: int) -> datetime:
        day, known = _nth_working_day_after(start.astimezone(self.zone).date(), n, self.local)
        self.known = self.known and known
        return self.at(day, self.office.closes)

    def add_hours(self, start: datetime, hours: float) -> datetime:
        remaining = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        if remaining <= timedelta(0):
            return local
        day, cursor = local.date(), local
        while True:
            if self.working(day):
                begin = max(cursor, self.at(day, self.office.opens))
                end = self.at(day, self.office.closes)
                if begin < end:
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += timedelta(days=1)
            cursor = self.at(day, time(0))

    def office_seconds_between(self, start: datetime, end: datetime) -> float:
        total = 0.0
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            if self.working(day):
                begin = max(start, self.at(day, self.office.opens))
                stop = min(end, self.at(day, self.office.closes))
                total += max(0.0, (stop - begin).total_seconds())
            day += timedelta(days=1)
        return total


# --- remaining allowances (a suspended clock, 挂起) -------------------------------------------------------


def working_seconds_between(
    start_utc: datetime,
    end_utc: datetime,
    tz: str = DEFAULT_TZ,
    local_overrides: LocalDays = NO_LOCAL_DAYS,
    office: OfficeHours = OFFICE_HOURS,
) -> float:
    """Office time from `start_utc` to `end_utc` in seconds (0 when the end is not later)."""
    _require_aware(start_utc, "start_utc")
    _require_aware(end_utc, "end_utc")
    if end_utc <= start_utc:
        return 0.0
    return _Walk(_zone(tz), local_overrides, office).office_seconds_between(start_utc, end_utc)


def after_working_seconds(
    start_utc: datetime,
    seconds: float,
    tz: str = DEFAULT_TZ,
    local_overrides: LocalDays = NO_LOCAL_DAYS,
    office: OfficeHours = OFFICE_HOURS,
) -> datetime:
    """The moment `seconds` of office time after `start_utc` (UTC): where a remaining allowance ends."""
    _require_aware(start_utc, "start_utc")
    walk = _Walk(_zone(tz), local_overrides, office)
    return walk.add_hours(start_utc, max(0.0, seconds) / 3600).astimezone(UTC)
