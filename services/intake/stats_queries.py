"""The SQL behind the statistics: the rows asked for, and one row of facts per case of the cohort."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import COUNTED, fact_predicates
from services.intake.stats import CaseFacts
from shared.queries.case_events import RATINGS, SATISFIED
from shared.queries.visibility import visible

By = Literal["street", "community", "grid", "department"]

# Every unit under the roots, with the unit of level $2 above it (or itself) as its bucket.
AREA = f"""
    WITH RECURSIVE tree (code, name, level, bucket) AS (
        SELECT code, name, level, CASE WHEN level = $2 THEN code END FROM registry_units
        WHERE version_id = {ACTIVE} AND code = ANY($1::text[])
        UNION
        SELECT u.code, u.name, u.level, coalesce(t.bucket, CASE WHEN u.level = $2 THEN u.code END)
        FROM registry_units u JOIN tree t ON u.parent = t.code
        WHERE u.version_id = {ACTIVE}
    )"""

_LEAD_DEPARTMENT = f"""CASE
    WHEN c.lead LIKE 'department:%' THEN substr(c.lead, 12)
    WHEN c.lead LIKE 'branch:%' THEN (SELECT b.department FROM registry_branches b
                                      WHERE b.version_id = {ACTIVE} AND b.code = substr(c.lead, 8))
END"""


_P = fact_predicates("c")
FACTS = f"""
    SELECT {{bucket}} AS bucket,
        {_P["accepted_in_time"]} AS accepted_in_time,
        {_P["resolved_in_time"]} AS resolved_in_time,
        {_P["overdue"]} AS overdue,
        {_P["escalated"]} AS escalated,
        {_P["returned"]} AS returned,
        (SELECT count(*) FROM case_events e WHERE e.case_id = c.case_id AND e.action IN {RATINGS}) AS rated,
        (SELECT count(*) FROM case_events e WHERE e.case_id = c.case_id AND e.action = {SATISFIED}) AS satisfied,
        (SELECT count(*) FROM case_events e WHERE e.case_id = c.case_id AND e.action = {SATISFIED}
            AND e.detail->>'level' = 'basically_satisfied') AS basically_satisfied
    FROM cases c JOIN tree t ON c.place = t.code
    WHERE c.received_at >= $3 AND c.received_at < $4 AND c.{COUNTED}
      AND {visible("$5", "c.scope_keys")}"""


async def buckets(conn: asyncpg.Connection, roots: list[str], by: By) -> list[tuple[str, str]]:
    """The rows of the table: the units of that level in the area, or every department, by code."""
    if by == "department":
        rows = await conn.fetch(
            f"SELECT code, name FROM registry_departments WHERE version_id = {ACTIVE} ORDER BY code"
        )
    else:
        rows = await conn.fetch(
            f"{AREA} SELECT DISTINCT code, name FROM tree WHERE level = $2 ORDER BY code", roots, by
        )
    return [(r["code"], r["name"]) for r in rows]


async def case_facts(
    conn: asyncpg.Connection,
    roots: list[str],
    by: By,
    start: datetime,
    end: datetime,
    visibility: list[str] | None,
) -> list[CaseFacts]:
    """One row per case received in [start, end) that lies in the area and the client may see."""
    bucket = _LEAD_DEPARTMENT if by == "department" else "t.bucket"
    level = "district" if by == "department" else by  # departments: every case of the area, by its lead
    sql = AREA + FACTS.format(bucket=bucket)
    rows = await conn.fetch(sql, roots, level, start, end, visibility)
    return [CaseFacts(**dict(r)) for r in rows if r["bucket"] is not None]
