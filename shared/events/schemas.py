"""The published JSON Schema of each event type's `data`, and the URL every event names it by (`dataschema`).

Generated from the pydantic models in shared/events/types.py; intake serves them at `/v1/schemas/events/<type>.json`
and `griddispatch contracts schemas` writes the same files into docs/schemas/events/. An event's `dataschema` is
that URL under intake's public address (`GRIDDISPATCH_INTAKE_PUBLIC_URL`, else where intake listens), so a consumer
of any topic can fetch the schema its `data` adheres to.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from shared.events.types import EVENT_TYPES, EventType
from shared.settings import IntakeSettings, ServiceSettings

SCHEMA_PATH = "/v1/schemas/events"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MEDIA_TYPE = "application/schema+json"


def file_name(event_type: EventType) -> str:
    return f"{event_type.value}.json"


@functools.cache
def public_base() -> str:
    """Where intake is reached from outside (read once per process from the environment)."""
    service = ServiceSettings()
    return (IntakeSettings().public_url or f"http://{service.host}:{service.intake_port}").rstrip("/")


def dataschema_of(event_type: EventType, base: str | None = None) -> str:
    """The absolute URL of the schema an event of this type names in its `dataschema` attribute."""
    return f"{base or public_base()}{SCHEMA_PATH}/{file_name(event_type)}"


def data_schema(event_type: EventType, base: str | None = None) -> dict[str, Any]:
    """The JSON Schema (2020-12) of `data` in an event of this type, self-contained (its models under `$defs`);
    with `base`, its `$id` is the URL it is served at there (the copy in docs/ has none)."""
    schema: dict[str, Any] = EVENT_TYPES[event_type].model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **({"$id": dataschema_of(event_type, base)} if base else {}),
        **schema,
        "description": f"`data` of a CloudEvent of type `{event_type.value}`. {schema.get('description', '')}".strip(),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
