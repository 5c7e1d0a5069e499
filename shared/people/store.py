"""The one module that reads and writes `persons`, `person_roles` and `people_audit` (migration 0009).

Every write that changes who may do what (a person added, a role granted or revoked, a status or password
changed) writes its audit row in the same transaction, naming the actor (`person:<id>`, `client:<uuid>`,
`cli:<os user>`, `registry`). Audit rows never hold a password, a hash or a phone number.

Sign-in (another module) reads `find_by_login` and owns the lockout columns (`failed_sign_ins`,
`locked_until`); nothing here changes them except `set_password`, which unlocks. The registry's bulk
import of the same tables is shared/people/registry_sync.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from shared.errors import Conflict, InvalidInput, NotFound
from shared.logging import get_logger
from shared.people.fields import check_actor, check_phone, check_username, is_username, normal_phone
from shared.people.metrics import CHANGES
from shared.people.model import Person, PersonStatus, RoleGrant, RoleName, Source, check_person_id
from shared.people.passwords import check_rules, hash_password

log = get_logger(__name__)


class PersonExists(Conflict):
    code = "person_exists"


class UsernameTaken(Conflict):
    code = "username_taken"


class RegistryRole(Conflict):
    """A role the registry gives is changed in the registry (a re-import would put it back)."""

    code = "registry_role"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""For `update_person`: leave the field as it is (None clears it)."""


@dataclass(frozen=True, slots=True)
class HeldRole:
    role: str
    unit: str
    source: str
    granted_at: datetime
    granted_by: str

    @property
    def grant(self) -> RoleGrant:
        return RoleGrant(RoleName(self.role), self.unit)


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as an administrator sees them: the `Person`, where each role came from, and the account's state."""

    person: Person
    held: tuple[HeldRole, ...]
    has_password: bool
    password_changed_at: datetime | None
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LoginCandidate:
    """A person a login name names, with what sign-in needs: the hash and the lockout columns."""

    person: Person
    password_hash: str | None
    failed_sign_ins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    person_id: str | None
    event: str
    actor: str
    detail: dict[str, Any]


# --- reading ----------------------------------------------------------------------------------------------


def _roles_by_person(rows: Iterable[asyncpg.Record]) -> dict[str, list[HeldRole]]:
    out: dict[str, list[HeldRole]] = {}
    for r in rows:
        out.setdefault(r["person_id"], []).append(
            HeldRole(r["role"], r["unit"], r["source"], r["granted_at"], r["granted_by"])
        )
    return out


async def _held(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, list[HeldRole]]:
    rows = await conn.fetch(
        """SELECT person_id, role, unit, source, granted_at, granted_by FROM person_roles
           WHERE person_id = ANY($1::text[]) ORDER BY person_id, role, unit""",
        list(ids),
    )
    return _roles_by_person(rows)


def _person(row: asyncpg.Record, held: Sequence[HeldRole]) -> Person:
    return Person(
        id=row["id"],
        name=row["name"],
        status=PersonStatus(row["status"]),
        username=row["username"],
        phone=row["phone"],
        source=Source(row["source"]),
        roles=tuple(sorted(h.grant for h in held if h.role in RoleName.__members__.values())),
    )


