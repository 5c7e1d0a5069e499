"""CloudEvents 1.0 structured-mode JSON, keyed by case id so one case's events stay in order.

The Kafka binding's structured mode, and only it: the one binding header is `content-type:
application/cloudevents+json`, and no `ce_` header is written (a `ce_` header tells the CloudEvents SDKs'
auto-detecting readers that the message is in binary mode, whose value is `data` alone). Every event names the
published JSON Schema of its `data` in `dataschema` (shared/events/schemas.py). An event built inside a trace
carries the CloudEvents distributed-tracing extension (`traceparent`, `tracestate`), repeated as Kafka headers of
the same names (shared/tracing.py).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import InvalidInput
from shared.events.schemas import dataschema_of
from shared.events.types import EVENT_TYPES, Contract, EventType
from shared.tracing import FIELDS as TRACE_FIELDS
from shared.tracing import current_fields

D = TypeVar("D", bound=Contract)

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel, Generic[D]):
    """The CloudEvents 1.0 envelope; `subject` is the case id and the Kafka key."""

    model_config = ConfigDict(frozen=True, extra="allow")  # CloudEvents allows extension attributes

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: EventType
    subject: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(None, min_length=1, description="the URL of the JSON Schema `data` adheres to")
    data: D

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a time zone (RFC 3339)")
        return value


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@functools.cache
def envelope_of(data_type: type[Contract]) -> Any:
    """The envelope parametrised with a contract, made once (pydantic's generic lookup costs each time)."""
    return CloudEvent[data_type]  # type: ignore[valid-type]


def new_event(
    data: D, *, source: str, subject: str, event_id: str | None = None, time: datetime | None = None
) -> CloudEvent[D]:
    """Wrap typed data in an envelope; the event type follows from the data's model, the trace context (if
    any) from where it is built."""
    model: Any = envelope_of(type(data))
    event_type = _type_of(data)
    event: CloudEvent[D] = model(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=time or datetime.now(UTC),
        dataschema=dataschema_of(event_type),
        data=data,
        **current_fields(),
    )
    return event


def trusted_event(
    data: D, *, source: str, subject: str, event_id: str, time: datetime, trace: Mapping[str, str] | None = None
) -> CloudEvent[D]:
    """`new_event` for data a service built itself from values it has already checked (dispatch's announcements):
    the same envelope, without validating it again (a third of what announcing a case cost). `trace`: the
    context of what caused it (shared.tracing.consuming)."""
    model: Any = envelope_of(type(data))
    event_type = _type_of(data)
    event: CloudEvent[D] = model.model_construct(
        id=event_id,
        source=source,
        type=event_type,
        subject=subject,
        time=time,
        dataschema=dataschema_of(event_type),
        data=data,
        **(trace or {}),
    )
    return event


def encode(event: CloudEvent[Any]) -> EncodedEvent:
    extra = event.model_extra or {}
    return EncodedEvent(
        key=event.subject.encode(),
        value=event.model_dump_json().encode(),
        headers=[
            ("content-type", CONTENT_TYPE.encode()),
            *((name, str(extra[name]).encode()) for name in TRACE_FIELDS if extra.get(name)),
        ],
    )


_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
_DATA_MEMBERS = frozenset({"data", "data_base64"})  # members of the structured JSON form, not attributes


def decode(value: bytes | None) -> CloudEvent[Any]:
    """Parse and validate one message; every failure is InvalidInput with a reason fit for a dead letter."""
    if not value:
        raise InvalidInput("empty message", reason="empty")
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"not JSON: {exc}", reason="not_json") from exc
    except RecursionError as exc:  # hostile nesting ([[[[...) must be refused, not crash the consumer
        raise InvalidInput("not JSON: nested too deeply", reason="not_json") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("a CloudEvent must be a JSON object", reason="not_an_object")
    bad_names = [str(k) for k in raw if k not in _DATA_MEMBERS and not _ATTRIBUTE_NAME.fullmatch(str(k))]
    if bad_names:  # CloudEvents 1.0: attribute names are lowercase a-z and 0-9 only, at most 20 recommended
        raise InvalidInput(
            f"attribute names must be lowercase a-z0-9, at most 20: {', '.join(bad_names)}",
            reason="invalid_attribute_name",
            fields=bad_names,
        )
    try:
        event_type = EventType(str(raw.get("type")))
    except ValueError as exc:
        raise InvalidInput(f"unknown event type {raw.get('type')!r}", reason="unknown_type") from exc
    model = EVENT_TYPES[event_type]
    try:
        return envelope_of(model).model_validate(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        fields = [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
        raise InvalidInput(
            f"invalid {event_type.value}: {exc.error_count()} error(s) at {', '.join(fields)}",
            reason="invalid_event",
            fields=fields,
        ) from exc


def _type_of(data: Contract) -> EventType:
    for event_type, model in EVENT_TYPES.items():
        if type(data) is model:
            return event_type
    raise TypeError(f"{type(data).__name__} is not a registered event payload")
