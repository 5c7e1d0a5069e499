"""The rating link's token: signed, naming the case, expiring, never past the follow-up window (pure, no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.people.tokens import ALGORITHM
from shared.resident_links import (
    AUDIENCE,
    RatingLinkExpired,
    RatingLinkForged,
    expiry,
    link,
    mint,
    page_url,
    read,
)
from shared.settings import ResidentSettings

KEY = b"k" * 32
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
CASE = uuid.UUID("9a6f2c1e-0000-4000-8000-000000000001")


def test_a_link_names_its_case_and_an_id_of_its_own() -> None:
    until = NOW + timedelta(days=7)
    first, second = mint(KEY, CASE, until, NOW), mint(KEY, CASE, until, NOW)
    claim = read(KEY, first, NOW + timedelta(days=6))
    assert claim.case_id == CASE and claim.expires_at == until
    assert read(KEY, second, NOW).token_id != claim.token_id  # each SMS's link is used up on its own


def test_past_its_expiry_a_link_is_gone() -> None:
    token = mint(KEY, CASE, NOW + timedelta(days=7), NOW)
    with pytest.raises(RatingLinkExpired) as raised:
        read(KEY, token, NOW + timedelta(days=7))
    assert raised.value.code == "rating_link_expired"


@pytest.mark.parametrize(
    "token",
    [
        mint(b"another key of 32 bytes or more!", CASE, NOW + timedelta(days=1), NOW),
        mint(KEY, CASE, NOW + timedelta(days=1), NOW)[:-3] + "abc",  # a damaged signature
        jwt.encode({"sub": str(CASE), "jti": str(uuid.uuid4()), "exp": 2**40}, KEY, algorithm="HS256"),  # no audience
        jwt.encode({"aud": "griddispatch", "sub": "u", "jti": "j", "exp": 2**40}, KEY, algorithm="HS256"),  # a person's
        jwt.encode({"aud": AUDIENCE, "sub": "not-a-uuid", "jti": str(uuid.uuid4()), "exp": 2**40}, KEY, ALGORITHM),
        "not a token at all",
    ],
)
def test_anything_we_did_not_sign_for_a_case_is_not_found(token: str) -> None:
    with pytest.raises(RatingLinkForged) as raised:
        read(KEY, token, NOW)
    assert raised.value.code == "rating_link_not_found"


def test_an_expired_forgery_is_not_told_it_expired() -> None:
    token = mint(b"another key of 32 bytes or more!", CASE, NOW - timedelta(days=1), NOW - timedelta(days=8))
    with pytest.raises(RatingLinkForged):
        read(KEY, token, NOW)


def test_the_life_is_cut_at_the_follow_up_window() -> None:
    settings = ResidentSettings(link_days=7)
    assert expiry(NOW, settings, None) == NOW + timedelta(days=7)
    assert expiry(NOW, settings, NOW + timedelta(hours=72)) == NOW + timedelta(hours=72)
    assert expiry(NOW, settings, NOW + timedelta(days=30)) == NOW + timedelta(days=7)


def test_the_link_goes_to_the_rate_page_with_the_token_in_the_fragment() -> None:
    assert page_url(ResidentSettings(), "https://intake.example/") == "https://intake.example/resident/rate/"
    custom = ResidentSettings(rate_page_url="https://12345.example/pj")
    assert link(page_url(custom, "http://x"), "abc") == "https://12345.example/pj#t=abc"
