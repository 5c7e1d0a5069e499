"""Duty rosters (值班表) and who answers for a unit at a moment: pure, no I/O (dispatch and notify both use it).

A roster is a unit's weekly shifts (weekdays, a local start and end time, on working days, rest days or every day
of the district's calendar) and its one-off swaps (a person replaced by another on the shifts that start within a
date range). A shift whose end is not after its start runs past midnight into the next day (equal: 24 hours);
it belongs to the day it starts on, for its weekday, its kind of day and its swaps.

`responsible_for` names the one person who answers for a unit's case now: someone on duty, else (a micro-grid)
the person holding its grid worker or micro-grid head role, else the unit's head, else nobody (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.domain.calendar import DEFAULT_TZ, NO_LOCAL_DAYS, LocalDays, is_working_day
from shared.domain.model import Level
from shared.errors import InvalidInput
from shared.people.model import HEAD_ROLES, RoleName

MAX_SHIFTS = 50
MAX_SWAPS = 500
MAX_PERSONS_PER_SHIFT = 20


class DayKind(StrEnum):
    WORKING = "working"  # working days of the district's calendar (holidays off, make-up days 调休 on)
    REST = "rest"  # weekends and public holidays
    EVERY = "every"  # every day


class RosterError(InvalidInput):
    code = "invalid_roster"


@dataclass(frozen=True, slots=True)
class Shift:
    """Who is on duty from `start` to `end` (local time) on the days it applies to."""

    start: time
    end: time
    persons: tuple[str, ...]
    days: DayKind = DayKind.EVERY
    weekdays: frozenset[int] = frozenset()  # 0 = Monday .. 6 = Sunday; empty: any weekday
    name: str = ""

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def applies_on(self, day: date, calendar: LocalDays) -> bool:
        if self.weekdays and day.weekday() not in self.weekdays:
            return False
        if self.days is DayKind.EVERY:
            return True
        return is_working_day(day, calendar) == (self.days is DayKind.WORKING)

    def covers(self, start_day: date, moment: datetime) -> bool:
        """Whether this shift, started on `start_day`, runs at the local (naive) `moment`."""
        begins = datetime.combine(start_day, self.start)
        ends = datetime.combine(start_day + timedelta(days=1) if self.crosses_midnight else start_day, self.end)
        return begins <= moment < ends


@dataclass(frozen=True, slots=True)
class Swap:
    """`replaced` is off, `by` on in their place, on the shifts that start from `first` to `last` (inclusive)."""

    first: date
    last: date
    replaced: str
    by: str
    reason: str = ""

    def applies_on(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class Roster:
    unit: str
    shifts: tuple[Shift, ...] = ()
    swaps: tuple[Swap, ...] = ()  # in the order they were made: a later one sees the earlier ones' result


def check_roster(roster: Roster) -> Roster:
    """Refuse what cannot be meant: too many shifts, a shift without persons, a swap of a person by themself."""
    if len(roster.shifts) > MAX_SHIFTS:
        raise RosterError(f"at most {MAX_SHIFTS} shifts a roster", field="shifts")
    for i, s in enumerate(roster.shifts):
        if not s.persons:
            raise RosterError(f"shift {i} has nobody on it", field=f"shifts[{i}].persons")
        if len(s.persons) > MAX_PERSONS_PER_SHIFT:
            raise RosterError(f"at most {MAX_PERSONS_PER_SHIFT} persons a shift", field=f"shifts[{i}].persons")
        if not s.weekdays <= frozenset(range(7)):
            raise RosterError("weekdays are 0 (Monday) to 6 (Sunday)", field=f"shifts[{i}].weekdays")
    if len(roster.swaps) > MAX_SWAPS:
        raise RosterError(f"at most {MAX_SWAPS} swaps a roster", field="swaps")
    for i, w in enumerate(roster.swaps):
        if w.last < w.first:
            raise RosterError("a swap's last day is before its first", field=f"swaps[{i}].last")
        if w.replaced == w.by:
            raise RosterError("a person cannot be swapped for themself", field=f"swaps[{i}].by")
    return roster


def _swapped(persons: tuple[str, ...], day: date, swaps: Iterable[Swap]) -> tuple[str, ...]:
    on = list(persons)
    for swap in swaps:
        if swap.applies_on(day):
            on = [swap.by if p == swap.replaced else p for p in on]
    return tuple(dict.fromkeys(on))  # a person named twice (swapped in beside themself) counts once


def on_duty(roster: Roster, at: datetime, calendar: LocalDays = NO_LOCAL_DAYS, tz: str = DEFAULT_TZ) -> tuple[str, ...]:
    """The persons on duty in the unit at `at` (aware), in shift order then the shift's order; () when nobody is."""
    if at.tzinfo is None:
        raise InvalidInput("on_duty needs an aware time", field="at")
    local = at.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    today = local.date()
    found: list[str] = []
    for shift in roster.shifts:
        for start_day in (today - timedelta(days=1), today):
            if shift.applies_on(start_day, calendar) and shift.covers(start_day, local):
                found.extend(_swapped(shift.persons, start_day, roster.swaps))
    return tuple(dict.fromkeys(found))