def _record(row: asyncpg.Record, held: Sequence[HeldRole]) -> PersonRecord:
    return PersonRecord(
        person=_person(row, held),
        held=tuple(held),
        has_password=row["password_hash"] is not None,
        password_changed_at=row["password_changed_at"],
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def get_record(conn: asyncpg.Connection, person_id: str, *, lock: bool = False) -> PersonRecord | None:
    """The person as an administrator sees them; `lock`: FOR UPDATE, to check and change in one transaction."""
    row = await conn.fetchrow(f"SELECT * FROM persons WHERE id = $1{' FOR UPDATE' if lock else ''}", person_id)
    if row is None:
        return None
    return _record(row, (await _held(conn, [person_id])).get(person_id, []))


async def get_person(conn: asyncpg.Connection, person_id: str) -> Person | None:
    """The person with their roles, or None."""
    record = await get_record(conn, person_id)
    return record.person if record else None


async def names_of(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, str]:
    """Person id -> name, for the ids that are persons (one query for a page of cases)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await conn.fetch("SELECT id, name FROM persons WHERE id = ANY($1::text[])", wanted)
    return {r["id"]: r["name"] for r in rows}


async def find_by_login(conn: asyncpg.Connection, login: str) -> list[LoginCandidate]:
    """The person a login names, as a list of at most one: a username (case-insensitive) or a full phone number
    (spaces and dashes ignored). A phone number recorded for more than one person names nobody, so a sign-in
    by phone is never ambiguous. Disabled persons are returned too (with `person.status`): refusing them is
    sign-in's decision, after the same password check, so the answer does not tell whether they exist."""
    login = login.strip()
    if not login or len(login) > 64:
        return []
    if is_username(login):
        rows = await conn.fetch("SELECT * FROM persons WHERE username = $1", login.lower())
    else:
        rows = await conn.fetch("SELECT * FROM persons WHERE phone = $1 LIMIT 2", normal_phone(login))
    if len(rows) != 1:
        return []
    row = rows[0]
    person = _person(row, (await _held(conn, [row["id"]])).get(row["id"], []))
    return [LoginCandidate(person, row["password_hash"], row["failed_sign_ins"], row["locked_until"])]


async def list_persons(
    conn: asyncpg.Connection,
    *,
    unit: str | None = None,
    role: str | None = None,
    status: str | None = None,
    query: str | None = None,
    within: Collection[str] | None = None,
    limit: int = 50,
    after: str | None = None,
) -> tuple[list[PersonRecord], str | None]:
    """A page of persons by id, and the id to pass as `after` for the next page (None on the last).

    `unit` and `role` match a role held (together: the same role); `query` a part of the name, id or username,
    or the phone number; `within` (None: everyone) keeps persons with a role in one of those unit keys."""
    rows = await conn.fetch(
        """SELECT p.* FROM persons p
           WHERE ($1::text IS NULL OR p.id > $1)
             AND ($2::text IS NULL OR p.status = $2)
             AND ($3::text IS NULL OR p.name ILIKE $3 OR p.id ILIKE $3 OR p.username ILIKE $3 OR p.phone = $4)
             AND (($5::text IS NULL AND $6::text IS NULL) OR EXISTS (
                    SELECT 1 FROM person_roles r WHERE r.person_id = p.id
                    AND ($5::text IS NULL OR r.unit = $5) AND ($6::text IS NULL OR r.role = $6)))
             AND ($7::text[] IS NULL OR EXISTS (
                    SELECT 1 FROM person_roles r WHERE r.person_id = p.id AND r.unit = ANY($7::text[])))
           ORDER BY p.id LIMIT $8""",
        after,
        status,
        f"%{_like_escaped(query)}%" if query else None,
        normal_phone(query) if query else None,
        unit,
        role,
        list(within) if within is not None else None,
        limit + 1,
    )
    page = rows[:limit]
    held = await _held(conn, [r["id"] for r in page])
    records = [_record(r, held.get(r["id"], [])) for r in page]
    return records, (page[-1]["id"] if len(rows) > limit else None)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def audit_of(conn: asyncpg.Connection, person_id: str, limit: int = 100) -> list[AuditEntry]:
    """The person's audit, newest first."""
    rows = await conn.fetch(
        "SELECT * FROM people_audit WHERE person_id = $1 ORDER BY at DESC, id DESC LIMIT $2", person_id, limit
    )
    return [AuditEntry(r["id"], r["at"], r["person_id"], r["event"], r["actor"], json.loads(r["detail"])) for r in rows]


# --- writing ----------------------------------------------------------------------------------------------


async def record_audit(conn: asyncpg.Connection, person_id: str | None, event: str, actor: str, **detail: Any) -> None:
    """One audit row (sign-in writes its own events through this too). Never pass a password or a token."""
    await conn.execute(
        "INSERT INTO people_audit (person_id, event, actor, detail) VALUES ($1, $2, $3, $4::jsonb)",
        person_id,
        event,
        check_actor(actor),
        json.dumps(detail, ensure_ascii=False),
    )
    CHANGES.labels(event).inc()
    log.info("person_audited", person_id=person_id, audit_event=event, actor=actor)


async def _locked(conn: asyncpg.Connection, person_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM persons WHERE id = $1 FOR UPDATE", person_id)
    if row is None:
        raise NotFound(f"no person {person_id!r}", person_id=person_id)
    return row


async def _must_record(conn: asyncpg.Connection, person_id: str) -> PersonRecord:
    record = await get_record(conn, person_id)
    assert record is not None  # locked in the same transaction
    return record


def _new_id() -> str:
    return f"p-{secrets.token_hex(6)}"


async def add_person(
    conn: asyncpg.Connection,
    *,
    name: str,
    actor: str,
    person_id: str | None = None,
    username: str | None = None,
    phone: str | None = None,
    roles: Iterable[RoleGrant] = (),
    source: Source = Source.MANUAL,
) -> PersonRecord:
    """A new person (id given or made up), with their first roles; 409 `person_exists` / `username_taken`."""
    person_id = check_person_id(person_id) if person_id else _new_id()
    name = _checked_name(name)
    username = check_username(username) if username else None
    phone = check_phone(phone) if phone else None
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO persons (id, name, username, phone, source) VALUES ($1, $2, $3, $4, $5)",
                person_id,
                name,
                username,
                phone,
                source.value,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _unique_problem(exc, person_id, username) from None
        await record_audit(conn, person_id, "created", actor, source=source.value)
        for grant in sorted(set(roles)):
            await _grant(conn, person_id, grant, actor, source)
        return await _must_record(conn, person_id)


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a name has 1-100 characters", field="name")
    return name


def _unique_problem(exc: asyncpg.UniqueViolationError, person_id: str, username: str | None) -> Conflict:
    if "username" in (exc.constraint_name or ""):
        return UsernameTaken(f"the username {username!r} is taken", field="username")
    return PersonExists(f"a person {person_id!r} exists already", field="id", person_id=person_id)


async def update_person(
    conn: asyncpg.Connection,
    person_id: str,
    *,
    actor: str,
    name: str | _Unset = UNSET,
    username: str | _Unset | None = UNSET,
    phone: str | _Unset | None = UNSET,
) -> PersonRecord:
    """Change the name, username or phone (None clears the last two); audited as `updated` with the fields."""
    changes: dict[str, str | None] = {}
    if not isinstance(name, _Unset):
        changes["name"] = _checked_name(name)
    if not isinstance(username, _Unset):
        changes["username"] = check_username(username) if username else None
    if not isinstance(phone, _Unset):
        changes["phone"] = check_phone(phone) if phone else None
    async with conn.transaction():
        row = await _locked(conn, person_id)
        changed = {k: v for k, v in changes.items() if row[k] != v}
        if changed:
            sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changed))
            try:
                await conn.execute(
                    f"UPDATE persons SET {sets}, updated_at = now() WHERE id = $1", person_id, *changed.values()
                )
            except asyncpg.UniqueViolationError as exc:
                raise _unique_problem(exc, person_id, changed.get("username")) from None
            await record_audit(conn, person_id, "updated", actor, fields=sorted(changed))
        return await _must_record(conn, person_id)


