"""Sign-in sessions (table person_sessions, migration 0010): starting one, rotating its refresh token, revoking it,
and the signing key of its access tokens. Every sign-in method ends in `start_session`.

A refresh token is 32 random bytes shown once; only its SHA-256 is stored (as API keys are). Each refresh
replaces it; the replaced one is kept as spent, and a spent one presented again revokes its session
(reuse detection: either the person or a thief holds a copy, and neither should go on).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg

from shared.people.credentials import audit_record
from shared.people.metrics import SIGN_INS
from shared.people.tokens import PersonDisabled, TokenInvalid, TokenKey, TokenRevoked, issue
from shared.settings import AuthSettings

REFRESH_PREFIX = "gdr_"
Method = Literal["password", "oidc"]


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a sign-in or a refresh hands the caller; `refresh_token` is never retrievable again."""

    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    session_id: str

    def __repr__(self) -> str:  # never the tokens, whatever prints it
        return f"TokenPair(session_id={self.session_id!r}, expires_in={self.expires_in})"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


async def signing_key(conn: asyncpg.Connection | asyncpg.Pool, settings: AuthSettings) -> TokenKey:
    """The configured secret, else the one kept in the database (made by the first process that asks)."""
    if settings.token_secret is not None:
        secret = settings.token_secret.get_secret_value().encode()
    else:
        await conn.execute(
            "INSERT INTO token_signing_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            secrets.token_bytes(32),
        )
        secret = await conn.fetchval("SELECT secret FROM token_signing_key WHERE id = 1")
    return TokenKey(secret=secret, issuer=settings.issuer, audience=settings.audience)


def _pair(
    key: TokenKey, settings: AuthSettings, person_id: str, session_id: uuid.UUID, refresh: str, now: datetime
) -> TokenPair:
    lifetime = timedelta(minutes=settings.access_minutes)
    access = issue(key, person_id, session_id, now=now, lifetime=lifetime)
    return TokenPair(access, refresh, int(lifetime.total_seconds()), str(session_id))


async def start_session(
    conn: asyncpg.Connection,
    person_id: str,
    *,
    method: Method,
    settings: AuthSettings,
    user_agent: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> TokenPair:
    """A new session for a person the caller has authenticated (password checked, or single sign-on done): its
    tokens, an audit row `sign_in` and the sign-in counter (outcome ok). The caller checks the person is active."""
    at = _now(now)
    session_id = uuid.uuid4()
    refresh = _new_refresh()
    await conn.execute(
        """INSERT INTO person_sessions (id, person_id, method, created_at, expires_at, last_used_at, refresh_hash,
                                        user_agent, ip)
           VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $8)""",
        session_id,
        person_id,
        method,
        at,
        at + timedelta(hours=settings.session_hours),
        _hash(refresh),
        (user_agent or "")[:300] or None,
        ip,
    )
    await audit_record(
        conn, "sign_in", person_id, f"person:{person_id}", {"method": method, "session_id": str(session_id)}
    )
    SIGN_INS.labels(method, "ok").inc()
    return _pair(await signing_key(conn, settings), settings, person_id, session_id, refresh, at)


@dataclass(frozen=True, slots=True)
class Refreshed:
    person_id: str
    tokens: TokenPair


async def refresh(
    conn: asyncpg.Connection, refresh_token: str, *, settings: AuthSettings, now: datetime | None = None
) -> Refreshed:
    """New tokens for a live session, its refresh token rotated. A spent one revokes the session (TokenRevoked);
    an unknown one is TokenInvalid; an expired or idle session is TokenRevoked with what ended it."""
    at = _now(now)
    digest = _hash(refresh_token)
    async with conn.transaction():  # a refusal below commits what it did (the revocation) before it is raised
        row = await conn.fetchrow("SELECT * FROM person_sessions WHERE refresh_hash = $1 FOR UPDATE", digest)
        refusal = await _refusal(conn, row, digest, settings, at)
        if refusal is None:
            assert row is not None
            new = _new_refresh()
            await conn.execute(
                "INSERT INTO person_session_spent_refresh (token_hash, session_id, spent_at) VALUES ($1, $2, $3)",
                digest,
                row["id"],
                at,
            )
            await conn.execute(
                """UPDATE person_sessions SET refresh_hash = $2, last_used_at = $3, refreshed = refreshed + 1
                   WHERE id = $1""",
                row["id"],
                _hash(new),
                at,
            )
    if refusal is not None:
        raise refusal
    assert row is not None
    key = await signing_key(conn, settings)
    return Refreshed(row["person_id"], _pair(key, settings, row["person_id"], row["id"], new, at))


async def _refusal(
    conn: asyncpg.Connection, row: asyncpg.Record | None, digest: str, settings: AuthSettings, at: datetime
) -> Exception | None:
    """Why this refresh token gets no new tokens (revoking on reuse or expiry), or None: it may be rotated."""
    if row is None:
        spent = await conn.fetchval("SELECT session_id FROM person_session_spent_refresh WHERE token_hash = $1", digest)
        if spent is None:
            return TokenInvalid("unknown refresh token")
        person_id = await revoke(conn, spent, reason="refresh_reuse", now=at)
        await audit_record(conn, "refresh_reuse", person_id, "system", {"session_id": str(spent)})
        return TokenRevoked("this refresh token was already used: the session is revoked, sign in again")
    if row["revoked_at"] is not None:
        return TokenRevoked("the session was signed out or revoked: sign in again")
    if row["expires_at"] <= at or row["last_used_at"] + timedelta(minutes=settings.idle_minutes) <= at:
        await revoke(conn, row["id"], reason="expired", now=at)
        return TokenRevoked("the session has ended (too long idle, or past its lifetime): sign in again")
    if await conn.fetchval("SELECT status FROM persons WHERE id = $1", row["person_id"]) != "active":
        return PersonDisabled("this person is disabled")
    return None


async def revoke(
    conn: asyncpg.Connection, session_id: uuid.UUID, *, reason: str, now: datetime | None = None
) -> str | None:
    """End a session (it stays listed, revoked); the person it belonged to, or None if there is no such session.
    Revoking twice keeps the first time and reason."""
    person: str | None = await conn.fetchval(
        """UPDATE person_sessions SET revoked_at = coalesce(revoked_at, $2), revoke_reason = coalesce(revoke_reason, $3)
           WHERE id = $1 RETURNING person_id""",
        session_id,
        _now(now),
        reason,
    )
    return person


async def revoke_all(conn: asyncpg.Connection, person_id: str, *, reason: str, now: datetime | None = None) -> int:
    """End every live session of a person; how many there were."""
    result: str = await conn.execute(
        """UPDATE person_sessions SET revoked_at = $2, revoke_reason = $3
           WHERE person_id = $1 AND revoked_at IS NULL AND expires_at > $2""",
        person_id,
        _now(now),
        reason,
    )
    return int(result.split()[-1])


@dataclass(frozen=True, slots=True)
class SessionView:
    id: uuid.UUID
    method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    user_agent: str | None
    ip: str | None

    def state(self, now: datetime, idle: timedelta) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now or self.last_used_at + idle <= now:
            return "expired"
        return "live"


async def sessions_of(conn: asyncpg.Connection | asyncpg.Pool, person_id: str, limit: int = 50) -> list[SessionView]:
    rows = await conn.fetch(
        """SELECT id, method, created_at, last_used_at, expires_at, revoked_at, revoke_reason, user_agent, ip
           FROM person_sessions WHERE person_id = $1 ORDER BY created_at DESC LIMIT $2""",
        person_id,
        limit,
    )
    return [SessionView(**dict(r)) for r in rows]
