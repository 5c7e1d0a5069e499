"""Access tokens and the lockout rule, pure: every refusal has its own code, and the lockout counts as documented."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.people.credentials import after_failure
from shared.people.sessions import TokenPair
from shared.people.tokens import TokenExpired, TokenInvalid, TokenKey, TokenWrongIssuer, issue, read

KEY = TokenKey(secret=b"k" * 32, issuer="griddispatch", audience="griddispatch")
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
LIFE = timedelta(minutes=15)


def test_a_token_reads_back_as_its_person_and_session() -> None:
    session = uuid.uuid4()
    claims = read(KEY, issue(KEY, "p-1", session, now=NOW, lifetime=LIFE), now=NOW + LIFE - timedelta(seconds=1))
    assert (claims.person_id, claims.session_id, claims.expires_at) == ("p-1", session, NOW + LIFE)


def test_a_token_expires_at_its_exp() -> None:
    token = issue(KEY, "p-1", uuid.uuid4(), now=NOW, lifetime=LIFE)
    with pytest.raises(TokenExpired):
        read(KEY, token, now=NOW + LIFE)


def test_another_issuer_or_audience_is_told_apart_from_another_key() -> None:
    token = issue(KEY, "p-1", uuid.uuid4(), now=NOW, lifetime=LIFE)
    for other in (TokenKey(KEY.secret, "elsewhere", KEY.audience), TokenKey(KEY.secret, KEY.issuer, "billing")):
        with pytest.raises(TokenWrongIssuer):
            read(other, token, now=NOW)
    with pytest.raises(TokenInvalid):
        read(TokenKey(b"x" * 32, KEY.issuer, KEY.audience), token, now=NOW)


@given(st.text(max_size=300))
def test_any_garbage_is_token_invalid_and_never_echoed(garbage: str) -> None:
    with pytest.raises(TokenInvalid) as refused:
        read(KEY, garbage, now=NOW)
    assert len(garbage) < 8 or garbage not in refused.value.message


def test_a_token_without_a_session_claim_is_invalid() -> None:
    claims = {"iss": KEY.issuer, "aud": KEY.audience, "sub": "p-1", "iat": 1, "exp": 2**40, "jti": "j"}
    with pytest.raises(TokenInvalid):
        read(KEY, jwt.encode(claims, KEY.secret, algorithm="HS256"), now=NOW)
    with pytest.raises(TokenInvalid):
        read(KEY, jwt.encode({**claims, "sid": "not-a-uuid"}, KEY.secret, algorithm="HS256"), now=NOW)


def test_secrets_stay_out_of_reprs() -> None:
    assert "k" * 8 not in repr(KEY)
    pair = TokenPair("eyJaccess", "gdr_refresh", 900, "s-1")
    assert "eyJaccess" not in repr(pair) and "gdr_refresh" not in repr(pair)


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_the_failure_that_reaches_the_limit_locks_and_starts_the_count_again(limit: int, before: int) -> None:
    before = before % limit  # a stored count is always below the limit
    outcome = after_failure(before, NOW, lock_after=limit, lock_for=timedelta(minutes=15))
    if before + 1 >= limit:
        assert (outcome.failed_sign_ins, outcome.locked_until) == (0, NOW + timedelta(minutes=15))
    else:
        assert (outcome.failed_sign_ins, outcome.locked_until) == (before + 1, None)
