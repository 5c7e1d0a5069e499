"""Webhooks: the CloudEvent JSON POSTed to a subscriber's URL, signed, with the event id as idempotency key.

The signature (Stripe-style) is the header

    X-Griddispatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, b"<t>." + body)>

A receiver recomputes the HMAC over the raw body it got, compares in constant time, and refuses a timestamp
older than its tolerance (replay). During a secret rotation the header may carry several `v1=` entries and a
receiver may hold several secrets: any match verifies. `sign` and `verify` below are pure and stand alone
(standard library only) so receivers can copy them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

import httpx

from services.notify.channels import http_post
from services.notify.channels.base import Message, Outcome, Result

SIGNATURE_HEADER = "X-Griddispatch-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_TOLERANCE_S = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would also take "+1", " 1" or "١"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")  # compare_digest refuses non-ASCII text, so anything else is dropped


def digest(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 under secret of the timestamp, a dot, and the raw body."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header's value, t=<timestamp>,v1=<hex>; one v1 per secret when given several."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return ",".join([f"t={timestamp}", *(f"v1={digest(s, timestamp, body)}" for s in secrets)])


def verify(
    header: str | None,
    secret_or_secrets: str | Sequence[str],
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when a v1 signature in header matches body under any of the secrets and t is within tolerance of now."""
    parsed = _parse(header or "")
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs(now - timestamp) > tolerance_s:  # too old is a replay; too far ahead is a forged or broken clock
        return False
    secrets = [secret_or_secrets] if isinstance(secret_or_secrets, str) else list(secret_or_secrets)
    expected = [digest(s, timestamp, body) for s in secrets if s]
    # every pair is compared, without stopping early, so timing does not tell which secret matched
    matches = [hmac.compare_digest(e, s) for e in expected for s in signatures]
    return any(matches)


def _parse(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and v1 signatures of a header; None when it has no single valid t or no v1."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and _HEX_DIGEST.fullmatch(value):
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not signatures:
        return None
    return int(timestamps[0]), signatures


class WebhookChannel:
    """POSTs a message's CloudEvent JSON to its target URL, once, and classifies the answer."""

    name = "webhook"

    def __init__(
        self, client: httpx.AsyncClient, timeout_s: float = 5.0, *, clock: http_post.Clock = time.time
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.clock = clock

    async def send(self, message: Message) -> Outcome:
        """One attempt; see http_post for how each answer is classified."""
        try:
            headers = self.headers_for(message, int(self.clock()))
        except ValueError as exc:  # a header value that is not ASCII: no retry can send it
            return Outcome(Result.FAILED, error=f"cannot build the request: {exc}")
        return await http_post.post(
            self.client, message.target, message.body, headers, timeout_s=self.timeout_s, clock=self.clock
        )

    @staticmethod
    def headers_for(message: Message, timestamp: int) -> httpx.Headers:
        """The subscription's own headers, then ours, which win (case-insensitively) so none can be spoofed."""
        headers = httpx.Headers(message.headers)
        headers["Content-Type"] = CONTENT_TYPE
        headers["User-Agent"] = http_post.USER_AGENT
        headers[IDEMPOTENCY_HEADER] = message.event_id
        if message.secret:  # a subscription without a secret gets unsigned posts rather than none
            secrets = [s for s in (message.secret, message.previous_secret) if s]
            headers[SIGNATURE_HEADER] = sign(secrets, timestamp, message.body)
        else:
            headers.pop(SIGNATURE_HEADER, None)
        return headers
