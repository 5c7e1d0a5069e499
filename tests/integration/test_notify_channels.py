"""Delivery channels against real local receivers on loopback: an aiohttp HTTP server and an aiosmtpd server.

Each receiver answers as a subscriber or gateway might (200, 500, 429 with Retry-After, a hang past the
timeout, a dropped connection, 400, 301, 408; SMTP 4xx and 5xx at RCPT and DATA) and records what it got, so
the tests assert both the classification and what went over the wire (idempotency key, signature, JSON).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import standardwebhooks
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from standardwebhooks.webhooks import WebhookVerificationError

from services.notify.channels.base import Channel, Message, Result
from services.notify.channels.http_post import USER_AGENT
from services.notify.channels.sms_http import HttpSmsGateway
from services.notify.channels.smtp import SmtpChannel
from services.notify.channels.webhook import SIGNATURE_HEADER, WebhookChannel, new_secret, sign, verify

SECRET = new_secret()
OLD_SECRET = new_secret()
EVENT_ID = "0b6f1a7e-4c1d-4b7e-9a57-3f5d2c1e8a90"
BODY = json.dumps(
    {"specversion": "1.0", "id": EVENT_ID, "type": "cn.griddispatch.case.assigned.v1", "data": {"title": "路灯不亮"}},
    ensure_ascii=False,
).encode()


# ---------------------------------------------------------------- the HTTP receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1 whose path names how it answers; it records every request."""

    base: str = ""
    requests: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # lets hung handlers end at teardown
    flaky_left: dict[str, int] = field(default_factory=dict)

    def got(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Received(request.path, dict(request.headers), body))
        return await self.answer(request.match_info["behaviour"], request)

    async def answer(self, behaviour: str, request: web.Request) -> web.StreamResponse:
        if behaviour == "flaky" and self.flaky_left.get("flaky", 0) > 0:
            self.flaky_left["flaky"] -= 1
            return web.Response(status=503, text="warming up")
        if behaviour == "hang":
            await self.release.wait()
        if behaviour == "drop":
            assert request.transport is not None
            request.transport.close()  # no status line at all: the client sees the connection go away
        return _CANNED.get(behaviour, lambda: web.Response(status=200, text="ok"))()


def _retry_at() -> web.Response:
    when = datetime.now(UTC) + timedelta(seconds=120)
    return web.Response(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})


_CANNED: dict[str, Callable[[], web.Response]] = {
    "ok": lambda: web.Response(status=204),
    "fail500": lambda: web.Response(status=500, text="internal error"),
    "busy429": lambda: web.Response(status=429, headers={"Retry-After": "7"}),
    "busy429date": _retry_at,
    "timeout408": lambda: web.Response(status=408),
    "bad400": lambda: web.Response(status=400, text="unknown subscription 42"),
    "gone410": lambda: web.Response(status=410),
    "moved301": lambda: web.Response(status=301, headers={"Location": "/ok"}),
}


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/{behaviour}", recv.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    recv.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield recv
    finally:
        recv.release.set()
        await runner.cleanup()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:  # no proxy from the environment on loopback
        yield client


def _message(target: str, *, secret: str | None = SECRET, **headers: str) -> Message:
    return Message(delivery_id=7, event_id=EVENT_ID, target=target, body=BODY, secret=secret, headers=headers)


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- webhooks: classification


@pytest.mark.parametrize(
    ("behaviour", "result", "status"),
    [
        ("ok", Result.DELIVERED, 204),
        ("fail500", Result.RETRY, 500),
        ("timeout408", Result.RETRY, 408),
        ("bad400", Result.FAILED, 400),
        ("gone410", Result.FAILED, 410),
        ("moved301", Result.FAILED, 301),
    ],
)
async def test_webhook_classifies_each_answer(
    receiver: Receiver, http: httpx.AsyncClient, behaviour: str, result: Result, status: int
) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/{behaviour}"))
    assert (outcome.result, outcome.status_code) == (result, status)
    assert outcome.latency_ms >= 0 and outcome.retry_after_s is None
    assert (outcome.error is None) == (result is Result.DELIVERED)


