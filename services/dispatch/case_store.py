"""Dispatch's reads and writes of the shared case tables, all inside the caller's transaction."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.domain.lifecycle import MERGE_TARGETS
from shared.domain.timescale import scale_deadline
from shared.errors import InvalidInput
from shared.queries.states import values

CONSUMER = "dispatch"


async def claim(conn: asyncpg.Connection, event_id: str) -> bool:
    """Record the event as processed; False if it already was (a redelivery). Blocks while another holds it."""
    claimed = await conn.fetchval(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        CONSUMER,
        event_id,
    )
    return claimed is not None


async def lock_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1 FOR UPDATE", case_id)


async def insert_case(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    try:
        await conn.execute(f"INSERT INTO cases ({columns}) VALUES ({params})", *values.values())
    except asyncpg.UniqueViolationError as exc:  # intake never reuses a number: the report came from elsewhere
        raise InvalidInput(
            f"case number {values['case_number']} already belongs to another case", reason="duplicate_case_number"
        ) from exc


async def update_case(conn: asyncpg.Connection, case_id: uuid.UUID, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    await conn.execute(f"UPDATE cases SET {sets}, updated_at = now() WHERE case_id = $1", case_id, *values.values())


async def append_event(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    event_id: str,
    action: str,
    from_state: str | None,
    to_state: str,
    actor: dict[str, Any],
    detail: dict[str, Any],
    at: datetime,
) -> int:
    """Append to the case's history; returns the sequence number."""
    seq: int = await conn.fetchval(
        """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail, at)
           VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM case_events WHERE case_id = $1),
                   $2, $3, $4, $5, $6, $7, $8)
           RETURNING seq""",
        case_id,
        event_id,
        action,
        from_state,
        to_state,
        json.dumps(actor, ensure_ascii=False),
        json.dumps(detail, ensure_ascii=False, default=str),
        at,
    )
    return seq


async def open_deadline(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    kind: str,
    party: str,
    starts_at: datetime,
    due_at: datetime,
    warn_times: list[datetime],
    *,
    scale: float,
    now: datetime,
) -> datetime:
    """Record an open deadline; returns its due time. Every deadline is created here, so the deadline scale
    (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE, 1 but in a demo) shrinks what is left of its allowance from `now`,
    and its warnings, here alone."""
    due_at, warn_times = scale_deadline(now, due_at, warn_times, scale)
    first = min([*warn_times, due_at])
    await conn.execute(
        """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        uuid.uuid4(),
        case_id,
        kind,
        party,
        starts_at,
        due_at,
        sorted(warn_times),
        first,
    )
    return due_at


async def close_deadlines(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    status: str,
    *,
    kinds: list[str] | None = None,
    party: str | None = None,
    keep_kinds: list[str] | None = None,
) -> int:
    """Mark open deadlines met or void; filtered by kinds, by party, or all but `keep_kinds`."""
    result = await conn.execute(
        """UPDATE deadlines SET status = $2, closed_at = now()
           WHERE case_id = $1 AND status = 'open'
             AND ($3::text[] IS NULL OR kind = ANY($3))
             AND ($4::text IS NULL OR party = $4)
             AND ($5::text[] IS NULL OR NOT kind = ANY($5))""",
        case_id,
        status,
        kinds,
        party,
        keep_kinds,
    )
    return int(result.split()[-1])


async def deadline_closed(conn: asyncpg.Connection, deadline_id: str) -> bool:
    """Whether the deadline a fired event names has been met or voided since (an unknown id is not closed)."""
    try:
        key = uuid.UUID(deadline_id)
    except ValueError:
        return False
    status = await conn.fetchval("SELECT status FROM deadlines WHERE deadline_id = $1", key)
    return status is not None and status != "open"


async def deadline_open(conn: asyncpg.Connection, deadline_id: str) -> bool:
    """Whether the deadline a fired event names is still open (not met, and not voided by a later step)."""
    try:
        key = uuid.UUID(deadline_id)
    except ValueError:
        return False
    return bool(await conn.fetchval("SELECT status = 'open' FROM deadlines WHERE deadline_id = $1", key))


async def deadline_window(
    conn: asyncpg.Connection, case_id: uuid.UUID, deadline_id: str, kind: str, party: str
) -> asyncpg.Record | None:
    """The fired deadline's start and due time (its allowance as recorded, scale applied); for an id not
    recorded, the party's latest deadline of that kind on the case."""
    try:
        key: uuid.UUID | None = uuid.UUID(deadline_id)
    except ValueError:
        key = None
    return await conn.fetchrow(
        """SELECT deadline_id, starts_at, due_at FROM deadlines
           WHERE case_id = $1 AND (deadline_id = $2 OR (kind = $3 AND party = $4))
           ORDER BY deadline_id = $2 DESC, created_at DESC LIMIT 1""",
        case_id,
        key,
        kind,
        party,
    )


async def park_action(conn: asyncpg.Connection, event_id: str, case_id: uuid.UUID, value: bytes) -> None:
    await conn.execute(
        "INSERT INTO pending_actions (event_id, case_id, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        event_id,
        case_id,
        value,
    )


async def take_pending(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[bytes]:
    rows = await conn.fetch(
        "DELETE FROM pending_actions WHERE case_id = $1 RETURNING value, received_at, event_id", case_id
    )
    return [r["value"] for r in sorted(rows, key=lambda r: (r["received_at"], r["event_id"]))]


async def submitted(conn: asyncpg.Connection, case_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM submissions WHERE case_id = $1", case_id))


async def find_duplicate(
    conn: asyncpg.Connection, matter: str, lon: float, lat: float, since: datetime, radius_m: float
) -> asyncpg.Record | None:
    """The nearest case of the same matter a duplicate merges into (MERGE_TARGETS) within the radius, reported
    since `since`."""
    # A bounding box on indexed columns first, then the exact great-circle distance.
    if radius_m <= 0:
        return None
    dlat = radius_m / 111_320.0
    dlon = dlat / max(0.01, abs(math.cos(math.radians(lat))))
    row = await conn.fetchrow(
        """SELECT *, 2 * 6371000 * asin(sqrt(
                  power(sin(radians(lat - $3) / 2), 2)
                + cos(radians($3)) * cos(radians(lat)) * power(sin(radians(lon - $2) / 2), 2))) AS distance
           FROM cases
           WHERE matter_code = $1 AND state = ANY($4::text[]) AND received_at >= $5
             AND lon BETWEEN $2 - $6 AND $2 + $6 AND lat BETWEEN $3 - $7 AND $3 + $7
           ORDER BY distance LIMIT 1 FOR UPDATE""",
        matter,
        lon,
        lat,
        values(MERGE_TARGETS),
        since,
        dlon,
        dlat,
    )
    if row is None or row["distance"] > radius_m:
        return None
    return row
