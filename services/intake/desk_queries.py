"""The supervision desk (督办台): the open cases of an area as a duty officer works them, the most overdue first.

One statement: every unresolved case the client may see whose place lies in the area (the case list's `place`
rule: where it happened, whoever leads it now), with what the desk sorts and filters by, and how many of them
each filter holds (the filter chips' counts are the lists they open, never a separate figure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import fact_predicates
from shared.api_clients import ApiClient
from shared.domain.lifecycle import AWAITING_ACCEPT, UNRESOLVED
from shared.queries.cases import OVERDUE
from shared.queries.states import sql_list, values
from shared.queries.visibility import visibility_of, visible

# What the desk can narrow the list to; each also counted over the whole area.
FILTERS = ("overdue", "escalated", "waiting_department", "summoned_pending")

_DESK = f"""
    WITH RECURSIVE inside AS (
        SELECT code FROM registry_units WHERE version_id = {ACTIVE} AND code = $3
        UNION
        SELECT u.code FROM registry_units u JOIN inside i ON u.parent = i.code WHERE u.version_id = {ACTIVE}
    ),
    area AS (
        SELECT c.*,
               {OVERDUE} AS overdue,
               CASE WHEN c.state IN {sql_list(AWAITING_ACCEPT)} THEN 'accept' ELSE 'resolve' END AS due_kind,
               CASE WHEN c.state IN {sql_list(AWAITING_ACCEPT)} THEN c.accept_by ELSE c.resolve_by END AS due_at,
               coalesce((c.progress->>'escalations')::int, 0) AS escalations,
               {fact_predicates("c")["escalated"]} AS ever_escalated,
               (c.lead LIKE 'department:%' OR c.lead LIKE 'branch:%') AS waiting_department,
               ARRAY(SELECT p FROM jsonb_array_elements_text(coalesce(c.progress->'owing', '[]')) p
                     WHERE p LIKE 'department:%' OR p LIKE 'branch:%' ORDER BY p) AS summoned_pending,
               jsonb_array_length(coalesce(c.supervision->'orders', '[]')) AS orders
        FROM cases c
        WHERE c.state = ANY($2::text[]) AND {visible("$1", "c.scope_keys")}
          AND ($3::text IS NULL OR c.place IN (SELECT code FROM inside))
    ),
    chosen AS (
        SELECT * FROM area
        WHERE (NOT ('overdue' = ANY($4)) OR overdue)
          AND (NOT ('escalated' = ANY($4)) OR ever_escalated)
          AND (NOT ('waiting_department' = ANY($4)) OR waiting_department)
          AND (NOT ('summoned_pending' = ANY($4)) OR cardinality(summoned_pending) > 0)
    )
    SELECT (SELECT json_build_object(
                'all', count(*),
                'overdue', count(*) FILTER (WHERE overdue),
                'escalated', count(*) FILTER (WHERE ever_escalated),
                'waiting_department', count(*) FILTER (WHERE waiting_department),
                'summoned_pending', count(*) FILTER (WHERE cardinality(summoned_pending) > 0))
            FROM area) AS counts,
           (SELECT count(*) FROM chosen) AS total,
           coalesce((SELECT json_agg(row_to_json(page)) FROM (
               SELECT case_id, case_number, title, state, urgency, level, lead, place, matter_code, received_at,
                      overdue, due_kind, due_at, escalations, ever_escalated, waiting_department, summoned_pending,
                      orders, supervision->>'supervisor' AS supervisor
               FROM chosen
               ORDER BY overdue DESC,
                        -- the most overdue first; then what falls due soonest
                        CASE WHEN overdue THEN due_at END ASC NULLS LAST,
                        array_position(ARRAY['emergency', 'high', 'normal', 'low'], urgency),
                        escalations DESC,
                        due_at ASC NULLS LAST,
                        received_at, case_id
               LIMIT $5 OFFSET $6) page), '[]') AS items
"""


@dataclass(frozen=True, slots=True)
class DeskQuery:
    place: str | None = None  # a unit code: cases that happened in it or below it; None: all the client sees
    filters: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0


async def desk(conn: asyncpg.Connection, client: ApiClient, q: DeskQuery) -> dict[str, Any]:
    row = await conn.fetchrow(
        _DESK, visibility_of(client), values(UNRESOLVED), q.place, list(q.filters), q.limit, q.offset
    )
    counts, items = _json(row["counts"]), _json(row["items"])
    return {"counts": counts, "total": row["total"], "items": items}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
