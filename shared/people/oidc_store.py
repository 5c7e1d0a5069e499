"""The tables single sign-on reads and writes: oidc_logins (its own), and the few rows of persons, person_roles and
people_audit a sign-in touches (linking the account, replacing the roles it brought, the audit).

Never a token, a code or a verifier in an audit row or a log.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.people.model import PersonStatus, RoleGrant, Source, check_person_id
from shared.people.oidc_claims import Identity, role_change

ACTOR = "oidc"


@dataclass(frozen=True, slots=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    browser_hash: str
    issuer: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedPerson:
    id: str
    name: str
    status: PersonStatus
    how: str  # linked (by oidc_subject), username (matched and now linked), created


def browser_hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


async def save_login(
    conn: asyncpg.Connection, *, state: str, nonce: str, code_verifier: str, binding: str, issuer: str, ttl_s: float
) -> None:
    # Expired rows of earlier attempts go on the way: the table only ever holds minutes of sign-ins.
    await conn.execute("DELETE FROM oidc_logins WHERE expires_at < now() - interval '1 hour'")
    await conn.execute(
        """INSERT INTO oidc_logins (state, nonce, code_verifier, browser_hash, issuer, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))""",
        state,
        nonce,
        code_verifier,
        browser_hash(binding),
        issuer,
        ttl_s,
    )


async def take_login(conn: asyncpg.Connection, state: str) -> tuple[PendingLogin | None, bool]:
    """The sign-in this state started, removed so it is never taken twice; and whether it is still in time."""
    row = await conn.fetchrow(
        """DELETE FROM oidc_logins WHERE state = $1
           RETURNING state, nonce, code_verifier, browser_hash, issuer, expires_at, expires_at > now() AS in_time""",
        state,
    )
    if row is None:
        return None, False
    login = PendingLogin(
        row["state"], row["nonce"], row["code_verifier"], row["browser_hash"], row["issuer"], row["expires_at"]
    )
    return login, bool(row["in_time"])


_PERSON = "SELECT id, name, status FROM persons"


def _linked(row: asyncpg.Record, how: str) -> LinkedPerson:
    return LinkedPerson(row["id"], row["name"], PersonStatus(row["status"]), how)


def _new_person_id(identity: Identity) -> str:
    """A readable id for a person single sign-on creates: oidc-<username or sub digest>."""
    base = re.sub(r"[^A-Za-z0-9_.\-]", "-", identity.username or "")[:40].strip("-.")
    digest = hashlib.sha256(identity.subject.encode()).hexdigest()[:10]
    return check_person_id(f"oidc-{base}-{digest}" if base else f"oidc-{digest}")


async def find_or_link_person(conn: asyncpg.Connection, identity: Identity, *, create: bool) -> LinkedPerson | None:
    """The person this account is: linked by oidc_subject; else the person of the same username, not yet linked to
    another account (and now linked); else, when `create`, a new person with source 'oidc'. None: nobody."""
    row = await conn.fetchrow(f"{_PERSON} WHERE oidc_subject = $1 FOR UPDATE", identity.subject)
    if row is not None:
        return _linked(row, "linked")
    if identity.username:
        row = await conn.fetchrow(
            """UPDATE persons SET oidc_subject = $2, updated_at = now()
                WHERE username = $1 AND oidc_subject IS NULL RETURNING id, name, status""",
            identity.username,
            identity.subject,
        )
        if row is not None:
            await audit(conn, row["id"], "oidc_linked", {"subject": identity.subject, "by": "username"})
            return _linked(row, "username")
    if not create:
        return None
    person_id = _new_person_id(identity)
    row = await conn.fetchrow(
        """INSERT INTO persons (id, name, username, phone, source, oidc_subject)
           VALUES ($1, $2, $3, $4, 'oidc', $5)
           ON CONFLICT DO NOTHING RETURNING id, name, status""",
        person_id,
        identity.name or identity.username or person_id,
        identity.username,
        identity.phone,
        identity.subject,
    )
    if row is None:  # the username belongs to a person linked to another account: not this one
        return None
    await audit(conn, row["id"], "created", {"source": Source.OIDC.value, "subject": identity.subject})
    return _linked(row, "created")


async def oidc_roles(conn: asyncpg.Connection, person_id: str) -> frozenset[RoleGrant]:
    rows = await conn.fetch("SELECT role, unit FROM person_roles WHERE person_id = $1 AND source = 'oidc'", person_id)
    return frozenset(RoleGrant.of(r["role"], r["unit"]) for r in rows)


async def replace_oidc_roles(
    conn: asyncpg.Connection, person_id: str, from_token: frozenset[RoleGrant]
) -> tuple[list[RoleGrant], list[RoleGrant]]:
    """The roles earlier sign-ins brought become the token's; each grant and revocation audited (actor oidc). A
    role the person already holds from elsewhere (registry, an administrator) stays as it is. (store.set_roles with
    source oidc does the same, but its actor check refuses the actor `oidc` the audit of single sign-on names.)"""
    change = role_change(await oidc_roles(conn, person_id), from_token)
    revoked = sorted(change.revoke)
    for grant in revoked:
        await conn.execute(
            "DELETE FROM person_roles WHERE person_id = $1 AND role = $2 AND unit = $3 AND source = 'oidc'",
            person_id,
            grant.role.value,
            grant.unit,
        )
        await audit(conn, person_id, "role_revoked", {"role": grant.role.value, "unit": grant.unit, "source": "oidc"})
    granted: list[RoleGrant] = []
    for grant in sorted(change.grant):
        inserted = await conn.fetchval(
            """INSERT INTO person_roles (person_id, role, unit, source, granted_by) VALUES ($1, $2, $3, 'oidc', $4)
               ON CONFLICT DO NOTHING RETURNING 1""",
            person_id,
            grant.role.value,
            grant.unit,
            ACTOR,
        )
        if inserted:
            granted.append(grant)
            await audit(
                conn, person_id, "role_granted", {"role": grant.role.value, "unit": grant.unit, "source": "oidc"}
            )
    return granted, revoked


async def audit(
    conn: asyncpg.Connection | asyncpg.Pool, person_id: str | None, event: str, detail: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO people_audit (person_id, event, actor, detail) VALUES ($1, $2, $3, $4::jsonb)",
        person_id,
        event,
        ACTOR,
        json.dumps(detail, ensure_ascii=False),
    )
