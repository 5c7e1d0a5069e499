"""sign/verify as a receiver uses them, and the pure pieces of HTTP classification (status, Retry-After)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from services.notify.channels.base import Result
from services.notify.channels.http_post import classify_status, parse_retry_after
from services.notify.channels.smtp import classify_reply, message_id
from services.notify.channels.webhook import new_secret, sign, verify

T = 1_800_000_000
BODY = b'{"id":"e1","data":{"title":"\xe8\xb7\xaf\xe7\x81\xaf"}}'
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
MSG = "e1"


def test_the_signature_is_base64_hmac_sha256_over_id_dot_timestamp_dot_body() -> None:
    mac = hmac.new(b"k" * 32, f"{MSG}.{T}.".encode() + BODY, hashlib.sha256).digest()
    assert sign(SECRET, MSG, T, BODY) == "v1," + base64.b64encode(mac).decode()


def test_generated_secrets_are_whsec_and_valid_base64_of_32_bytes() -> None:
    for _ in range(500):
        secret = new_secret()
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "signature"),
    [
        (None, str(T), None),
        (MSG, str(T), ""),
        (MSG, str(T), "garbage"),
        (MSG, None, "v1," + "A" * 43 + "="),  # no timestamp
        (None, str(T), "v1," + "A" * 43 + "="),  # no id
        (MSG, f"+{T}", "v1," + "A" * 43 + "="),
        (MSG, "١٢٣", "v1," + "A" * 43 + "="),  # non-ASCII digits
        (MSG, str(T), "v1,签名"),  # non-ASCII signature must not raise
        (MSG, str(T), "v0," + "A" * 43 + "="),
        ("签", str(T), "v1," + "A" * 43 + "="),
    ],
)
def test_malformed_headers_never_verify_and_never_raise(
    msg_id: str | None, timestamp: str | None, signature: str | None
) -> None:
    assert verify(msg_id, timestamp, signature, SECRET, BODY, now=T) is False


def test_tolerance_both_ways() -> None:
    header = sign(SECRET, MSG, T, BODY)
    assert verify(MSG, str(T), header, SECRET, BODY, now=T + 300)
    assert not verify(MSG, str(T), header, SECRET, BODY, now=T + 301)
    assert verify(MSG, str(T), header, SECRET, BODY, now=T - 300)
    assert not verify(MSG, str(T), header, SECRET, BODY, now=T - 301)  # a timestamp from the future is refused


def test_the_id_is_signed() -> None:
    assert not verify("e2", str(T), sign(SECRET, MSG, T, BODY), SECRET, BODY, now=T)


def test_empty_secrets_are_ignored() -> None:
    assert not verify(MSG, str(T), sign("", MSG, T, BODY), ["", ""], BODY, now=T)


def test_rotation_signs_with_both_space_separated_and_either_verifies() -> None:
    old = new_secret()
    header = sign([SECRET, old], MSG, T, BODY)
    assert header.count("v1,") == 2 and len(header.split(" ")) == 2
    assert verify(MSG, str(T), header, old, BODY, now=T) and verify(MSG, str(T), header, SECRET, BODY, now=T)
    assert not verify(MSG, str(T), header, new_secret(), BODY, now=T)


@given(st.binary(max_size=256), st.integers(0, 10**11))
def test_sign_then_verify_round_trips_and_the_package_agrees(body: bytes, timestamp: int) -> None:
    secret = new_secret()
    header = sign(secret, MSG, timestamp, body)
    assert verify(MSG, str(timestamp), header, [secret, "other"], body, now=timestamp)
    assert not verify(MSG, str(timestamp), header, new_secret(), body, now=timestamp)
    wh = standardwebhooks.Webhook(secret)
    expected = wh.sign(MSG, datetime.fromtimestamp(timestamp, tz=UTC), body.decode("utf-8", "replace"))
    if body == body.decode("utf-8", "replace").encode():
        assert expected == header  # the package signs the same bytes the same way


@pytest.mark.parametrize(
    ("status", "result"),
    [(200, Result.DELIVERED), (202, Result.DELIVERED), (299, Result.DELIVERED), (301, Result.FAILED),
     (304, Result.FAILED), (400, Result.FAILED), (401, Result.FAILED), (404, Result.FAILED), (408, Result.RETRY),
     (409, Result.FAILED), (413, Result.FAILED), (429, Result.RETRY), (500, Result.RETRY), (502, Result.RETRY),
     (503, Result.RETRY), (599, Result.RETRY)],
)  # fmt: skip
def test_http_status_classification(status: int, result: Result) -> None:
    assert classify_status(status) is result


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("Mon, 23 Nov 2026 08:02:00 GMT", now) == 120.0
    assert parse_retry_after(format_datetime(datetime(2026, 11, 23, 7, 0, tzinfo=UTC), usegmt=True), now) == 0.0
    for bad in (None, "", "-5", "soon", "Mon, 99 Nov 2026 08:02:00 GMT"):
        assert parse_retry_after(bad, now) is None


@pytest.mark.parametrize(
    ("code", "result"), [(250, Result.DELIVERED), (421, Result.RETRY), (451, Result.RETRY), (550, Result.FAILED),
                         (554, Result.FAILED), (-1, Result.RETRY)],
)  # fmt: skip
def test_smtp_reply_classification(code: int, result: Result) -> None:
    assert classify_reply(code) is result


def test_message_ids_are_stable_and_well_formed() -> None:
    assert message_id("e-1", 5, "网格通知 <notify@district.example>") == "<e-1.5@district.example>"
    odd = message_id("a b<>@c", 5, "no address")
    assert odd == message_id("a b<>@c", 5, "no address") and odd.endswith(".5@griddispatch.invalid>")
    assert " " not in odd and odd.count("@") == 1