# ---- the snapshot dispatch holds, and who answers for a unit -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffMember:
    """An active person's role in a unit, as the snapshot holds it."""

    person: str
    role: RoleName


@dataclass(frozen=True)
class PeopleSnapshot:
    """Active persons, their roles by unit and the rosters by unit, with the calendar the rosters follow."""

    active: frozenset[str] = frozenset()
    roles: Mapping[str, tuple[StaffMember, ...]] = field(default_factory=dict)  # unit key -> members, by person
    rosters: Mapping[str, Roster] = field(default_factory=dict)
    calendar: LocalDays = NO_LOCAL_DAYS
    tz: str = DEFAULT_TZ
    version: str = ""  # what was loaded (for logs and metrics)

    def holds(self, person: str, unit: str) -> bool:
        """Whether an active person holds any role in the unit."""
        return person in self.active and any(m.person == person for m in self.roles.get(unit, ()))

    def holders(self, unit: str, roles: Iterable[RoleName]) -> tuple[str, ...]:
        wanted = frozenset(roles)
        return tuple(m.person for m in self.roles.get(unit, ()) if m.role in wanted and m.person in self.active)

    def is_head(self, person: str, unit: str) -> bool:
        return person in self.holders(unit, HEAD_ROLES)

    def on_duty(self, unit: str, at: datetime) -> tuple[str, ...]:
        roster = self.rosters.get(unit)
        if roster is None:
            return ()
        return tuple(p for p in on_duty(roster, at, self.calendar, self.tz) if p in self.active)


EMPTY = PeopleSnapshot()
_MICRO_GRID_ROLES = (RoleName.GRID_WORKER, RoleName.MICRO_GRID_HEAD)


def responsible_for(
    unit: str, at: datetime, snapshot: PeopleSnapshot, *, level: Level | str | None = None
) -> str | None:
    """The person who answers for `unit`'s case at `at`: the first active person on duty; for a micro-grid, else
    its grid worker, else its micro-grid head; else the unit's head (HEAD_ROLES); else None (nobody on duty)."""
    on = snapshot.on_duty(unit, at)
    if on:
        return on[0]
    if level == Level.MICRO_GRID:
        for role in _MICRO_GRID_ROLES:
            held = snapshot.holders(unit, [role])
            if held:
                return held[0]
    heads = snapshot.holders(unit, HEAD_ROLES)
    return heads[0] if heads else None


def build_snapshot(
    active: Iterable[str],
    roles: Iterable[tuple[str, str, str]],
    rosters: Iterable[Roster],
    *,
    calendar: LocalDays = NO_LOCAL_DAYS,
    tz: str = DEFAULT_TZ,
    version: str = "",
) -> PeopleSnapshot:
    """From rows: active person ids, (person, role, unit) grants (unknown roles skipped), rosters."""
    by_unit: dict[str, list[StaffMember]] = {}
    for person, role, unit in sorted(roles):
        try:
            name = RoleName(role)
        except ValueError:
            continue
        by_unit.setdefault(unit, []).append(StaffMember(person, name))
    return PeopleSnapshot(
        active=frozenset(active),
        roles={u: tuple(m) for u, m in by_unit.items()},
        rosters={r.unit: r for r in rosters},
        calendar=calendar,
        tz=tz,
        version=version,
    )
