"""SQL on `cases` that more than one place reads, and the filters every read of it shares.

Dispatch writes the rows through here too (services/dispatch/repository.py maps them to the case aggregate). The named
sets of states come from shared.domain.lifecycle, never retyped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.domain.lifecycle import AWAITING_ACCEPT, ENDED, UNRESOLVED, State
from shared.queries.states import sql_list, values
from shared.queries.visibility import visible

# A case is overdue when the deadline for the step it waits on has passed (columns of `cases`, unqualified).
OVERDUE = f"""(
    (state IN {sql_list(AWAITING_ACCEPT)} AND accept_by < now())
    OR (state IN {sql_list(UNRESOLVED)} AND resolve_by < now())
)"""
# Every column, with `overdue`: what the case reads of the API and Open311 start from.
SELECT_WITH_OVERDUE = f"SELECT *, {OVERDUE} AS overdue FROM cases"
# Its reporters: the case's own and those of the reports merged into it, oldest first.
REPORTERS = """SELECT reporter FROM cases WHERE (case_id = $1 OR merged_into = $1) AND reporter IS NOT NULL
               ORDER BY received_at"""


async def visible_case(
    conn: asyncpg.Connection, visibility: list[str] | None, case_id: uuid.UUID
) -> asyncpg.Record | None:
    """The case with `overdue` if its scope keys share one with `visibility` (None: any)."""
    return await conn.fetchrow(f"{SELECT_WITH_OVERDUE} WHERE case_id = $1 AND {visible('$2')}", case_id, visibility)


async def get(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)


async def reporters(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The reporters of the case and of every report merged into it, oldest first."""
    return [json.loads(r["reporter"]) for r in await conn.fetch(REPORTERS, case_id)]


