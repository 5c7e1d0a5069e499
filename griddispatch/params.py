"""Parsers of the command line's option values: a bad value is a usage error naming the expected form.

Each is a typer `parser=`: it takes the text (or the default), returns the value, or raises BadParameter, which
click reports as `Invalid value for '--now': ...` with exit status 2 (griddispatch.cli.main prints it on one
line). The message says what was given and what is expected, with an example.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import typer

from shared.errors import InvalidInput


def _number(value: str | float, expected: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise typer.BadParameter(f"{value!r} is not a number; expected {expected}") from None
    if not math.isfinite(number):
        raise typer.BadParameter(f"{value!r} is not a finite number; expected {expected}")
    return number


def _whole(value: str | int, expected: str) -> int:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a whole number; expected {expected}") from None


def number_in(
    low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str | float], float]:
    """A finite number within the bounds (open or closed), e.g. number_in(0, low_open=True): above 0."""
    parts = []
    if low is not None:
        parts.append(f"above {low:g}" if low_open else f"at least {low:g}")
    if high is not None:
        parts.append(f"below {high:g}" if high_open else f"at most {high:g}")
    expected = "a number " + " and ".join(parts) if parts else "a number"

    def parse(value: str | float) -> float:
        number = _number(value, expected)
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise typer.BadParameter(f"{value!r} is out of range; expected {expected}")
        return number

    return parse


def whole_in(low: int, high: int | None = None) -> Callable[[str | int], int]:
    """A whole number from `low` (to `high`)."""
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"

    def parse(value: str | int) -> int:
        number = _whole(value, expected)
        if number < low or (high is not None and number > high):
            raise typer.BadParameter(f"{value!r} is out of range; expected {expected}")
        return number

    return parse


def whole(value: str | int) -> int:
    """Any whole number (a seed)."""
    return _whole(value, "a whole number, e.g. 42")


port = whole_in(1, 65535)
positive = number_in(0, low_open=True)
not_negative = number_in(0)


def moment(value: str | datetime) -> datetime:
    """An ISO 8601 time with its offset from UTC, e.g. 2026-11-22T09:00:00+08:00."""
    if isinstance(value, datetime):
        return value
    expected = "an ISO 8601 time with a time zone offset, e.g. 2026-11-22T09:00:00+08:00"
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        reason = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"  # e.g. day is out of range
        raise typer.BadParameter(f"{value!r} is not a time{reason}; expected {expected}") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone offset; expected {expected}")
    return parsed


def http_url(value: str) -> str:
    """A base URL: http(s)://host[:port][/path], without the trailing slash."""
    expected = "an http(s) URL, e.g. http://127.0.0.1:8000"
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - reading it checks it (a port out of range or not a number raises)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a URL ({exc}); expected {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{value!r} is not a URL; expected {expected}")
    return value.strip().rstrip("/")


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def host(value: str) -> str:
    """An address to listen on: an IP address or a host name (not looked up here)."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.match(text) or text.replace(".", "").isdigit():
            raise typer.BadParameter(
                f"{value!r} is not an address; expected an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0"
            ) from None
    return text


def source_mix(value: str) -> str:
    """Source shares, `hotline=0.6,grid_app=0.3,camera=0.1`: checked here, parsed again where it is used."""
    from griddispatch.simulation.day import parse_mix

    try:
        parse_mix(value)
    except InvalidInput as exc:
        raise typer.BadParameter(f"{exc.message}; expected SOURCE=SHARE,..., e.g. hotline=0.6,grid_app=0.3") from None
    return value


def scope_name(value: str) -> str:
    from shared.api_clients import Scope

    names = [s.value for s in Scope]
    if value not in names:
        raise typer.BadParameter(f"{value!r} is not a scope; expected one of {', '.join(names)}")
    return value


def unit_scope(value: str) -> str:
    from shared.api_clients import is_unit_scope

    if not is_unit_scope(value):
        raise typer.BadParameter(
            f"{value!r} is not a unit; expected *, unit:<code>, branch:<code> or department:<code>"
        )
    return value


def topic_prefix(value: str) -> str:
    """What Kafka allows in a topic name: letters, digits, '.', '_' and '-'."""
    if not value or len(value) > 200 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in value):
        raise typer.BadParameter(f"{value!r} is not a topic prefix; expected letters, digits, '.', '_' or '-'")
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return parse
