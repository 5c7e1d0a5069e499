"""Events on Kafka: the CloudEvents 1.0 JSON envelope, the typed data of each event type, one serializer."""

from shared.events.envelope import CloudEvent, EncodedEvent, decode, encode, new_event
from shared.events.types import EVENT_TYPES, EventType

__all__ = ["EVENT_TYPES", "CloudEvent", "EncodedEvent", "EventType", "decode", "encode", "new_event"]
