"""Access tokens of signed-in people: short-lived HS256 JWTs (PyJWT) naming the person (`sub`) and the session
(`sid`). Pure: no database here; whether the session is still live is checked by `shared.people.access`.

A refusal is an `Unauthenticated` with a specific code; its message never repeats the token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from shared.errors import Unauthenticated

ALGORITHM = "HS256"
_REQUIRED = ["iss", "aud", "sub", "sid", "iat", "exp", "jti"]


class TokenInvalid(Unauthenticated):
    """Not a token we signed: garbled, tampered with, signed with another key, or missing a claim."""

    code = "token_invalid"


class TokenExpired(Unauthenticated):
    code = "token_expired"


class TokenRevoked(Unauthenticated):
    """The session it belongs to was signed out or revoked (or its refresh token was reused)."""

    code = "token_revoked"


class TokenWrongIssuer(Unauthenticated):
    """Signed with our key but for another issuer or audience (another deployment sharing a secret)."""

    code = "token_wrong_issuer"


class PersonDisabled(Unauthenticated):
    code = "person_disabled"


@dataclass(frozen=True, slots=True)
class TokenKey:
    """What signs and checks access tokens: the HMAC secret, who issues them and for whom."""

    secret: bytes
    issuer: str
    audience: str

    def __repr__(self) -> str:  # never the secret, whatever prints it
        return f"TokenKey(issuer={self.issuer!r}, audience={self.audience!r})"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    person_id: str
    session_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    token_id: str


def issue(key: TokenKey, person_id: str, session_id: uuid.UUID, *, now: datetime, lifetime: timedelta) -> str:
    claims = {
        "iss": key.issuer,
        "aud": key.audience,
        "sub": person_id,
        "sid": str(session_id),
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM)


def read(key: TokenKey, token: str, *, now: datetime) -> AccessClaims:
    """The claims of a token we signed, for us, not expired at `now`; else the specific refusal."""
    try:
        # The signature and the claims' presence and types here; expiry against `now` below (an injectable clock).
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],
            audience=key.audience,
            issuer=key.issuer,
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except (jwt.InvalidIssuerError, jwt.InvalidAudienceError):
        raise TokenWrongIssuer("this token was issued for another service or by another issuer") from None
    except jwt.PyJWTError:
        raise TokenInvalid("the access token is malformed or its signature does not verify") from None
    try:
        exp, iat = int(claims["exp"]), int(claims["iat"])
        session_id = uuid.UUID(str(claims["sid"]))
        person_id = str(claims["sub"])
    except (TypeError, ValueError):
        raise TokenInvalid("the access token's claims are malformed") from None
    if exp <= now.timestamp():
        raise TokenExpired("the access token has expired: refresh it (POST /v1/auth/refresh) or sign in again")
    return AccessClaims(
        person_id=person_id,
        session_id=session_id,
        issued_at=datetime.fromtimestamp(iat, now.tzinfo),
        expires_at=datetime.fromtimestamp(exp, now.tzinfo),
        token_id=str(claims["jti"]),
    )
