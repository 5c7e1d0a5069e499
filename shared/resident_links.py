"""The rating link of the outcome SMS: a signed token (an HS256 JWT) naming the case, with its own id and an expiry.

notify signs it when the result is verified; intake checks it when the resident rates. Its expiry is the earlier of
the configured life and the case's follow-up window; that it works once is the database's (rating_links_used).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import jwt

from shared.errors import Gone, NotFound
from shared.settings import ResidentSettings

ALGORITHM = "HS256"
AUDIENCE = "griddispatch-rating"  # never confused with a person's access token, whatever the key


class RatingLinkExpired(Gone):
    code = "rating_link_expired"


class RatingLinkForged(NotFound):
    """Not a link we signed (or damaged in copying): answered like a case that does not exist."""

    code = "rating_link_not_found"


@dataclass(frozen=True, slots=True)
class RatingClaim:
    case_id: uuid.UUID
    token_id: uuid.UUID
    expires_at: datetime


async def link_key(conn: asyncpg.Connection | asyncpg.Pool, settings: ResidentSettings) -> bytes:
    """The configured secret, else the one kept in the database (made by the first process that asks)."""
    if settings.link_secret is not None:
        return settings.link_secret.get_secret_value().encode()
    await conn.execute(
        "INSERT INTO rating_link_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", secrets.token_bytes(32)
    )
    secret: bytes = await conn.fetchval("SELECT secret FROM rating_link_key WHERE id = 1")
    return secret


def expiry(now: datetime, settings: ResidentSettings, follow_up_due: datetime | None) -> datetime:
    """The link's life, cut at the follow-up window's end (after it the case closes without a rating)."""
    until = now + timedelta(days=settings.link_days)
    return min(until, follow_up_due) if follow_up_due is not None else until


def mint(key: bytes, case_id: uuid.UUID | str, expires_at: datetime, now: datetime) -> str:
    claims = {
        "aud": AUDIENCE,
        "sub": str(case_id),
        "jti": str(uuid.uuid4()),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read(key: bytes, token: str, now: datetime) -> RatingClaim:
    """The claim of a link we signed; RatingLinkExpired past its expiry, RatingLinkForged for anything else."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "jti", "aud"], "verify_exp": False},
        )
        case_id, token_id = uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["jti"]))
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise RatingLinkForged("no such rating link") from exc
    # the signature is checked first: an expired answer is only given for a link we did sign
    if now >= expires_at:
        raise RatingLinkExpired("this rating link has expired", expired_at=expires_at.isoformat())
    return RatingClaim(case_id, token_id, expires_at)


def page_url(settings: ResidentSettings, intake_url: str) -> str:
    """Where the SMS sends the resident: the rate page, the token after #t= (a fragment never reaches a log)."""
    return settings.rate_page_url or f"{intake_url.rstrip('/')}/resident/rate/"


def link(base: str, token: str) -> str:
    return f"{base}#t={token}"
