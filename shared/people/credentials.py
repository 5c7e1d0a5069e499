"""What password sign-in reads and writes on persons (columns of migration 0009): the person a login name
stands for (through the people store), the count of consecutive failures and the lockout they lead to, which
sign-in owns, a rehash; and its audit rows.

The lockout rule itself (`after_failure`) is pure, so it is tested without a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.people import store


@dataclass(frozen=True, slots=True)
class Credentials:
    person_id: str
    name: str
    password_hash: str | None
    active: bool
    failed_sign_ins: int
    locked_until: datetime | None

    def __repr__(self) -> str:  # never the hash
        return f"Credentials(person_id={self.person_id!r})"

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def normalise_login(login: str) -> str:
    """The form a login name is counted in by the sign-in rate limit."""
    return login.strip().lower()


async def find_login(conn: asyncpg.Connection, login: str) -> Credentials | None:
    """The person a login name names (shared.people.store.find_by_login: a username, or a phone number only
    one person has), with what a password sign-in needs."""
    found = await store.find_by_login(conn, login)
    if not found:
        return None
    (candidate,) = found
    return Credentials(
        person_id=candidate.person.id,
        name=candidate.person.name,
        password_hash=candidate.password_hash,
        active=candidate.person.active,
        failed_sign_ins=candidate.failed_sign_ins,
        locked_until=candidate.locked_until,
    )


@dataclass(frozen=True, slots=True)
class AfterFailure:
    failed_sign_ins: int
    locked_until: datetime | None  # set when this failure locks the account


def after_failure(failed_before: int, now: datetime, *, lock_after: int, lock_for: timedelta) -> AfterFailure:
    """One more consecutive failure; the one that reaches `lock_after` locks the account for `lock_for` and
    starts the count again, so after the lockout another `lock_after` tries are allowed."""
    failed = failed_before + 1
    if failed >= lock_after:
        return AfterFailure(0, now + lock_for)
    return AfterFailure(failed, None)


async def record_failure(
    conn: asyncpg.Connection, person_id: str, now: datetime, *, lock_after: int, lock_for: timedelta
) -> AfterFailure:
    """Count a failed sign-in (concurrent failures counted one after the other); the lockout it may start."""
    async with conn.transaction():
        failed = await conn.fetchval("SELECT failed_sign_ins FROM persons WHERE id = $1 FOR UPDATE", person_id)
        outcome = after_failure(failed or 0, now, lock_after=lock_after, lock_for=lock_for)
        await conn.execute(
            "UPDATE persons SET failed_sign_ins = $2, locked_until = coalesce($3, locked_until) WHERE id = $1",
            person_id,
            outcome.failed_sign_ins,
            outcome.locked_until,
        )
    return outcome


async def record_success(conn: asyncpg.Connection, person_id: str, new_hash: str | None) -> None:
    """Failures forgotten, lockout over; the hash replaced when it was made with older parameters."""
    await conn.execute(
        """UPDATE persons SET failed_sign_ins = 0, locked_until = NULL,
                  password_hash = coalesce($2, password_hash), updated_at = CASE WHEN $2 IS NULL THEN updated_at
                                                                              ELSE now() END
           WHERE id = $1""",
        person_id,
        new_hash,
    )


async def audit_record(
    conn: asyncpg.Connection, event: str, person_id: str | None, actor: str, detail: dict[str, Any] | None = None
) -> None:
    """One row of people_audit (sign_in, sign_in_failed, locked, signed_out, session_revoked, refresh_reuse),
    written by the people store as every audit row is."""
    await store.record_audit(conn, person_id, event, actor, **(detail or {}))
