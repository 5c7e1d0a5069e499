"""Listing cases as a given client may see them (the /v1 and Open311 lists); single cases, their history and
deadlines are read through shared.queries. Visibility: the case shares a scope key with the client."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import COUNTED, FACTS, fact_predicates
from shared.api_clients import ApiClient
from shared.errors import InvalidInput
from shared.queries.cases import OVERDUE, SELECT_WITH_OVERDUE
from shared.queries.visibility import visibility_of, visible


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
    place: str | None = None  # a unit code: cases that happened in it or inside it, whoever leads them
    facts: tuple[str, ...] = ()  # the statistics' facts (case_facts.FACTS) each case must have; "received": any


# The unit $12 and every unit under it, in the active registry.
_INSIDE = f"""WITH RECURSIVE inside AS (
        SELECT code FROM registry_units WHERE version_id = {ACTIVE} AND code = $12
        UNION
        SELECT u.code FROM registry_units u JOIN inside i ON u.parent = i.code WHERE u.version_id = {ACTIVE}
    ) SELECT code FROM inside"""


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
    overdue_clause = "" if f.overdue is None else (f"AND {OVERDUE}" if f.overdue else f"AND NOT {OVERDUE}")
    if f.facts:  # the cases behind a figure of the statistics: those they count, with every fact asked for
        predicates = fact_predicates("cases")
        overdue_clause += f" AND {COUNTED}" + "".join(f" AND {predicates[name]}" for name in f.facts if name in FACTS)
    rows = await conn.fetch(
        f"""{SELECT_WITH_OVERDUE}
            WHERE {visible("$1")}
              AND ($2::text IS NULL OR $2 = ANY(scope_keys))
              AND (cardinality($3::text[]) = 0 OR state = ANY($3))
              AND ($4::text IS NULL OR matter_code = $4)
              AND ($5::timestamptz IS NULL OR received_at >= $5)
              AND ($6::timestamptz IS NULL OR received_at < $6)
              AND ($7::timestamptz IS NULL OR (received_at, case_id) < ($7, $8))
              AND ($10::text IS NULL OR level = $10)
              AND ($11::text IS NULL OR source = $11)
              AND ($12::text IS NULL OR place IN ({_INSIDE}))
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
        f.place,
    )
    page = list(rows[: f.limit])
    more = len(rows) > f.limit
    return page, encode_cursor(page[-1]["received_at"], page[-1]["case_id"]) if more and page else None