async def set_status(conn: asyncpg.Connection, person_id: str, status: PersonStatus, actor: str) -> PersonRecord:
    """Disable or enable; audited as `disabled` / `enabled` when it changes."""
    async with conn.transaction():
        row = await _locked(conn, person_id)
        if row["status"] != status.value:
            await conn.execute(
                "UPDATE persons SET status = $2, updated_at = now() WHERE id = $1", person_id, status.value
            )
            event = "disabled" if status is PersonStatus.DISABLED else "enabled"
            await record_audit(conn, person_id, event, actor)
        return await _must_record(conn, person_id)


async def disable(conn: asyncpg.Connection, person_id: str, actor: str) -> PersonRecord:
    return await set_status(conn, person_id, PersonStatus.DISABLED, actor)


async def enable(conn: asyncpg.Connection, person_id: str, actor: str) -> PersonRecord:
    return await set_status(conn, person_id, PersonStatus.ACTIVE, actor)


async def set_password(conn: asyncpg.Connection, person_id: str, password: str, actor: str) -> PersonRecord:
    """Check the rules (422 `weak_password`), store the Argon2id hash, clear a lockout; audited `password_set`."""
    row = await conn.fetchrow("SELECT id, username, phone FROM persons WHERE id = $1", person_id)
    if row is None:
        raise NotFound(f"no person {person_id!r}", person_id=person_id)
    check_rules(password, person_id=person_id, username=row["username"], phone=row["phone"])
    hashed = await asyncio.to_thread(hash_password, password)  # ~50 ms of CPU: not on the event loop
    async with conn.transaction():
        await _locked(conn, person_id)
        await conn.execute(
            """UPDATE persons SET password_hash = $2, password_changed_at = now(), failed_sign_ins = 0,
                                  locked_until = NULL, updated_at = now() WHERE id = $1""",
            person_id,
            hashed,
        )
        await record_audit(conn, person_id, "password_set", actor)
        return await _must_record(conn, person_id)


