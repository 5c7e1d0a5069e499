"""SQL on `deadlines` that more than one place needs, and the filters on it reads share.

Dispatch opens and closes the rows through here (services/dispatch/repository.py); escalation claims and
fires them through here; intake, the gauges, the simulation summary, chaos and the benchmarks read them through here.
A row is `open` until it is `met` or `void`; `fired` counts its tiers fired (warnings, then overdue).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared import outbox
from shared.domain.lifecycle import ENDED
from shared.events import CloudEvent
from shared.queries.states import values

# What dispatch's insert of a deadline notifies (migration 0008's trigger), with the earliest next_fire_at.
NOTIFY_CHANNEL = "griddispatch_deadlines"

# Up to $2 open rows whose next tier is due at $1, earliest first, each claimed by one worker alone.
CLAIM = """SELECT deadline_id, case_id, kind, party, due_at, warn_times, fired FROM deadlines
           WHERE status = 'open' AND next_fire_at <= $1
           ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED"""
# When the next tier of any open deadline is due (NULL: none open); an index-only read of deadlines_due.
NEXT_FIRE_AT = "SELECT min(next_fire_at) FROM deadlines WHERE status = 'open'"


def met_in_time(d: str = "d") -> str:
    """The deadline (alias `d`) was met by its due time."""
    return f"{d}.status = 'met' AND {d}.closed_at <= {d}.due_at"


def fell_due(d: str = "d") -> str:
    """The deadline (alias `d`) passed its due time while still owed: closed after it, or open past it."""
    return f"coalesce({d}.closed_at, now()) > {d}.due_at"


async def claim(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(CLAIM, now, limit))


# The claimed rows' new `fired` and `next_fire_at`, from three arrays (deadline ids, fired, next_fire_at) at the
# parameters given to format().
_MOVE = """UPDATE deadlines d SET fired = u.fired, next_fire_at = u.next_fire_at
           FROM unnest(${0}::uuid[], ${1}::int[], ${2}::timestamptz[]) AS u(deadline_id, fired, next_fire_at)
           WHERE d.deadline_id = u.deadline_id"""
# A tick's staging and firing in one statement, one round trip whatever the batch: outbox.STAGE_MANY's five arrays
# ($1-$5), the claimed rows' three ($6-$8). Returns what STAGE_MANY returns (the outbox rows staged now).
FIRE = f"""WITH staged AS ({outbox.STAGE_MANY}),
           moved AS ({_MOVE.format(6, 7, 8)})
           SELECT id, event_id, topic FROM staged"""


def _moves(updates: Sequence[tuple[uuid.UUID, int, datetime]]) -> tuple[list[uuid.UUID], list[int], list[datetime]]:
    return [u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]


async def fire(
    conn: asyncpg.Connection,
    events: Sequence[tuple[str, CloudEvent[Any]]],
    updates: Sequence[tuple[uuid.UUID, int, datetime]],
) -> list[outbox.OutboxRow]:
    """Stage `events` in the outbox and set (deadline_id, fired, next_fire_at) of the claimed rows, in one
    statement; returns the outbox rows staged now (not staged before), for outbox.publish_staged after commit."""
    if not events and not updates:
        return []
    staging = outbox.Staging.of(events)
    return staging.staged(await conn.fetch(FIRE, *staging.args, *_moves(updates)))


async def next_fire_at(conn: asyncpg.Connection | asyncpg.Pool) -> datetime | None:
    found: datetime | None = await conn.fetchval(NEXT_FIRE_AT)
    return found


async def postpone(conn: asyncpg.Connection, deadline_ids: list[uuid.UUID], until: datetime) -> None:
    """Move those deadlines' next tier to `until` (a benchmark's bare claim loop, firing nothing)."""
    await conn.execute("UPDATE deadlines SET next_fire_at = $2 WHERE deadline_id = ANY($1)", deadline_ids, until)


async def of_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every deadline the case has had, running or not, oldest first."""
    return list(
        await conn.fetch(
            """SELECT kind, party, starts_at, due_at, warn_times, fired, status, closed_at FROM deadlines
               WHERE case_id = $1 ORDER BY starts_at, due_at""",
            case_id,
        )
    )


async def open_of_kind(conn: asyncpg.Connection, case_id: uuid.UUID, kind: str) -> list[asyncpg.Record]:
    """The case's open deadlines of `kind` (deadline_id, party, starts_at, due_at), soonest first."""
    return list(
        await conn.fetch(
            """SELECT deadline_id, party, starts_at, due_at FROM deadlines
               WHERE case_id = $1 AND kind = $2 AND status = 'open' ORDER BY due_at""",
            case_id,
            kind,
        )
    )


