"""A request carrying a person's access token: the token checked (signature, issuer, audience, expiry), then ONE
query that the session is live and the person active, with their roles as they are now. So a sign-out, a
revocation, a disabled person or a changed role takes effect on the very next request. Intake and notify both
call `person_of_token`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.api_clients import ApiClient
from shared.errors import Unauthenticated
from shared.people.metrics import TOKEN_REFUSALS
from shared.people.model import Person, PersonStatus, RoleGrant, RoleName, Source
from shared.people.principal import principal_of
from shared.people.tokens import PersonDisabled, TokenExpired, TokenKey, TokenRevoked, read

_LIVE = """
    SELECT s.revoked_at, s.expires_at, s.created_at AS signed_in_at,
           p.id, p.name, p.username, p.phone, p.status, p.source,
           array(SELECT r.role FROM person_roles r WHERE r.person_id = p.id ORDER BY r.role, r.unit) AS roles,
           array(SELECT r.unit FROM person_roles r WHERE r.person_id = p.id ORDER BY r.role, r.unit) AS units
    FROM person_sessions s JOIN persons p ON p.id = s.person_id
    WHERE s.id = $1 AND s.person_id = $2"""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A signed-in person as the API sees them, and the session the token belongs to."""

    client: ApiClient
    session_id: uuid.UUID

    @property
    def person(self) -> Person:
        assert self.client.person is not None
        return self.client.person


def _grants(roles: list[str], units: list[str]) -> tuple[RoleGrant, ...]:
    known = set(RoleName)
    return tuple(RoleGrant(RoleName(r), u) for r, u in zip(roles, units, strict=True) if r in known)


async def person_of_token(
    conn: asyncpg.Connection | asyncpg.Pool, key: TokenKey, token: str, *, now: datetime, rate_per_min: int
) -> SignedIn:
    """The person behind a live access token, or the refusal (an Unauthenticated with its specific code)."""
    try:
        claims = read(key, token, now=now)
        row = await conn.fetchrow(_LIVE, claims.session_id, claims.person_id)
        if row is None or row["revoked_at"] is not None:
            raise TokenRevoked("the session of this token was signed out or revoked: sign in again")
        if row["expires_at"] <= now:
            raise TokenExpired("the session of this token has ended: sign in again")
        if row["status"] != PersonStatus.ACTIVE:
            raise PersonDisabled("this person is disabled")
    except Unauthenticated as refused:
        TOKEN_REFUSALS.labels(refused.code).inc()
        raise
    person = Person(
        id=row["id"],
        name=row["name"],
        status=PersonStatus(row["status"]),
        username=row["username"],
        phone=row["phone"],
        source=Source(row["source"]),
        roles=_grants(list(row["roles"]), list(row["units"])),
    )
    client = principal_of(person, signed_in_at=row["signed_in_at"], rate_per_min=rate_per_min)
    return SignedIn(client, claims.session_id)
