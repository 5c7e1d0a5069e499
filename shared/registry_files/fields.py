"""Typed reading of one record's fields, reporting every missing, mistyped or unknown field."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from shared.registry_files.validate import Problems

_E = TypeVar("_E", bound=StrEnum)
_MISSING = object()
# a long digit code as a spreadsheet shows it once it took it for a number: 6.10199E+17, 6.10199001001001e+17
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def not_text(value: Any) -> str:
    """Why a value is not a code or name; specific for a number (an unquoted code in YAML or JSON)."""
    if is_number(value):
        return (
            f"must be text, not the number {value!r}: codes are text, so quote it ('{value}'); "
            "YAML and JSON read unquoted digits as a number"
        )
    return f"must be a non-empty string, not {value!r}"


class RecordReader:
    """Reads the fields of one mapping record; `ok` is False once any of its fields was reported."""

    def __init__(
        self, file: str, record: str, data: Mapping[str, Any], problems: Problems, allowed: frozenset[str]
    ) -> None:
        self.file = file
        self.record = record
        self.data = data
        self.problems = problems
        self.ok = True
        for key in sorted(set(data) - allowed, key=str):
            self.report(str(key), f"unknown field; expected one of {', '.join(sorted(allowed))}")

    def report(self, field: str, message: str) -> None:
        self.ok = False
        self.problems.add(self.file, self.record, field, message)

    def _get(self, field: str, required: bool) -> Any:
        value = self.data.get(field, _MISSING)
        if value is _MISSING and required:
            self.report(field, "required field is missing")
        return value

    def text(self, field: str) -> str:
        """A required, non-empty string."""
        value = self._get(field, required=True)
        if value is _MISSING:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.report(field, not_text(value))
            return ""
        return value.strip()

    def code_cell(self, field: str) -> str:
        """A required code from a CSV cell, refusing one a spreadsheet turned into a number (6.10199E+17)."""
        value = self.text(field)
        if value and _SCIENTIFIC.match(value):
            self.report(
                field,
                f"{value!r} is a number as a spreadsheet writes it, not a code: the digits are lost; "
                "format the column as text, restore the codes and save again",
            )
            return ""
        return value

    def optional_text(self, field: str, *, key_required: bool = False) -> str | None:
        """A string or null; with `key_required` the key must be present (null is explicit)."""
        value = self._get(field, required=key_required)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.report(
                field, not_text(value) if is_number(value) else f"must be a non-empty string or null, not {value!r}"
            )
            return None
        return value.strip()

    def text_list(self, field: str, *, required: bool = False, non_empty: bool = False) -> tuple[str, ...]:
        """A list of non-empty strings; null counts as an empty list."""
        value = self._get(field, required=required)
        if value is _MISSING:
            return ()
        if value is None:
            value = []
        if isinstance(value, list) and any(is_number(v) for v in value):
            for i, v in enumerate(value):
                if is_number(v):
                    self.report(f"{field}[{i}]", not_text(v))
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.report(field, f"must be a list of non-empty strings, not {value!r}")
            return ()
        if non_empty and not value:
            self.report(field, "must list at least one entry")
        return tuple(v.strip() for v in value)

    def number(self, field: str, default: float, *, positive: bool = True) -> float:
        value = self._get(field, required=False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.report(field, f"must be a number, not {value!r}")
            return default
        if positive and value <= 0:
            self.report(field, f"must be greater than 0, not {value!r}")
            return default
        return float(value)

    def flag(self, field: str, default: bool) -> bool:
        value = self._get(field, required=False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.report(field, f"must be true or false, not {value!r}")
            return default
        return value

    def choice(self, field: str, enum: type[_E], default: _E | None = None) -> _E | None:
        """One value of `enum`; required when there is no default."""
        value = self._get(field, required=default is None)
        if value is _MISSING:
            return default
        return self.enum_value(field, enum, value)

    def choices(self, field: str, enum: type[_E]) -> tuple[_E, ...]:
        value = self._get(field, required=False)
        if value is _MISSING or value is None:
            return ()
        if not isinstance(value, list):
            self.report(field, f"must be a list, not {value!r}")
            return ()
        parsed = [self.enum_value(field, enum, v) for v in value]
        return tuple(p for p in parsed if p is not None)

    def enum_value(self, field: str, enum: type[_E], value: Any) -> _E | None:
        try:
            return enum(value)
        except ValueError:
            self.report(field, f"unknown value {value!r}; expected one of {', '.join(e.value for e in enum)}")
            return None
