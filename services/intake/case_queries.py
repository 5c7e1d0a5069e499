"""Reading cases as a given client may see them. Visibility: the case shares a scope key with the client."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.api_clients import ApiClient
from shared.domain.lifecycle import AWAITING_ACCEPT, UNRESOLVED
from shared.errors import InvalidInput
from shared.queries.states import sql_list

# A case is overdue when the deadline for the step it waits on has passed.
OVERDUE_SQL = f"""(
    (state IN {sql_list(AWAITING_ACCEPT)} AND accept_by < now())
    OR (state IN {sql_list(UNRESOLVED)} AND resolve_by < now())
)"""


def visibility_of(client: ApiClient) -> list[str] | None:
    """The scope keys a case must share with the client; None for a client that sees everything."""
    return None if client.sees_all else client.visibility


async def visible_case(conn: asyncpg.Connection, client: ApiClient, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT *, {OVERDUE_SQL} AS overdue FROM cases
            WHERE case_id = $1 AND ($2::text[] IS NULL OR scope_keys && $2)""",
        case_id,
        visibility_of(client),
    )


async def visible_submission(conn: asyncpg.Connection, client: ApiClient, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM submissions WHERE case_id = $1 AND ($2::text[] IS NULL OR scope_keys && $2)",
        case_id,
        visibility_of(client),
    )


async def history(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM case_events WHERE case_id = $1 ORDER BY seq", case_id))


async def deadlines_of(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every deadline the case has had, running or not, oldest first."""
    return list(
        await conn.fetch(
            """SELECT kind, party, starts_at, due_at, warn_times, fired, status, closed_at FROM deadlines
               WHERE case_id = $1 ORDER BY starts_at, due_at""",
            case_id,
        )
    )


async def running_deadlines(
    conn: asyncpg.Connection, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """The open deadlines of each case, for the warning colour of a list."""
    rows = await conn.fetch(
        """SELECT case_id, kind, party, starts_at, due_at, warn_times FROM deadlines
           WHERE case_id = ANY($1::uuid[]) AND status = 'open'""",
        case_ids,
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in rows:
        found.setdefault(r["case_id"], []).append(r)
    return found


@dataclass(frozen=True, slots=True)
class CaseFilter:
    unit: str | None = None
    states: tuple[str, ...] = ()
    matter: str | None = None
    overdue: bool | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    cursor: str | None = None
    limit: int = 50
    level: str | None = None
    source: str | None = None


def encode_cursor(received_at: datetime, case_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{received_at.isoformat()}|{case_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(case_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API handed out", field="cursor") from exc


async def list_cases(
    conn: asyncpg.Connection, client: ApiClient, f: CaseFilter
) -> tuple[list[asyncpg.Record], str | None]:
    after_at, after_id = decode_cursor(f.cursor) if f.cursor else (None, None)
    overdue_clause = "" if f.overdue is None else (f"AND {OVERDUE_SQL}" if f.overdue else f"AND NOT {OVERDUE_SQL}")
    rows = await conn.fetch(
        f"""SELECT *, {OVERDUE_SQL} AS overdue FROM cases
            WHERE ($1::text[] IS NULL OR scope_keys && $1)
              AND ($2::text IS NULL OR $2 = ANY(scope_keys))
              AND (cardinality($3::text[]) = 0 OR state = ANY($3))
              AND ($4::text IS NULL OR matter_code = $4)
              AND ($5::timestamptz IS NULL OR received_at >= $5)
              AND ($6::timestamptz IS NULL OR received_at < $6)
              AND ($7::timestamptz IS NULL OR (received_at, case_id) < ($7, $8))
              AND ($10::text IS NULL OR level = $10)
              AND ($11::text IS NULL OR source = $11)
              {overdue_clause}
            ORDER BY received_at DESC, case_id DESC
            LIMIT $9""",
        visibility_of(client),
        f.unit,
        list(f.states),
        f.matter,
        f.received_from,
        f.received_to,
        after_at,
        after_id,
        f.limit + 1,
        f.level,
        f.source,
    )
    page = list(rows[: f.limit])
    more = len(rows) > f.limit
    return page, encode_cursor(page[-1]["received_at"], page[-1]["case_id"]) if more and page else None
