"""A roster as the API and the CLI read and write it (JSON or YAML): shifts with persons, swaps with a date range.

{"shifts": [{"name": "day", "start": "08:00", "end": "20:00", "days": "every", "weekdays": [], "persons": ["p1"]},
            {"name": "night", "start": "20:00", "end": "08:00", "persons": ["p2"]}]}
"""

from __future__ import annotations

import re
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import InvalidInput
from shared.people.duty import MAX_PERSONS_PER_SHIFT, MAX_SHIFTS, DayKind, Roster, Shift, Swap

PERSON_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ShiftIn(_Strict):
    name: str = Field("", max_length=40, examples=["night"])
    start: time = Field(description="local time of the district, HH:MM", examples=["20:00"])
    end: time = Field(
        description="not after `start`: the shift runs past midnight (equal: 24 hours)", examples=["08:00"]
    )
    days: DayKind = Field(DayKind.EVERY, description="working days, rest days (weekends, holidays) or every day")
    weekdays: list[int] = Field(default_factory=list, max_length=7, description="0 = Monday .. 6 = Sunday; [] any")
    persons: list[str] = Field(min_length=1, max_length=MAX_PERSONS_PER_SHIFT, examples=[["610199001001-p2"]])

    @model_validator(mode="after")
    def _check(self) -> ShiftIn:
        if any(d < 0 or d > 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        for p in self.persons:
            if not _person(p):
                raise ValueError(f"{p!r} is not a person id")
        return self

    def shift(self) -> Shift:
        return Shift(
            self.start.replace(tzinfo=None),
            self.end.replace(tzinfo=None),
            tuple(dict.fromkeys(self.persons)),
            self.days,
            frozenset(self.weekdays),
            self.name,
        )


class RosterIn(_Strict):
    """A unit's weekly shifts (they replace the ones it had; its swaps stay)."""

    shifts: list[ShiftIn] = Field(max_length=MAX_SHIFTS)


class SwapIn(_Strict):
    """`replaced` is off and `by` on in their place, on the shifts starting from `first` to `last` (inclusive)."""

    first: date = Field(examples=["2026-03-04"])
    last: date | None = Field(None, description="defaults to `first`")
    replaced: str = Field(pattern=PERSON_ID, examples=["610199001001-p2"])
    by: str = Field(pattern=PERSON_ID, examples=["610199001001-p3"])
    reason: str = Field("", max_length=500, examples=["病假"])

    @model_validator(mode="after")
    def _check(self) -> SwapIn:
        if self.last is not None and self.last < self.first:
            raise ValueError("last is before first")
        if self.replaced == self.by:
            raise ValueError("a person cannot be swapped for themself")
        return self

    def swap(self) -> Swap:
        return Swap(self.first, self.last or self.first, self.replaced, self.by, self.reason)


def _person(value: str) -> bool:
    return re.match(PERSON_ID, value) is not None


def shift_out(s: Shift) -> dict[str, object]:
    return {
        "name": s.name,
        "start": s.start.strftime("%H:%M"),
        "end": s.end.strftime("%H:%M"),
        "days": s.days.value,
        "weekdays": sorted(s.weekdays),
        "persons": list(s.persons),
        "crosses_midnight": s.crosses_midnight,
    }


def swap_out(w: Swap) -> dict[str, object]:
    return {"first": w.first.isoformat(), "last": w.last.isoformat(), "replaced": w.replaced, "by": w.by,
            "reason": w.reason}  # fmt: skip


def roster_out(roster: Roster) -> dict[str, object]:
    return {
        "unit": roster.unit,
        "shifts": [shift_out(s) for s in roster.shifts],
        "swaps": [swap_out(w) for w in roster.swaps],
    }


def parse_roster(raw: object) -> RosterIn:
    """A roster document read from a file (the CLI): 422-style errors naming the field."""
    try:
        return RosterIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"roster: {where}: {first['msg']}", field=where, reason="invalid_roster") from None
