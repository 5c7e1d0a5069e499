"""shared/text_checks.py: which field of a JSON, form or multipart body cannot be stored as text, and why."""

from __future__ import annotations

import json

import pytest

from shared.text_checks import MAX_DEPTH, form_problem, json_problem, multipart_problem


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_readable_json_passes_and_json_that_does_not_parse_is_left_to_the_handler() -> None:
    body = json.dumps({"title": "井盖丢失 🚧", "location": {"lon": 108.9, "address": "北院门"}, "tags": ["a"]})
    assert json_problem(body.encode()) is None
    assert json_problem(b'{"title": ') is None
    assert json_problem(_nested(MAX_DEPTH)) is None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 1000, 100_000])
def test_json_nested_deeper_than_the_limit_is_named_body(depth: int) -> None:
    found = json_problem(_nested(depth))
    assert found is not None and found.field == "body" and found.message == f"nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('{"name": "a\\u0000b"}', "name", "NUL characters are not accepted"),
        ('{"name": "ok", "matter_types": ["sanitation", "x\\u0000"]}', "matter_types.1", "NUL"),
        ('{"location": {"address": "\\ud800"}}', "location.address", "lone surrogate"),
        ('{"a\\u0000b": 1}', "ab", "field name: NUL"),
    ],
)
def test_nul_and_lone_surrogates_are_named_by_their_path(body: str, field: str, message: str) -> None:
    found = json_problem(body.encode())
    assert found is not None and found.field == field and message in found.message, found


def test_bytes_that_are_not_utf8_are_named_by_their_field() -> None:
    found = json_problem(b'{"title": "ok", "description": "caf\xe9"}')
    assert found is not None and (found.field, found.message) == ("description", "not valid UTF-8")
    assert found.detail == "description: not valid UTF-8"


def test_form_fields_raw_or_percent_encoded_must_be_utf8() -> None:
    assert form_problem("description=小区门口&lat=34.27".encode()) is None
    assert form_problem(b"description=%E5%B0%8F%E5%8C%BA+%E9%97%A8&x=") is None
    for body in (b"service_code=sanitation&description=caf\xe9", b"description=caf%E9"):
        found = form_problem(body)
        assert found is not None and (found.field, found.message) == ("description", "not valid UTF-8"), body
    found = form_problem(b"first_name=a%00b")
    assert found is not None and found.field == "first_name" and "NUL" in found.message


def _multipart(*parts: tuple[str, bytes], filename: str | None = None) -> bytes:
    out = b""
    for name, value in parts:
        extra = f'; filename="{filename}"' if filename else ""
        out += f'--XyZ\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'.encode() + value + b"\r\n"
    return out + b"--XyZ--\r\n"


def test_multipart_fields_must_be_utf8_but_file_contents_are_not_text() -> None:
    assert multipart_problem(_multipart(("description", "小区门口".encode())), b"XyZ") is None
    found = multipart_problem(_multipart(("service_code", b"sanitation"), ("description", b"caf\xe9")), b"XyZ")
    assert found is not None and (found.field, found.message) == ("description", "not valid UTF-8")
    assert multipart_problem(_multipart(("media", b"\xff\xd8\xff\xe0"), filename="a.jpg"), b"XyZ") is None


def test_form_fields_are_read_as_utf8_raw_or_percent_encoded() -> None:
    from shared.text_checks import form_fields

    body = "description=小区门口 🚮&address_string=%E5%8C%97%E9%99%A2%E9%97%A8&lat=34.27&lat=34.28&empty=&flag".encode()
    assert form_fields(body) == {
        "description": "小区门口 🚮",
        "address_string": "北院门",
        "lat": "34.28",
        "empty": "",
        "flag": "",
    }
    assert form_fields(b"a+b=c+d%2B") == {"a b": "c d+"}