async def test_a_refusal_names_the_receivers_reason(receiver: Receiver, http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/bad400"))
    assert outcome.error == "HTTP 400: unknown subscription 42"


async def test_redirects_are_not_followed(receiver: Receiver, http: httpx.AsyncClient) -> None:
    before = len(receiver.got("/ok"))
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/moved301"))
    assert outcome.result is Result.FAILED and outcome.error is not None and "not followed" in outcome.error
    assert len(receiver.got("/ok")) == before  # the signed body never went to where the redirect pointed


async def test_429_retry_after_in_seconds_is_honoured(receiver: Receiver, http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/busy429"))
    assert (outcome.result, outcome.status_code, outcome.retry_after_s) == (Result.RETRY, 429, 7.0)


async def test_429_retry_after_as_an_http_date_is_honoured(receiver: Receiver, http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/busy429date"))
    assert outcome.result is Result.RETRY and outcome.retry_after_s is not None
    assert 115 <= outcome.retry_after_s <= 121


async def test_a_receiver_hanging_past_the_timeout_is_retried(receiver: Receiver, http: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    outcome = await WebhookChannel(http, timeout_s=0.5).send(_message(f"{receiver.base}/hang"))
    elapsed = time.perf_counter() - started
    assert outcome.result is Result.RETRY and outcome.status_code is None
    assert outcome.error == "timed out after 0.5 s"
    assert 0.45 <= elapsed < 5.0 and 450 <= outcome.latency_ms < 5000  # the receiver hangs until released


async def test_a_dropped_connection_is_retried(receiver: Receiver, http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/drop"))
    assert outcome.result is Result.RETRY and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("RemoteProtocolError")
    assert receiver.got("/drop")  # it did reach the receiver, which hung up without answering


async def test_a_refused_connection_is_retried(http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"http://127.0.0.1:{_free_port()}/ok"))
    assert outcome.result is Result.RETRY and outcome.error is not None and outcome.error.startswith("ConnectError")


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/x", "not a url", "http://"])
async def test_an_unusable_url_fails_without_retry(http: httpx.AsyncClient, target: str) -> None:
    outcome = await WebhookChannel(http).send(_message(target))
    assert outcome.result is Result.FAILED and outcome.status_code is None


async def test_a_header_that_cannot_be_sent_fails_without_retry(receiver: Receiver, http: httpx.AsyncClient) -> None:
    outcome = await WebhookChannel(http).send(_message(f"{receiver.base}/ok", **{"X-Unit": "网格"}))
    assert outcome.result is Result.FAILED and outcome.error is not None


async def test_the_channel_keeps_the_contract(http: httpx.AsyncClient) -> None:
    channels: list[Channel] = [WebhookChannel(http), HttpSmsGateway(http, "http://127.0.0.1:1/", "k"), _smtp(1)]
    assert [c.name for c in channels] == ["webhook", "sms", "email"]


# ---------------------------------------------------------------- webhooks: what the receiver gets


async def test_retries_carry_the_same_idempotency_key_and_each_verifies(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    """Attempts as the worker makes them: 503, 503, then 200; the key is the event id every time."""
    receiver.flaky_left["flaky"] = 2
    channel = WebhookChannel(http)
    outcomes = [await channel.send(_message(f"{receiver.base}/flaky")) for _ in range(3)]
    assert [o.result for o in outcomes] == [Result.RETRY, Result.RETRY, Result.DELIVERED]
    got = receiver.got("/flaky")
    assert len(got) == 3
    assert {r.headers["Idempotency-Key"] for r in got} == {EVENT_ID}
    for r in got:
        assert r.body == BODY and r.headers["webhook-id"] == EVENT_ID
        assert standardwebhooks.Webhook(SECRET).verify(r.body, dict(r.headers)) == json.loads(BODY)


async def test_the_receiver_gets_the_cloudevent_and_our_headers(receiver: Receiver, http: httpx.AsyncClient) -> None:
    own = {"X-Tenant": "district-7", "content-type": "text/plain", "idempotency-key": "spoofed"}
    await WebhookChannel(http).send(_message(f"{receiver.base}/ok", **own))
    got = receiver.got("/ok")[-1]
    assert got.body == BODY
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    assert got.headers["Idempotency-Key"] == EVENT_ID  # a subscription's headers cannot override ours
    assert got.headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("griddispatch-notify/")
    assert got.headers["X-Tenant"] == "district-7"


def _check(got: Any, now: float | None = None, tolerance_s: float = 300, *secrets: str) -> bool:
    h = got.headers
    return verify(
        h.get("webhook-id"), h.get("webhook-timestamp"), h.get(SIGNATURE_HEADER), list(secrets), got.body,
        now=time.time() if now is None else now, tolerance_s=tolerance_s,
    )  # fmt: skip


async def test_the_standardwebhooks_package_verifies_and_nothing_else_does(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    """The receiver's side with the `standardwebhooks` package, as its docs show; then ours, which agrees."""
    await WebhookChannel(http).send(_message(f"{receiver.base}/ok"))
    got = receiver.got("/ok")[-1]
    headers = dict(got.headers)
    assert headers["webhook-id"] == EVENT_ID and abs(time.time() - int(headers["webhook-timestamp"])) < 5
    assert standardwebhooks.Webhook(SECRET).verify(got.body, headers) == json.loads(BODY)
    for wrong_secret, body in [
        (OLD_SECRET, got.body),
        (SECRET, got.body.replace("路灯".encode(), "井盖".encode())),  # tampered
        (SECRET, got.body + b" "),
    ]:
        with pytest.raises(WebhookVerificationError):
            standardwebhooks.Webhook(wrong_secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # the id is signed
        standardwebhooks.Webhook(SECRET).verify(got.body, {**headers, "webhook-id": "other"})
    now = time.time()
    assert _check(got, now, 300, SECRET) and not _check(got, now, 300, OLD_SECRET)
    assert not _check(got, now + 301, 300, SECRET)  # replayed after the tolerance
    assert _check(got, now + 3600, 7200, SECRET)


async def test_an_old_timestamp_fails_verification(receiver: Receiver, http: httpx.AsyncClient) -> None:
    ten_minutes_ago = time.time() - 600
    await WebhookChannel(http, clock=lambda: ten_minutes_ago).send(_message(f"{receiver.base}/ok"))
    got = receiver.got("/ok")[-1]
    with pytest.raises(WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(got.body, dict(got.headers))
    assert _check(got, ten_minutes_ago + 1, 300, SECRET)


async def test_a_subscription_without_a_secret_gets_unsigned_posts(receiver: Receiver, http: httpx.AsyncClient) -> None:
    spoofed = {SIGNATURE_HEADER: "v1,AAAA", "webhook-id": "x", "webhook-timestamp": "1"}
    await WebhookChannel(http).send(_message(f"{receiver.base}/ok", secret=None, **spoofed))
    got = receiver.got("/ok")[-1]
    assert SIGNATURE_HEADER not in got.headers and "webhook-id" not in got.headers
    assert got.headers["Idempotency-Key"] == EVENT_ID


async def test_during_a_rotation_a_receiver_holding_either_secret_verifies(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    message = Message(
        delivery_id=9, event_id=EVENT_ID, target=f"{receiver.base}/ok", body=BODY, secret=SECRET,
        previous_secret=OLD_SECRET,
    )  # fmt: skip
    await WebhookChannel(http).send(message)
    got = receiver.got("/ok")[-1]
    assert len(got.headers[SIGNATURE_HEADER].split(" ")) == 2
    for secret in (SECRET, OLD_SECRET):
        assert standardwebhooks.Webhook(secret).verify(got.body, dict(got.headers)) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(got.body, dict(got.headers))
    assert sign([SECRET, OLD_SECRET], EVENT_ID, 1, BODY) != sign([SECRET], EVENT_ID, 1, BODY)


# ---------------------------------------------------------------- SMS gateway


async def test_sms_gateway_gets_json_with_the_key_and_the_event_id(receiver: Receiver, http: httpx.AsyncClient) -> None:
    gateway = HttpSmsGateway(http, f"{receiver.base}/ok", "sms-key-1")
    text = "【新派单】GD-20261123-0001 路灯不亮，请于11月23日 17:00前签收。"
    message = Message(delivery_id=8, event_id=EVENT_ID, target="13812345678", body=text.encode())
    outcome = await gateway.send(message)
    assert (outcome.result, outcome.status_code) == (Result.DELIVERED, 204)
    got = receiver.got("/ok")[-1]
    assert json.loads(got.body) == {"to": "13812345678", "text": text, "id": EVENT_ID}
    assert "路灯".encode() in got.body  # sent as UTF-8, not \\u escapes
    assert got.headers["Authorization"] == "Bearer sms-key-1"
    assert got.headers["Idempotency-Key"] == EVENT_ID
    assert got.headers["Content-Type"].startswith("application/json")


async def test_sms_gateway_key_in_a_header_of_its_own(receiver: Receiver, http: httpx.AsyncClient) -> None:
    gateway = HttpSmsGateway(http, f"{receiver.base}/ok", "k2", key_header="X-Api-Key", key_prefix="")
    await gateway.send(Message(delivery_id=9, event_id=EVENT_ID, target="13800000000", body=b"hi"))
    got = receiver.got("/ok")[-1]
    assert got.headers["X-Api-Key"] == "k2" and "Authorization" not in got.headers


@pytest.mark.parametrize(
    ("behaviour", "result", "retry_after"),
    [
        ("fail500", Result.RETRY, None),
        ("busy429", Result.RETRY, 7.0),
        ("bad400", Result.FAILED, None),
        ("moved301", Result.FAILED, None),
        ("drop", Result.RETRY, None),
    ],
)
async def test_sms_gateway_classifies_as_webhooks_do(
    receiver: Receiver, http: httpx.AsyncClient, behaviour: str, result: Result, retry_after: float | None
) -> None:
    gateway = HttpSmsGateway(http, f"{receiver.base}/{behaviour}", "k")
    outcome = await gateway.send(Message(delivery_id=1, event_id=EVENT_ID, target="13800000000", body=b"x"))
    assert (outcome.result, outcome.retry_after_s) == (result, retry_after)


async def test_sms_gateway_timeout_is_retried(receiver: Receiver, http: httpx.AsyncClient) -> None:
    gateway = HttpSmsGateway(http, f"{receiver.base}/hang", "k", timeout_s=0.3)
    outcome = await gateway.send(Message(delivery_id=1, event_id=EVENT_ID, target="13800000000", body=b"x"))
    assert outcome.result is Result.RETRY and outcome.error == "timed out after 0.3 s"


# ---------------------------------------------------------------- SMTP


class Mailbox:
    """An aiosmtpd handler: busy@ is refused with 451 and nobody@ with 550 at RCPT; spam@ with 554 at DATA."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try again later"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.startswith("spam@") for r in envelope.rcpt_tos):
            return "554 5.7.1 message rejected as spam"
        if any(r.startswith("full@") for r in envelope.rcpt_tos):
            return "452 4.2.2 mailbox full"
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        self.envelopes.append(envelope)
        return "250 2.0.0 queued"


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"notify", b"pw")
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="module")
async def smtpd() -> AsyncIterator[SmtpServer]:
    """aiosmtpd in the test's own loop (the channel's smtplib runs in a thread, so the loop stays free)."""
    mailbox = Mailbox()
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(mailbox, hostname="mx.test", authenticator=_authenticate, auth_require_tls=False, loop=loop)

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    try:
        yield SmtpServer(server.sockets[0].getsockname()[1], mailbox)
    finally:
        server.close()
        await server.wait_closed()


def _smtp(port: int, **kw: object) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", port, "网格通知 <notify@district.example>", timeout_s=2, **kw)  # type: ignore[arg-type]


def _mail(to: str, delivery_id: int = 11) -> Message:
    text = "【新派单】GD-20261123-0001 路灯不亮，请于11月23日 17:00前签收。\n反映人：张*，138****5678"
    return Message(delivery_id=delivery_id, event_id=EVENT_ID, target=to, body=text.encode(), subject="新派单 GD-0001")


async def test_smtp_delivers_utf8_text_with_subject_and_stable_message_id(smtpd: SmtpServer) -> None:
    channel = _smtp(smtpd.port)
    first = await channel.send(_mail("worker@district.example"))
    again = await channel.send(_mail("worker@district.example"))  # a retry of the same delivery
    assert (first.result, first.status_code, again.result) == (Result.DELIVERED, 250, Result.DELIVERED)
    assert first.latency_ms >= 0
    a, b = smtpd.mailbox.mails[-2:]
    assert a["Subject"] == "新派单 GD-0001" and a["To"] == "worker@district.example"
    assert a["Message-ID"] == b["Message-ID"] == f"<{EVENT_ID}.11@district.example>"
    assert a["X-Griddispatch-Event-Id"] == EVENT_ID and a["Auto-Submitted"] == "auto-generated"
    assert a.get_content_type() == "text/plain" and a.get_content_charset() == "utf-8"
    assert a.get_content().strip() == _mail("x").body.decode()
    assert smtpd.mailbox.envelopes[-1].mail_from == "notify@district.example"


async def test_smtp_message_ids_differ_per_delivery(smtpd: SmtpServer) -> None:
    await _smtp(smtpd.port).send(_mail("a@district.example", delivery_id=21))
    await _smtp(smtpd.port).send(_mail("b@district.example", delivery_id=22))
    ids = [m["Message-ID"] for m in smtpd.mailbox.mails[-2:]]
    assert ids == [f"<{EVENT_ID}.21@district.example>", f"<{EVENT_ID}.22@district.example>"]


async def test_smtp_logs_in_when_given_credentials(smtpd: SmtpServer) -> None:
    good = await _smtp(smtpd.port, username="notify", password="pw").send(_mail("worker@district.example"))
    bad = await _smtp(smtpd.port, username="notify", password="nope").send(_mail("worker@district.example"))
    assert good.result is Result.DELIVERED
    assert (bad.result, bad.status_code) == (Result.FAILED, 535)


@pytest.mark.parametrize(
    ("to", "result", "code"),
    [
        ("busy@district.example", Result.RETRY, 451),
        ("nobody@district.example", Result.FAILED, 550),
        ("full@district.example", Result.RETRY, 452),
        ("spam@district.example", Result.FAILED, 554),
    ],
)
async def test_smtp_classifies_4xx_as_retry_and_5xx_as_failed(
    smtpd: SmtpServer, to: str, result: Result, code: int
) -> None:
    outcome = await _smtp(smtpd.port).send(_mail(to))
    assert (outcome.result, outcome.status_code) == (result, code)
    assert outcome.error is not None and outcome.error.startswith(f"SMTP {code}: ")


async def test_smtp_refused_connection_is_retried() -> None:
    outcome = await _smtp(_free_port()).send(_mail("worker@district.example"))
    assert outcome.result is Result.RETRY and outcome.status_code is None
    assert outcome.error is not None and "ConnectionRefused" in outcome.error


@dataclass
class RawServer:
    """A TCP server on loopback that greets with a fixed line (or nothing) and then hangs up or waits."""

    greeting: bytes | None
    port: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.greeting is not None:
            writer.write(self.greeting)
            await writer.drain()
        else:
            await self.release.wait()
        writer.close()


@pytest.fixture
def raw_server() -> Iterator[list[asyncio.Server]]:
    servers: list[asyncio.Server] = []
    yield servers
    for server in servers:
        server.close()


async def _raw(greeting: bytes | None, servers: list[asyncio.Server]) -> RawServer:
    raw = RawServer(greeting)
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    servers.append(server)
    raw.port = server.sockets[0].getsockname()[1]
    return raw


@pytest.mark.parametrize(
    ("greeting", "result", "code"),
    [
        (b"421 4.3.2 too busy, come back later\r\n", Result.RETRY, 421),
        (b"554 5.7.1 you are not welcome\r\n", Result.FAILED, 554),
        (b"", Result.RETRY, None),  # accepted the connection and hung up at once
    ],
)
async def test_smtp_greeting_refusals_and_hang_ups(
    raw_server: list[asyncio.Server], greeting: bytes, result: Result, code: int | None
) -> None:
    raw = await _raw(greeting, raw_server)
    outcome = await _smtp(raw.port).send(_mail("worker@district.example"))
    assert (outcome.result, outcome.status_code) == (result, code)


async def test_smtp_server_that_never_greets_times_out_and_is_retried(raw_server: list[asyncio.Server]) -> None:
    raw = await _raw(None, raw_server)
    try:
        started = time.perf_counter()
        outcome = await SmtpChannel("127.0.0.1", raw.port, "n@d.example", timeout_s=0.5).send(_mail("w@d.example"))
        assert outcome.result is Result.RETRY and outcome.error is not None and "timed out" in outcome.error
        assert 0.45 <= time.perf_counter() - started < 3
    finally:
        raw.release.set()


async def test_smtp_starttls_not_offered_fails(smtpd: SmtpServer) -> None:
    outcome = await _smtp(smtpd.port, starttls=True).send(_mail("worker@district.example"))
    assert outcome.result is Result.FAILED and outcome.error is not None and "STARTTLS" in outcome.error


async def test_smtp_header_injection_is_refused_not_sent(smtpd: SmtpServer) -> None:
    before = len(smtpd.mailbox.mails)
    bad = Message(delivery_id=1, event_id=EVENT_ID, target="w@d.example", body=b"x", subject="a\r\nBcc: x@evil")
    outcome = await _smtp(smtpd.port).send(bad)
    assert outcome.result is Result.FAILED and len(smtpd.mailbox.mails) == before
