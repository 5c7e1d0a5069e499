"""Every event names a published JSON Schema of its data, and the official CloudEvents SDK reads what encode() writes.

The SDK (`cloudevents`, sdk-python) auto-detects the Kafka binding's mode from the headers: any `ce_` header means
binary mode. encode() writes structured mode, so it must write none; these tests read each event type's example
(the one docs/asyncapi.yaml shows) through the SDK's auto-detecting reader, as a department's consumer would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from jsonschema import Draft202012Validator

from griddispatch.asyncapi import example_events
from shared.events import EVENT_TYPES, EventType, encode
from shared.events.schemas import SCHEMA_PATH, data_schema, dataschema_of, file_name, render
from shared.settings import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "schemas" / "events"


def published(event_type: EventType) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DOCS / file_name(event_type)).read_text(encoding="utf-8"))
    return schema


def test_docs_hold_one_current_schema_per_event_type() -> None:
    """docs/schemas/events/ is what `griddispatch contracts schemas` writes from the models today, and nothing else."""
    assert sorted(p.name for p in DOCS.glob("*.json")) == sorted(file_name(t) for t in EVENT_TYPES)
    for event_type in EVENT_TYPES:
        stale = (DOCS / file_name(event_type)).read_text(encoding="utf-8") != render(data_schema(event_type))
        assert not stale, f"{event_type.value}: run `griddispatch contracts schemas`"


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_the_sdk_reads_each_event_type_and_its_data_matches_the_published_schema(event_type: EventType) -> None:
    event = example_events()[event_type]
    encoded = encode(event)
    message = KafkaMessage(headers=dict(encoded.headers), key=encoded.key, value=encoded.value)
    read = from_kafka_event(message)  # mode auto-detected from the headers
    attributes = read.get_attributes()
    assert attributes["specversion"] == "1.0"
    assert attributes["id"] == event.id and attributes["type"] == event_type.value
    assert attributes["source"] == event.source and attributes["subject"] == event.subject
    assert attributes["dataschema"] == dataschema_of(event_type)
    assert attributes["dataschema"].endswith(f"{SCHEMA_PATH}/{event_type.value}.json")
    data = read.get_data()
    assert data == json.loads(encoded.value)["data"]  # the SDK took `data`, not the whole envelope
    assert not list(Draft202012Validator(published(event_type)).iter_errors(data))


def test_a_data_object_that_breaks_its_contract_fails_the_published_schema() -> None:
    schema = published(EventType.CASE_CHANGED)
    good: dict[str, Any] = json.loads(encode(example_events()[EventType.CASE_CHANGED]).value)["data"]
    assert Draft202012Validator(schema).is_valid(good)
    assert not Draft202012Validator(schema).is_valid({**good, "undeclared": 1})  # the models forbid extra fields
    missing = {k: v for k, v in good.items() if k != "case_id"}
    assert not Draft202012Validator(schema).is_valid(missing)


def test_a_binary_mode_header_would_mislead_the_sdk() -> None:
    """Why encode() writes no `ce_` header: the SDK would take the message for binary mode and the whole envelope
    for `data`."""
    encoded = encode(example_events()[EventType.CASE_CHANGED])
    misled = KafkaMessage(
        headers={**dict(encoded.headers), "ce_specversion": b"1.0", "ce_id": b"x", "ce_type": b"t", "ce_source": b"/s"},
        key=encoded.key,
        value=encoded.value,
    )
    assert from_kafka_event(misled).get_data() != json.loads(encoded.value)["data"]