async def _grant(conn: asyncpg.Connection, person_id: str, grant: RoleGrant, actor: str, source: Source) -> bool:
    added = await conn.fetchval(
        """INSERT INTO person_roles (person_id, role, unit, source, granted_by) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (person_id, role, unit) DO NOTHING RETURNING true""",
        person_id,
        grant.role.value,
        grant.unit,
        source.value,
        actor,
    )
    if added:
        await record_audit(
            conn, person_id, "role_granted", actor, role=grant.role.value, unit=grant.unit, source=source.value
        )
    return bool(added)


async def grant_role(
    conn: asyncpg.Connection, person_id: str, grant: RoleGrant, actor: str, *, source: Source = Source.MANUAL
) -> PersonRecord:
    """Give the person the role in the unit (nothing changes if they hold it already, from any source)."""
    async with conn.transaction():
        await _locked(conn, person_id)
        await _grant(conn, person_id, grant, actor, source)
        return await _must_record(conn, person_id)


async def _revoke(conn: asyncpg.Connection, person_id: str, grant: RoleGrant, actor: str) -> bool:
    source = await conn.fetchval(
        "DELETE FROM person_roles WHERE person_id = $1 AND role = $2 AND unit = $3 RETURNING source",
        person_id,
        grant.role.value,
        grant.unit,
    )
    if source is not None:
        await record_audit(
            conn, person_id, "role_revoked", actor, role=grant.role.value, unit=grant.unit, source=source
        )
    return source is not None


async def revoke_role(conn: asyncpg.Connection, person_id: str, grant: RoleGrant, actor: str) -> PersonRecord:
    """Take the role away (nothing changes if not held); a registry role is refused (409 `registry_role`)."""
    async with conn.transaction():
        await _locked(conn, person_id)
        source = await conn.fetchval(
            "SELECT source FROM person_roles WHERE person_id = $1 AND role = $2 AND unit = $3",
            person_id,
            grant.role.value,
            grant.unit,
        )
        if source == Source.REGISTRY.value:
            raise RegistryRole(
                f"{grant} comes from the registry: change it there and import the registry again", field="role"
            )
        await _revoke(conn, person_id, grant, actor)
        return await _must_record(conn, person_id)


async def set_roles(
    conn: asyncpg.Connection,
    person_id: str,
    grants: Iterable[RoleGrant],
    actor: str,
    *,
    source: Source = Source.MANUAL,
) -> PersonRecord:
    """Make the person's roles of one source (manual; or oidc, from a token's claims) exactly `grants`: the
    missing ones granted, the others revoked (each audited). Roles of the other sources stay; a grant they
    already give is not added twice. The registry's roles are set by registry_sync.py only."""
    if source is Source.REGISTRY:
        raise ValueError("registry roles are set by shared/people/registry_sync.py")
    wanted = set(grants)
    async with conn.transaction():
        await _locked(conn, person_id)
        rows = await conn.fetch("SELECT role, unit, source FROM person_roles WHERE person_id = $1", person_id)
        held = {RoleGrant(RoleName(r["role"]), r["unit"]) for r in rows if r["source"] == source.value}
        for grant in sorted(held - wanted):
            await _revoke(conn, person_id, grant, actor)
        for grant in sorted(wanted - held):
            await _grant(conn, person_id, grant, actor, source)
        return await _must_record(conn, person_id)
