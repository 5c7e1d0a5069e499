"""The CloudEvents envelope: one serializer, typed data, and decode failures that say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidInput
from shared.events import EventType, decode, encode, new_event
from shared.events.types import ActionRequested, Actor, Location, ReportSubmitted


def _report(**overrides: object) -> ReportSubmitted:
    fields: dict[str, object] = {
        "case_id": "c-1",
        "case_number": "LH20261122000001",
        "source": "hotline",
        "title": "井盖缺失",
        "location": Location(address="莲湖区北院门街道西关社区3号楼"),
        "received_at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return ReportSubmitted(**fields)  # type: ignore[arg-type]


def test_envelope_has_the_cloudevents_attributes_and_case_id_key() -> None:
    event = new_event(_report(), source="/griddispatch/intake", subject="c-1")
    encoded = encode(event)
    body = json.loads(encoded.value)
    assert body["specversion"] == "1.0"
    assert body["type"] == EventType.REPORT_SUBMITTED.value
    assert body["subject"] == "c-1" and encoded.key == b"c-1"
    assert body["datacontenttype"] == "application/json"
    assert body["data"]["title"] == "井盖缺失"  # Chinese text stays readable, not escaped
    assert "井盖缺失".encode() in encoded.value
    assert encoded.headers == [("content-type", b"application/cloudevents+json")]  # structured mode alone
    assert body["dataschema"].endswith(f"/v1/schemas/events/{EventType.REPORT_SUBMITTED.value}.json")


def test_round_trip_restores_typed_data() -> None:
    action = ActionRequested(case_id="c-9", action="return", actor=Actor(id="u1", role="assignee"), text="非本辖区")
    event = new_event(action, source="/tests", subject="c-9")
    decoded = decode(encode(event).value)
    assert decoded == event
    assert isinstance(decoded.data, ActionRequested)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not_json"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"type": "cn.example.unknown"}', "unknown_type"),
        (b'{"type": "cn.griddispatch.report.submitted.v1", "id": "x"}', "invalid_event"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode(raw)
    assert caught.value.detail["reason"] == reason


def test_invalid_event_names_the_offending_fields() -> None:
    body = json.loads(encode(new_event(_report(), source="/t", subject="c-1")).value)
    body["data"]["households_affected"] = -3
    del body["time"]
    with pytest.raises(InvalidInput) as caught:
        decode(json.dumps(body).encode())
    assert set(caught.value.detail["fields"]) == {"time", "data.households_affected"}


def test_naive_time_is_refused() -> None:
    body = json.loads(encode(new_event(_report(), source="/t", subject="c-1")).value)
    body["time"] = "2026-11-22T09:30:00"
    with pytest.raises(InvalidInput):
        decode(json.dumps(body).encode())


def test_unknown_payload_fields_are_refused_at_the_producer() -> None:
    with pytest.raises(ValueError, match="extra"):
        _report(titel="typo")


@given(title=st.text(min_size=1, max_size=200), households=st.integers(min_value=0, max_value=10_000))
def test_any_valid_report_survives_the_round_trip(title: str, households: int) -> None:
    event = new_event(_report(title=title, households_affected=households), source="/t", subject="c-1")
    assert decode(encode(event).value) == event


def test_hostile_nesting_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode(b"[" * 300_000)
    assert caught.value.detail["reason"] == "not_json"
