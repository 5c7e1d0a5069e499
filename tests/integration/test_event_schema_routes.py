"""The events' published data schemas over HTTP (GET /v1/schemas/events[/<type>.json]): public, one per event type,
each the document the type's `dataschema` names, and a clear 404 for a type that does not exist."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from shared.events import EVENT_TYPES
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra


async def test_every_event_type_lists_a_schema_that_is_served_without_a_key(intake: IntakeUnderTest) -> None:
    listed = await intake.http.get("/v1/schemas/events")
    assert listed.status_code == 200, listed.text
    links = {link["type"]: link["url"] for link in listed.json()}
    assert set(links) == {t.value for t in EVENT_TYPES}
    for event_type, url in links.items():
        assert url.endswith(f"/v1/schemas/events/{event_type}.json")
        answer = await intake.http.get(f"/v1/schemas/events/{event_type}.json")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/schema+json")
        schema = answer.json()
        assert schema["$id"] == url and schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)  # a valid JSON Schema document, not just JSON


async def test_an_unknown_event_type_is_a_404_naming_it(intake: IntakeUnderTest) -> None:
    answer = await intake.http.get("/v1/schemas/events/cn.griddispatch.unknown.v1.json")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"].endswith("/unknown_event_type") and "cn.griddispatch.unknown.v1" in body["detail"]
