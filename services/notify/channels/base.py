"""What every delivery channel (webhook, SMS gateway, e-mail) takes and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Result(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # timeouts, connection errors, 429, 5xx: try again later
    FAILED = "failed"  # the receiver refused for good (other 4xx): no retry, straight to the dead-letter list


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery: the event(s) it carries and who it goes to."""

    delivery_id: int
    event_id: str  # the idempotency key receivers dedupe on (for a grouped message: the first event's id)
    target: str  # URL, phone number or e-mail address
    body: bytes  # webhook: the CloudEvent JSON; SMS/e-mail: rendered text (UTF-8)
    subject: str = ""  # e-mail subject
    secret: str | None = None  # webhook signing secret
    previous_secret: str | None = None  # during a rotation the post is signed with both
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    status_code: int | None = None
    latency_ms: int = 0
    error: str | None = None
    retry_after_s: float | None = None  # the receiver's own Retry-After, honoured


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> Outcome: ...
