"""The SMS gateway's request headers: the key only when one is configured."""

from __future__ import annotations

import httpx

from services.notify.channels.base import Message
from services.notify.channels.sms_http import HttpSmsGateway

MESSAGE = Message(1, "evt-1", "13800000000", "【已办结】…".encode())
URL = "http://sms.local/send"


async def test_a_gateway_without_a_key_sends_no_key_header() -> None:
    # "Authorization: Bearer " (trailing blank) is not a valid header value: h11 refused it and every SMS failed
    async with httpx.AsyncClient() as http:
        headers = HttpSmsGateway(http, URL, "").headers_for(MESSAGE)
    assert "authorization" not in headers and headers["idempotency-key"] == "evt-1"


async def test_a_gateway_with_a_key_sends_it_in_the_configured_header() -> None:
    async with httpx.AsyncClient() as http:
        assert HttpSmsGateway(http, URL, "k1").headers_for(MESSAGE)["authorization"] == "Bearer k1"
        plain = HttpSmsGateway(http, URL, "k2", key_header="X-Api-Key", key_prefix="")
        assert plain.headers_for(MESSAGE)["x-api-key"] == "k2"