async def numbers(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """case id -> case number, for those recorded."""
    if not case_ids:
        return {}
    rows = await conn.fetch("SELECT case_id, case_number FROM cases WHERE case_id = ANY($1::uuid[])", case_ids)
    return {r["case_id"]: r["case_number"] for r in rows}


async def message_facts(conn: asyncpg.Connection | asyncpg.Pool, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """What messages about a case name that events do not carry: number, title, location, reporter."""
    return list(
        await conn.fetch(
            "SELECT case_id, case_number, title, location, reporter FROM cases WHERE case_id = ANY($1)", case_ids
        )
    )


async def id_of_number(conn: asyncpg.Connection, case_number: str) -> uuid.UUID | None:
    """The case id of a case number: of the case, or of the submission dispatch has not yet recorded."""
    found: uuid.UUID | None = await conn.fetchval(
        """SELECT case_id FROM cases WHERE case_number = $1
           UNION ALL SELECT case_id FROM submissions WHERE case_number = $1 LIMIT 1""",
        case_number,
    )
    return found


async def open_by_level(conn: asyncpg.Connection) -> dict[str | None, int]:
    """Cases not ended (closed, cancelled or merged) per level; None: no level (triage, or a department)."""
    rows = await conn.fetch(
        "SELECT level, count(*) AS n FROM cases WHERE state <> ALL($1::text[]) GROUP BY 1", values(ENDED)
    )
    return {r["level"]: int(r["n"]) for r in rows}


async def assigned_leads(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """(case_id, lead) of those cases assigned to a lead and not yet accepted."""
    return list(
        await conn.fetch(
            "SELECT case_id, lead FROM cases WHERE case_id = ANY($1) AND state = $2 AND lead IS NOT NULL",
            case_ids,
            State.ASSIGNED.value,
        )
    )


async def count_routed(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> int:
    """How many of those cases dispatch has routed to a lead or merged into another."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM cases WHERE case_id = ANY($1) AND (lead IS NOT NULL OR state = $2)",
            case_ids,
            State.MERGED.value,
        )
    )


async def with_actions(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """Those cases' state, lead and merge target, with the actions and sequence numbers of their history."""
    return list(
        await conn.fetch(
            """SELECT c.case_id, c.state, c.lead, c.merged_into,
                      coalesce(array_agg(e.action ORDER BY e.seq) FILTER (WHERE e.seq IS NOT NULL), '{}') AS actions,
                      coalesce(array_agg(e.seq ORDER BY e.seq) FILTER (WHERE e.seq IS NOT NULL), '{}') AS seqs
               FROM cases c LEFT JOIN case_events e ON e.case_id = c.case_id
               WHERE c.case_id = ANY($1) GROUP BY c.case_id""",
            case_ids,
        )
    )


async def count_cases(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM cases"))


async def newest_case(conn: asyncpg.Connection) -> uuid.UUID | None:
    """The case received last."""
    found: uuid.UUID | None = await conn.fetchval("SELECT case_id FROM cases ORDER BY received_at DESC LIMIT 1")
    return found


# ---- dispatch's writer: many rows a statement, as one JSON document (the row type turns it into columns) ----


async def lock_with_seq(conn: asyncpg.Connection, case_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The cases, locked in id order (two transactions never wait on each other in a circle), each with the
    sequence number of its last history entry (`last_seq`)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.*, (SELECT coalesce(max(e.seq), 0) FROM case_events e WHERE e.case_id = c.case_id) AS last_seq
           FROM cases c WHERE c.case_id = ANY($1::uuid[]) ORDER BY c.case_id FOR UPDATE OF c""",
        sorted(set(case_ids)),
    )
    return rows


async def near(
    conn: asyncpg.Connection,
    probes: Sequence[tuple[str, float, float, datetime, float, float]],
    states: Sequence[str],
    per_probe: int,
) -> set[uuid.UUID]:
    """Of each probe (matter, lon, lat, since, half-width and half-height of its box in degrees), the ids of the
    `per_probe` cases nearest to it in its box, of its matter, in `states`, received since `since`."""
    if not probes:
        return set()
    columns = list(zip(*probes, strict=True))
    rows = await conn.fetch(
        """SELECT DISTINCT near.case_id
           FROM unnest($1::text[], $2::float8[], $3::float8[], $4::timestamptz[], $5::float8[], $6::float8[])
                AS p(matter, lon, lat, since, dlon, dlat)
           CROSS JOIN LATERAL (
               SELECT c.case_id FROM cases c
               WHERE c.matter_code = p.matter AND c.state = ANY($7::text[]) AND c.received_at >= p.since
                 AND c.lon BETWEEN p.lon - p.dlon AND p.lon + p.dlon AND c.lat BETWEEN p.lat - p.dlat AND p.lat + p.dlat
               ORDER BY power(c.lat - p.lat, 2) + power((c.lon - p.lon) * cos(radians(p.lat)), 2)
               LIMIT $8
           ) AS near""",
        *[list(c) for c in columns],
        list(states),
        per_probe,
    )
    return {r["case_id"] for r in rows}


async def insert_rows(conn: asyncpg.Connection, columns: Sequence[str], document: str) -> None:
    """New cases: `document` is a JSON array of objects holding `columns`."""
    names = ", ".join(columns)
    await conn.execute(
        f"INSERT INTO cases ({names}) SELECT {names} FROM jsonb_populate_recordset(NULL::cases, $1::jsonb)",
        document,
    )


async def restore_reporters(conn: asyncpg.Connection, case_ids: Sequence[uuid.UUID]) -> None:
    """New cases take the full reporter intake kept with the submission (the reports topic masks the phone)."""
    await conn.execute(
        """UPDATE cases c SET reporter = s.reporter FROM submissions s
           WHERE c.case_id = ANY($1::uuid[]) AND s.case_id = c.case_id AND s.reporter IS NOT NULL""",
        list(case_ids),
    )


async def update_rows(conn: asyncpg.Connection, columns: Sequence[str], document: str) -> None:
    """Stored cases: `document` is a JSON array of objects holding `case_id` and `columns`."""
    sets = ", ".join(f"{c} = u.{c}" for c in columns)
    await conn.execute(
        f"""UPDATE cases SET {sets}, updated_at = now()
            FROM jsonb_populate_recordset(NULL::cases, $1::jsonb) AS u WHERE cases.case_id = u.case_id""",
        document,
    )


# ---- queues: the cases a person answers for, and their units' --------------------------------------------------

# The due time of the step a case waits on: accept-by until it is accepted, then resolve-by.
DUE_NEXT = f"(CASE WHEN state IN {sql_list(AWAITING_ACCEPT)} THEN accept_by ELSE resolve_by END)"
_QUEUE = f"""SELECT *, {OVERDUE} AS overdue, {DUE_NEXT} AS due_next FROM cases
    WHERE state = ANY($1::text[]) AND {{where}} AND {visible("$2")}
    ORDER BY {DUE_NEXT} NULLS LAST, received_at, case_id LIMIT $3"""


async def person_queue(
    conn: asyncpg.Connection, person: str, visibility: list[str] | None, states: Sequence[str], limit: int
) -> list[asyncpg.Record]:
    """Cases in `states` the person is responsible for (the lead's part or an assisting one), due soonest first."""
    return list(await conn.fetch(_QUEUE.format(where="persons @> ARRAY[$4::text]"), states, visibility, limit, person))


async def units_queue(
    conn: asyncpg.Connection, units: Sequence[str], visibility: list[str] | None, states: Sequence[str], limit: int
) -> list[asyncpg.Record]:
    """Cases in `states` led or assisted by one of `units`, due soonest first."""
    where = "(lead = ANY($4::text[]) OR assisting && $4::text[])"
    return list(await conn.fetch(_QUEUE.format(where=where), states, visibility, limit, list(units)))


async def unstaffed(
    conn: asyncpg.Connection, visibility: list[str] | None, states: Sequence[str], limit: int
) -> list[asyncpg.Record]:
    """Cases in `states` with a lead but no responsible person (nobody on duty and no head): flagged on the console."""
    where = "lead IS NOT NULL AND lead_person IS NULL"
    return list(await conn.fetch(_QUEUE.format(where=where), states, visibility, limit))
