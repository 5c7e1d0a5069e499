"""API clients: keys stored as SHA-256 hashes, scopes that say what a client may do, units that say what it sees.

A key is 32 random bytes, so a plain SHA-256 (no slow hash) is enough to make a stolen table useless.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import asyncpg

from shared.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from shared.people.model import Person

KEY_PREFIX = "gdk_"
_UNIT = re.compile(r"^(\*|(unit|branch|department):[A-Za-z0-9_.\-]{1,64})$")


class Scope(StrEnum):
    SUBMIT = "submit"  # post reports
    READ = "read"  # read the cases it can see
    ACT = "act"  # act on the cases it can see (accept, return, resolve, ...)
    SUPERVISE = "supervise"  # act as a command centre over what it can see (summon, re-dispatch, cancel)
    PERSONAL_DATA = "personal_data"  # see reporters' names and phone numbers unmasked
    ADMIN = "admin"  # manage clients and registry versions


@dataclass(frozen=True, slots=True)
class ApiClient:
    id: uuid.UUID
    name: str
    key_prefix: str
    scopes: frozenset[str]
    units: frozenset[str]  # unit:<code>, branch:<code>, department:<code>, or *
    source: str | None
    rate_per_min: int
    created_at: datetime
    revoked_at: datetime | None = None
    person: Person | None = None  # set when a signed-in person, not a system, is calling (shared/people)

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    @property
    def sees_all(self) -> bool:
        return "*" in self.units

    @property
    def visibility(self) -> list[str]:
        """The scope keys a case must share with this client to be visible to it."""
        return sorted({*self.units, self.own_key})

    @property
    def own_key(self) -> str:
        return f"client:{self.id}"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_unit_scope(value: str) -> bool:
    """`*`, `unit:<code>`, `branch:<code>` or `department:<code>`: what a client may be given to see."""
    return _UNIT.match(value) is not None


def _checked(scopes: Iterable[str], units: Iterable[str]) -> tuple[list[str], list[str]]:
    scopes, units = sorted(set(scopes)), sorted(set(units))
    unknown = [s for s in scopes if s not in Scope.__members__.values()]
    if unknown:
        raise InvalidInput(f"unknown scope(s) {unknown}; choose from {[s.value for s in Scope]}", field="scopes")
    bad = [u for u in units if not is_unit_scope(u)]
    if bad:
        raise InvalidInput(f"unit(s) {bad} are not *, unit:<code>, branch:<code> or department:<code>", field="units")
    return scopes, units


def _from_row(row: asyncpg.Record) -> ApiClient:
    return ApiClient(
        id=row["id"],
        name=row["name"],
        key_prefix=row["key_prefix"],
        scopes=frozenset(row["scopes"]),
        units=frozenset(row["units"]),
        source=row["source"],
        rate_per_min=row["rate_per_min"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create_client(
    conn: asyncpg.Connection,
    *,
    name: str,
    scopes: Iterable[str],
    units: Iterable[str],
    source: str | None = None,
    rate_per_min: int = 600,
) -> tuple[ApiClient, str]:
    """Store a new client; returns it and its key, which is never retrievable again."""
    scope_list, unit_list = _checked(scopes, units)
    if not name.strip():
        raise InvalidInput("a client needs a name", field="name")
    key = new_key()
    row = await conn.fetchrow(
        """INSERT INTO api_clients (id, name, key_prefix, key_hash, scopes, units, source, rate_per_min)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        uuid.uuid4(),
        name.strip(),
        key[: len(KEY_PREFIX) + 6],
        hash_key(key),
        scope_list,
        unit_list,
        source,
        rate_per_min,
    )
    return _from_row(row), key


async def list_clients(conn: asyncpg.Connection) -> list[ApiClient]:
    return [_from_row(r) for r in await conn.fetch("SELECT * FROM api_clients ORDER BY created_at")]


async def revoke_client(conn: asyncpg.Connection, client: str) -> ApiClient:
    """Revoke by id or key prefix; its key stops working at once."""
    try:
        by_id: uuid.UUID | None = uuid.UUID(client)
    except ValueError:
        by_id = None
    row = await conn.fetchrow(
        """UPDATE api_clients SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 OR key_prefix = $2 RETURNING *""",
        by_id,
        client,
    )
    if row is None:
        raise NotFound(f"no client with id or key prefix {client!r}")
    return _from_row(row)


async def authenticate(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> ApiClient | None:
    """The live client holding this key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = await conn.fetchrow("SELECT * FROM api_clients WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key))
    return _from_row(row) if row else None