async def running(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """The open deadlines of each case."""
    rows = await conn.fetch(
        """SELECT case_id, kind, party, starts_at, due_at, warn_times FROM deadlines
           WHERE case_id = ANY($1::uuid[]) AND status = 'open'""",
        case_ids,
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in rows:
        found.setdefault(r["case_id"], []).append(r)
    return found


async def overdue_cases_by_level(conn: asyncpg.Connection, now: datetime) -> dict[str | None, int]:
    """Cases not ended with an open deadline due by `now`, per level (None: no level)."""
    rows = await conn.fetch(
        """SELECT c.level, count(DISTINCT c.case_id) AS n
           FROM deadlines d JOIN cases c USING (case_id)
           WHERE d.status = 'open' AND d.due_at <= $1 AND c.state <> ALL($2::text[])
           GROUP BY 1""",
        now,
        values(ENDED),
    )
    return {r["level"]: int(r["n"]) for r in rows}


async def count_due(conn: asyncpg.Connection, by: datetime) -> int:
    """Open deadlines with a tier due by `by`."""
    return int(await conn.fetchval("SELECT count(*) FROM deadlines WHERE status = 'open' AND next_fire_at <= $1", by))


async def not_yet_fired(conn: asyncpg.Connection, deadline_ids: list[uuid.UUID]) -> int:
    """Of these deadlines, how many are still open without their due tier fired (escalation has not acted)."""
    return int(
        await conn.fetchval(
            """SELECT count(*) FROM deadlines
           WHERE deadline_id = ANY($1) AND status = 'open' AND fired <= cardinality(warn_times)""",
            deadline_ids,
        )
    )


async def fell_due_all(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """(deadline_id, case_id, fell_due) of every deadline."""
    return list(await conn.fetch(f"SELECT deadline_id, case_id, {fell_due()} AS fell_due FROM deadlines d"))


async def fall_due_now(conn: asyncpg.Connection, case_ids: list[uuid.UUID], kind: str) -> None:
    """Make those cases' open deadlines of `kind` due now with no warnings left (time passes, for a test of the
    system), and wake every escalation worker as dispatch's insert of a deadline due now would (the trigger
    fires on INSERT only)."""
    await conn.execute(
        """UPDATE deadlines SET due_at = now(), next_fire_at = now(), warn_times = '{}'
           WHERE case_id = ANY($1) AND kind = $2 AND status = 'open'""",
        case_ids,
        kind,
    )
    await conn.execute("SELECT pg_notify($1, extract(epoch FROM now())::text)", NOTIFY_CHANNEL)


async def of_cases(
    conn: asyncpg.Connection,
    case_ids: Sequence[uuid.UUID],
    named: Sequence[uuid.UUID],
    latest_of: Sequence[tuple[uuid.UUID, str, str]],
) -> list[asyncpg.Record]:
    """The open deadlines of the cases, those `named`, and every one of each (case, kind, party) in `latest_of`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM deadlines d
           WHERE d.case_id = ANY($1::uuid[])
             AND (d.status = 'open' OR d.deadline_id = ANY($2::uuid[])
                  OR (d.case_id, d.kind, d.party) IN (SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[])))""",
        list(case_ids),
        list(named),
        [r[0] for r in latest_of],
        [r[1] for r in latest_of],
        [r[2] for r in latest_of],
    )
    return rows


async def insert_rows(conn: asyncpg.Connection, document: str) -> None:
    """New deadlines: `document` is a JSON array of rows (deadline_id, case_id, kind, party, starts_at, due_at,
    warn_times, next_fire_at, status); one stored closed gets its closed_at now."""
    await conn.execute(
        """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at,
                                  status, closed_at)
           SELECT deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at, status,
                  CASE WHEN status = 'open' THEN NULL ELSE now() END
           FROM jsonb_populate_recordset(NULL::deadlines, $1::jsonb)""",
        document,
    )


async def close(conn: asyncpg.Connection, deadline_ids: Sequence[uuid.UUID], statuses: Sequence[str]) -> None:
    """Open deadlines met or voided (each its status)."""
    await conn.execute(
        """UPDATE deadlines SET status = u.status, closed_at = now()
           FROM unnest($1::uuid[], $2::text[]) AS u(deadline_id, status)
           WHERE deadlines.deadline_id = u.deadline_id AND deadlines.status = 'open'""",
        list(deadline_ids),
        list(statuses),
    )


async def open_due(conn: asyncpg.Connection | asyncpg.Pool, case_id: uuid.UUID, kind: str) -> datetime | None:
    """When the case's open deadline of `kind` falls due (the earliest, if several parties owe one); None: none open."""
    due: datetime | None = await conn.fetchval(
        "SELECT min(due_at) FROM deadlines WHERE case_id = $1 AND kind = $2 AND status = 'open'", case_id, kind
    )
    return due
