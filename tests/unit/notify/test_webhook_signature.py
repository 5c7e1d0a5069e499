"""sign/verify as a receiver uses them, and the pure pieces of HTTP classification (status, Retry-After)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.channels.base import Result
from services.notify.channels.http_post import classify_status, parse_retry_after
from services.notify.channels.smtp import classify_reply, message_id
from services.notify.channels.webhook import sign, verify

T = 1_800_000_000
BODY = b'{"id":"e1","data":{"title":"\xe8\xb7\xaf\xe7\x81\xaf"}}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", T, BODY) == f"t={T},v1={expected}"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"v1={'0' * 64}",  # no timestamp
        f"t={T}",  # no signature
        f"t={T},t={T},v1={'0' * 64}",  # two timestamps
        f"t=+{T},v1={'0' * 64}",
        f"t=١٢٣,v1={'0' * 64}",  # non-ASCII digits
        f"t={T},v1=签名",  # non-ASCII signature must not raise
        f"t={T},v0={'0' * 64}",
    ],
)
def test_malformed_headers_never_verify_and_never_raise(header: str | None) -> None:
    assert verify(header, "s3cret", BODY, now=T) is False


def test_tolerance_both_ways_and_spaces_after_commas() -> None:
    header = sign("s3cret", T, BODY).replace(",", ", ")
    assert verify(header, "s3cret", BODY, now=T + 300)
    assert not verify(header, "s3cret", BODY, now=T + 301)
    assert verify(header, "s3cret", BODY, now=T - 300)
    assert not verify(header, "s3cret", BODY, now=T - 301)  # a timestamp from the future is refused as well


def test_empty_secrets_are_ignored() -> None:
    assert not verify(sign("", T, BODY), ["", ""], BODY, now=T)


@given(st.binary(max_size=256), st.text(min_size=1, max_size=40), st.integers(0, 10**11))
def test_sign_then_verify_round_trips(body: bytes, secret: str, timestamp: int) -> None:
    assert verify(sign(secret, timestamp, body), [secret, "other"], body, now=timestamp)
    assert not verify(sign(secret, timestamp, body), secret + "x", body, now=timestamp)


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
