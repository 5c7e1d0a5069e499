"""Webhooks: the CloudEvent JSON POSTed to a subscriber's URL, signed per Standard Webhooks (standardwebhooks.com).

Every post carries

    webhook-id: <event id>            (the same on every retry: the receiver's idempotency key)
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, b"<id>.<timestamp>." + body)>

where key is the base64-decoded part of the subscription's `whsec_<base64>` secret. During a secret rotation the
header carries one `v1,` signature per valid secret, space-separated; any match verifies. The `standardwebhooks`
package verifies these posts unchanged; `sign` and `verify` below are pure (standard library only) for receivers
that would rather copy them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _secrets
import time
from collections.abc import Sequence

import httpx

from services.notify.channels import http_post
from services.notify.channels.base import Message, Outcome, Result

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNED_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would also take "+1", " 1" or "١"
_BASE64_DIGEST = re.compile(r"[A-Za-z0-9+/]{43}=")  # compare_digest refuses non-ASCII text, so anything else is dropped


def new_secret() -> str:
    """A fresh signing secret: whsec_ and the standard base64 of 32 random bytes (always valid for the spec)."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key of a secret: its base64 part decoded; a pre-standard secret (not base64) keys as its bytes."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def digest(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Base64 HMAC-SHA256 under the secret's key of the id, a dot, the timestamp, a dot, and the raw body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key_of(secret), signed, hashlib.sha256).digest()).decode()


def sign(secret: str | Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature value: `v1,<base64>`, one per secret, space-separated."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    return " ".join(f"v1,{digest(s, msg_id, timestamp, body)}" for s in keys)


def verify(
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    secret_or_secrets: str | Sequence[str],
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when a v1 signature matches id, timestamp and body under any secret and the timestamp is fresh."""
    if not msg_id or not timestamp or not _TIMESTAMP.fullmatch(timestamp) or not signature:
        return False
    t = int(timestamp)
    if abs(now - t) > tolerance_s:  # too old is a replay; too far ahead is a forged or broken clock
        return False
    given = [v for k, _, v in (item.partition(",") for item in signature.split()) if k == "v1"]
    given = [v for v in given if _BASE64_DIGEST.fullmatch(v)]
    keys = [secret_or_secrets] if isinstance(secret_or_secrets, str) else list(secret_or_secrets)
    try:
        expected = [digest(s, msg_id, t, body) for s in keys if s]
    except UnicodeEncodeError:  # an id that is not text we could have sent
        return False
    # every pair is compared, without stopping early, so timing does not tell which secret matched
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]
    return any(matches)


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
        for name in SIGNED_HEADERS:
            headers.pop(name, None)
        if message.secret:  # a subscription without a secret gets unsigned posts rather than none
            keys = [s for s in (message.secret, message.previous_secret) if s]
            headers[ID_HEADER] = message.event_id
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(keys, message.event_id, timestamp, message.body)
        return headers
