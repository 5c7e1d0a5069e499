"""SQL on `submissions`: the reports intake accepted, before (and after) dispatch records each as a case."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from shared.queries.cases import visible_case
from shared.queries.visibility import visible


async def next_number(conn: asyncpg.Connection) -> int:
    """The next value of the sequence case numbers are made of (case_number_seq)."""
    return int(await conn.fetchval("SELECT nextval('case_number_seq')"))


async def insert(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    case_number: str,
    client_id: uuid.UUID,
    idempotency_key: str | None,
    source: str,
    source_ref: str | None,
    digest: str,
    event_id: str,
    scope_keys: list[str],
    received_at: datetime,
    reporter: dict[str, str | None] | None = None,
) -> bool:
    """Record an accepted report; False when one with the same case id or idempotency key is there already.
    `reporter` is the full one (the reports topic carries it masked): dispatch copies it into the case."""
    inserted = await conn.fetchval(
        """INSERT INTO submissions (case_id, case_number, client_id, idempotency_key, source, source_ref,
                                    body_hash, event_id, scope_keys, received_at, reporter)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) ON CONFLICT DO NOTHING RETURNING case_id""",
        case_id,
        case_number,
        client_id,
        idempotency_key,
        source,
        source_ref,
        digest,
        event_id,
        scope_keys,
        received_at,
        json.dumps(reporter, ensure_ascii=False) if reporter is not None else None,
    )
    return inserted is not None


async def earlier(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    client_id: uuid.UUID,
    idempotency_key: str | None,
    source: str,
    source_ref: str | None,
) -> asyncpg.Record | None:
    """The submission this one repeats (same case id, same client and key, or same source and source_ref)."""
    return await conn.fetchrow(
        """SELECT case_id, case_number, body_hash FROM submissions
           WHERE case_id = $1 OR (client_id = $2 AND idempotency_key = $3) OR (source = $4 AND source_ref = $5)
           LIMIT 1""",
        case_id,
        client_id,
        idempotency_key,
        source,
        source_ref,
    )


async def visible_submission(
    conn: asyncpg.Connection, visibility: list[str] | None, case_id: uuid.UUID
) -> asyncpg.Record | None:
    """The submission if its scope keys share one with `visibility` (None: any)."""
    return await conn.fetchrow(f"SELECT * FROM submissions WHERE case_id = $1 AND {visible('$2')}", case_id, visibility)


async def case_or_submission(
    conn: asyncpg.Connection, visibility: list[str] | None, case_id: uuid.UUID
) -> tuple[asyncpg.Record | None, asyncpg.Record | None]:
    """(case with `overdue`, None) once dispatch recorded it, (None, submission) before, (None, None) when
    `visibility` (None: any) sees neither."""
    case = await visible_case(conn, visibility, case_id)
    if case is not None:
        return case, None
    return None, await visible_submission(conn, visibility, case_id)


async def not_yet_cases(
    conn: asyncpg.Connection,
    visibility: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Visible submissions received in [since, until) that dispatch has not yet recorded as cases, newest first."""
    rows = await conn.fetch(
        f"""SELECT s.* FROM submissions s
           WHERE {visible("$1", "s.scope_keys")}
             AND ($2::timestamptz IS NULL OR s.received_at >= $2)
             AND ($3::timestamptz IS NULL OR s.received_at < $3)
             AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.case_id = s.case_id)
           ORDER BY s.received_at DESC LIMIT $4""",
        visibility,
        since,
        until,
        limit,
    )
    return list(rows)


async def case_ids_of_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> set[uuid.UUID]:
    """Every case id the client has submitted a report for."""
    return {r["case_id"] for r in await conn.fetch("SELECT case_id FROM submissions WHERE client_id = $1", client_id)}


async def count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM submissions"))


async def recorded(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the cases intake has accepted a report for."""
    rows = await conn.fetch("SELECT case_id FROM submissions WHERE case_id = ANY($1::uuid[])", case_ids)
    return {r["case_id"] for r in rows}
