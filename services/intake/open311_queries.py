"""What the Open311 face reads from PostgreSQL: the active catalog and registry, and requests as a client sees them.

Cases, submissions and their history are read through shared.queries and case_queries (the same visibility as
/v1); the catalog and registry reads only Open311 makes live here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import asyncpg

from services.intake.case_queries import CaseFilter, list_cases
from services.intake.open311_schemas import Building, ReadContext, Service
from shared.api_clients import ApiClient
from shared.domain.lifecycle import TERMINAL
from shared.queries import case_events, submissions
from shared.queries.cases import id_of_number, numbers
from shared.queries.visibility import visibility_of

ACTIVE = "(SELECT version_id FROM registry_active)"
_TABLE_OF_LEAD = {"unit": "registry_units", "branch": "registry_branches", "department": "registry_departments"}


def _service(row: asyncpg.Record) -> Service:
    definition = row["definition"]
    return Service(
        code=row["code"],
        name=row["name"],
        name_en=row["name_en"],
        level=row["level"],
        definition=json.loads(definition) if isinstance(definition, str) else definition,
    )


async def services(conn: asyncpg.Connection) -> list[Service]:
    rows = await conn.fetch(
        f"SELECT code, name, name_en, level, definition FROM matter_types WHERE version_id = {ACTIVE} ORDER BY code"
    )
    return [_service(r) for r in rows]


async def service(conn: asyncpg.Connection, code: str) -> Service | None:
    row = await conn.fetchrow(
        f"""SELECT code, name, name_en, level, definition FROM matter_types
            WHERE version_id = {ACTIVE} AND code = $1""",
        code,
    )
    return _service(row) if row else None


async def building(conn: asyncpg.Connection, code: str) -> Building | None:
    row = await conn.fetchrow(
        f"""SELECT code, address, micro_grid, lon, lat FROM registry_buildings
            WHERE version_id = {ACTIVE} AND code = $1""",
        code,
    )
    return Building(row["code"], row["address"], row["micro_grid"], row["lon"], row["lat"]) if row else None


async def catalog_changed_at(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT switched_at FROM registry_active")
    return value


async def resolve_id(conn: asyncpg.Connection, request_id: str) -> uuid.UUID | None:
    """A service_request_id is a case number (or, for convenience, a case id)."""
    try:
        return uuid.UUID(request_id)
    except ValueError:
        pass
    return await id_of_number(conn, request_id)


async def find(
    conn: asyncpg.Connection, client: ApiClient, request_id: str
) -> tuple[asyncpg.Record | None, asyncpg.Record | None]:
    """(case, None) once dispatch recorded it, (None, submission) before, (None, None) if not visible."""
    case_id = await resolve_id(conn, request_id)
    if case_id is None:
        return None, None
    return await submissions.case_or_submission(conn, visibility_of(client), case_id)


async def search_cases(
    conn: asyncpg.Connection, client: ApiClient, base: CaseFilter, codes: Iterable[str]
) -> list[asyncpg.Record]:
    """Visible cases of any of the matter codes (all when none), newest first, at most base.limit."""
    found: list[asyncpg.Record] = []
    wanted: list[str | None] = [*codes] or [None]
    for code in wanted:
        rows, _ = await list_cases(conn, client, replace(base, matter=code))
        found.extend(rows)
    found.sort(key=lambda r: (r["received_at"], r["case_id"]), reverse=True)
    return found[: base.limit]


async def pending(
    conn: asyncpg.Connection, client: ApiClient, since: datetime | None, until: datetime | None, limit: int
) -> list[asyncpg.Record]:
    """Visible submissions that dispatch has not yet recorded as cases, newest first."""
    return await submissions.not_yet_cases(conn, visibility_of(client), since, until, limit)


async def read_context(conn: asyncpg.Connection, cases: list[asyncpg.Record]) -> ReadContext:
    """Service names, agency names, merge targets and reasons for a page of cases, in a few queries."""
    ended = [r["case_id"] for r in cases if r["state"] in TERMINAL]
    targets = [r["merged_into"] for r in cases if r["merged_into"] is not None]
    return ReadContext(
        services={s.code: s for s in await services(conn)},
        agencies=await _agencies(conn, {r["lead"] for r in cases if r["lead"]}),
        merged_into=await numbers(conn, targets),
        reasons=await _reasons(conn, ended),
    )


async def _agencies(conn: asyncpg.Connection, leads: set[str]) -> dict[str, str]:
    """lead (unit:<code>, branch:<code>, department:<code>) -> its name in the active registry."""
    names: dict[str, str] = {}
    for kind, table in _TABLE_OF_LEAD.items():
        codes = [lead.split(":", 1)[1] for lead in leads if lead.startswith(f"{kind}:")]
        if not codes:
            continue
        rows = await conn.fetch(
            f"SELECT code, name FROM {table} WHERE version_id = {ACTIVE} AND code = ANY($1::text[])", codes
        )
        names.update({f"{kind}:{r['code']}": r["name"] for r in rows})
    return names


async def _reasons(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The text (or reason code) of the event that cancelled or merged each case."""
    if not case_ids:
        return {}
    rows = await case_events.terminal_details(conn, case_ids)
    reasons: dict[uuid.UUID, str] = {}
    for r in rows:
        detail = json.loads(r["detail"]) if isinstance(r["detail"], str) else (r["detail"] or {})
        text = detail.get("text") or detail.get("reason") or detail.get("reason_code")
        if text:
            reasons[r["case_id"]] = str(text)
    return reasons
