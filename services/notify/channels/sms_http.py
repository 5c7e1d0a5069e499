"""SMS through an HTTP gateway: the pluggable adapter for whichever SMS provider the district contracts.

The gateway receives `POST <url>` with JSON `{"to": phone, "text": rendered text, "id": event id}`, the API key
in a header (default `Authorization: Bearer <key>`) and `Idempotency-Key: <event id>`, and answers with an
HTTP status classified as for webhooks (2xx delivered; 408, 429, 5xx retried; other 4xx failed). A provider
whose API differs is put behind a small proxy speaking this shape, or gets an adapter of its own.
"""

from __future__ import annotations

import json
import time

import httpx

from services.notify.channels import http_post
from services.notify.channels.base import Message, Outcome


class HttpSmsGateway:
    """Sends a message's rendered text to its target phone number through an HTTP SMS gateway, once."""

    name = "sms"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        api_key: str,
        *,
        key_header: str = "Authorization",
        key_prefix: str = "Bearer ",
        timeout_s: float = 5.0,
        clock: http_post.Clock = time.time,
    ) -> None:
        self.client = client
        self.url = url
        self.timeout_s = timeout_s
        self.clock = clock
        self._key_header = key_header
        self._key_value = f"{key_prefix}{api_key}" if api_key else None  # no key: no header (not "Bearer ")

    async def send(self, message: Message) -> Outcome:
        """One attempt; see http_post for how each answer is classified."""
        body, headers = self.payload(message), self.headers_for(message)
        return await http_post.post(self.client, self.url, body, headers, timeout_s=self.timeout_s, clock=self.clock)

    @staticmethod
    def payload(message: Message) -> bytes:
        """The JSON the gateway receives; the text as UTF-8, not escaped, as most gateways count characters."""
        text = message.body.decode("utf-8", errors="replace")
        return json.dumps({"to": message.target, "text": text, "id": message.event_id}, ensure_ascii=False).encode()

    def headers_for(self, message: Message) -> httpx.Headers:
        """The key (when one is configured), the idempotency key and the content type."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": http_post.USER_AGENT,
            "Idempotency-Key": message.event_id,
        }
        if self._key_value is not None:
            headers[self._key_header] = self._key_value
        return httpx.Headers(headers)
