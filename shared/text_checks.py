"""Whether a request body can be read as text at all, before any handler parses it: pure functions over bytes.

PostgreSQL text holds neither NUL nor unpaired surrogates, and a body that is not UTF-8 cannot be stored as
what the client meant (a form parser falls back to Latin-1 and keeps mojibake). JSON nested deeper than a
body needs is refused before it can exhaust the parser's recursion. Each check gives the first offending field
by its path (`matter_types.0`, `location.address`; `body` for the whole), or None when the body is readable.
What is readable but wrong (a missing field, a bad type, JSON that does not parse) is left to the handler.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_DEPTH = 32  # objects and arrays within each other; the deepest body of any API is 5 (a GeoJSON polygon)

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of a byte that is not UTF-8


@dataclass(frozen=True, slots=True)
class Unreadable:
    field: str
    message: str

    @property
    def detail(self) -> str:
        return f"{self.field}: {self.message}"


def text_problem(value: str) -> str | None:
    """Why this string cannot be stored as text, or None."""
    if "\x00" in value:
        return "NUL characters are not accepted"
    if _SURROGATE.search(value):
        return "must be valid Unicode text (a lone surrogate)"
    return None


def json_problem(body: bytes, max_depth: int = MAX_DEPTH) -> Unreadable | None:
    """The first field of a JSON body that is not storable text, or a body nested deeper than `max_depth`."""
    text = body.decode("utf-8", errors="surrogateescape")
    try:
        document = json.loads(text)
    except RecursionError:
        return Unreadable("body", f"nested deeper than {max_depth} levels")
    except ValueError:
        return None  # not JSON: the handler says so, as it always has
    return _walk(document, max_depth)


def _walk(document: Any, max_depth: int) -> Unreadable | None:
    """Iterative, so depth costs no stack: (value, path, depth) still to look at."""
    pending: list[tuple[Any, tuple[str, ...], int]] = [(document, (), 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if (problem := _string_problem(value)) is not None:
                return Unreadable(_name(path), problem)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= max_depth:
            return Unreadable("body", f"nested deeper than {max_depth} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        found: list[tuple[Any, tuple[str, ...], int]] = []
        for key, item in items:
            name = str(key)
            if isinstance(key, str) and (problem := _string_problem(key)) is not None:
                return Unreadable(_name((*path, _printable(name))), f"field name: {problem}")
            found.append((item, (*path, name), depth + 1))
        pending.extend(reversed(found))  # the first field first, as a reader would look
    return None


def _string_problem(value: str) -> str | None:
    if _ESCAPED.search(value):
        return "not valid UTF-8"
    return text_problem(value)


def form_problem(body: bytes) -> Unreadable | None:
    """The first field of an application/x-www-form-urlencoded body that is not UTF-8 text, raw or %-encoded."""
    for pair in body.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value_bytes = unquote_to_bytes(raw_value.replace(b"+", b" "))
        name = _printable(name_bytes.decode("utf-8", errors="replace"))
        problem = _bytes_problem(name_bytes)
        if problem is not None:
            return Unreadable(name or "body", f"field name: {problem}")
        problem = _bytes_problem(value_bytes)
        if problem is not None:
            return Unreadable(name or "body", problem)
    return None


def url_problem(raw_path: bytes, query: bytes) -> Unreadable | None:
    """The path (`path`) or first query parameter (by its name) that is not UTF-8 text once %-decoded, or that
    carries a NUL."""
    if (problem := _bytes_problem(unquote_to_bytes(raw_path))) is not None:
        return Unreadable("path", problem)
    return form_problem(query)


def form_fields(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body's fields, raw or %-encoded bytes read as UTF-8 (as HTML forms and
    curl send them), the last of a repeated name winning; bytes that are not UTF-8 become U+FFFD (form_problem
    refuses them first)."""
    fields: dict[str, str] = {}
    for pair in body.split(b"&"):
        if pair:
            raw_name, _, raw_value = pair.partition(b"=")
            name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8", errors="replace")
            fields[name] = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8", errors="replace")
    return fields


def multipart_problem(body: bytes, boundary: bytes) -> Unreadable | None:
    """The first field (not file) of a multipart/form-data body that is not UTF-8 text."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser

    parts: list[tuple[list[tuple[bytes, bytes]], bytes]] = []
    headers: list[tuple[bytes, bytes]] = []
    field: list[bytes] = []
    value: list[bytes] = []
    data: list[bytes] = []

    def header_end() -> None:
        headers.append((b"".join(field).lower(), b"".join(value)))
        field.clear()
        value.clear()

    def part_end() -> None:
        parts.append((list(headers), b"".join(data)))
        headers.clear()
        data.clear()

    callbacks: Any = {
        "on_header_field": lambda b, s, e: field.append(b[s:e]),
        "on_header_value": lambda b, s, e: value.append(b[s:e]),
        "on_header_end": header_end,
        "on_part_data": lambda b, s, e: data.append(b[s:e]),
        "on_part_end": part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        return None  # not a form the handler can read either: it says so
    for part_headers, content in parts:
        disposition = dict(part_headers).get(b"content-disposition", b"")
        name_bytes = _disposition(disposition, b"name") or b""
        name = _printable(name_bytes.decode("utf-8", errors="replace")) or "body"
        if (problem := _bytes_problem(name_bytes)) is not None:
            return Unreadable(name, f"field name: {problem}")
        if _disposition(disposition, b"filename") is None and (problem := _bytes_problem(content)) is not None:
            return Unreadable(name, problem)
    return None


def _disposition(header: bytes, key: bytes) -> bytes | None:
    match = re.search(rb"(?:^|;)\s*" + key + rb'="((?:[^"\\]|\\.)*)"', header) or re.search(
        rb"(?:^|;)\s*" + key + rb"=([^;\s]*)", header
    )
    return match.group(1) if match else None


def _bytes_problem(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    return text_problem(text)


def _printable(name: str) -> str:
    return _SURROGATE.sub("\ufffd", name.replace("\x00", ""))


def _name(path: tuple[str, ...]) -> str:
    return ".".join(path) or "body"
