"""SQL on `case_events`, every case's append-only history, and the filters on its actions reads share.

Dispatch appends the rows through here (services/dispatch/repository.py); everything else reads them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from shared.domain.lifecycle import TERMINAL, Action
from shared.queries.states import values


def actions_list(actions: Iterable[Action]) -> str:
    """The actions as an SQL list, `('rate_satisfied', 'rate_unsatisfied')`: safe to inline, each an Action's."""
    return "(" + ", ".join(f"'{a.value}'" for a in sorted(actions)) + ")"


# The actions that rate a case, and the one of them that counts it satisfied.
RATINGS = actions_list((Action.RATE_SATISFIED, Action.RATE_UNSATISFIED))
SATISFIED = f"'{Action.RATE_SATISFIED.value}'"


async def history(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every entry of the case's history, oldest first."""
    return list(await conn.fetch("SELECT * FROM case_events WHERE case_id = $1 ORDER BY seq", case_id))


async def terminal_details(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """(case_id, detail) of the latest entry that ended each case (cancelled or merged it)."""
    return list(
        await conn.fetch(
            """SELECT DISTINCT ON (case_id) case_id, detail FROM case_events
               WHERE case_id = ANY($1::uuid[]) AND to_state = ANY($2::text[])
               ORDER BY case_id, seq DESC""",
            case_ids,
            values(TERMINAL),
        )
    )


async def append_rows(conn: asyncpg.Connection, document: str) -> None:
    """History entries: `document` is a JSON array of rows (case_id, seq, event_id, action, from_state,
    to_state, actor, detail, at); a seq or event id taken already fails the statement."""
    await conn.execute(
        """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail, at)
           SELECT case_id, seq, event_id, action, from_state, to_state, actor, detail, at
           FROM jsonb_populate_recordset(NULL::case_events, $1::jsonb)""",
        document,
    )
