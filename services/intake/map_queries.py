"""The district map: the units of one level under a root, each with the open cases that lie in it.

A case lies where it happened (`cases.place`, its micro-grid or the smallest unit holding its place), whoever
leads it now: a case that climbed to the street or went to a department still counts on its grid. The totals
say how many of the area's open cases are led above the level drawn or by departments, and how many lie in
the area but in none of the units drawn (placed only at a larger unit), so that every open case is counted once.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import fact_predicates
from shared.domain.lifecycle import UNRESOLVED
from shared.domain.model import LADDER
from shared.queries.cases import OVERDUE
from shared.queries.states import values
from shared.queries.visibility import visible

_RANK = "array_position($5::text[], {level})"  # the ladder's order, smallest first

MAP_SQL = f"""
    WITH RECURSIVE tree AS (
        SELECT code, name, level, parent, boundary FROM registry_units
        WHERE version_id = {ACTIVE} AND code = ANY($1::text[])
        UNION
        SELECT u.code, u.name, u.level, u.parent, u.boundary FROM registry_units u JOIN tree t ON u.parent = t.code
        WHERE u.version_id = {ACTIVE}
    ),
    features AS (SELECT * FROM tree WHERE level = $2),
    members (feature, code) AS (
        SELECT code, code FROM features
        UNION
        SELECT m.feature, u.code FROM registry_units u JOIN members m ON u.parent = m.code
        WHERE u.version_id = {ACTIVE}
    ),
    area_cases AS (
        SELECT c.place, c.lead, {OVERDUE} AS overdue,
               {fact_predicates("c")["escalated"]} AS escalated
        FROM cases c
        WHERE c.place IN (SELECT code FROM tree) AND c.state = ANY($3::text[]) AND {visible("$4", "c.scope_keys")}
    ),
    placed AS (
        SELECT a.*, m.feature, lu.level AS lead_level
        FROM area_cases a
        LEFT JOIN members m ON m.code = a.place
        LEFT JOIN registry_units lu ON lu.version_id = {ACTIVE} AND a.lead = 'unit:' || lu.code
    ),
    counts AS (
        SELECT feature, count(*) AS open, count(*) FILTER (WHERE overdue) AS overdue,
               count(*) FILTER (WHERE escalated) AS escalated
        FROM placed WHERE feature IS NOT NULL GROUP BY feature
    )
    SELECT f.code, f.name, f.level, f.parent, f.boundary,
           coalesce(n.open, 0) AS open, coalesce(n.overdue, 0) AS overdue, coalesce(n.escalated, 0) AS escalated,
           NULL::bigint AS outside, NULL::bigint AS led_above, NULL::bigint AS by_departments
    FROM features f LEFT JOIN counts n ON n.feature = f.code
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, count(*), count(*) FILTER (WHERE overdue), count(*) FILTER (WHERE escalated),
           count(*) FILTER (WHERE feature IS NULL),
           count(*) FILTER (WHERE {_RANK.format(level="lead_level")} > {_RANK.format(level="$2")}),
           count(*) FILTER (WHERE lead LIKE 'department:%' OR lead LIKE 'branch:%')
    FROM placed
    ORDER BY 1 NULLS LAST"""


async def map_features(
    conn: asyncpg.Connection, roots: list[str], level: str, visibility: list[str] | None
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with a `totals` member; counts are of the cases `visibility` lets the client
    see (None: all)."""
    rows = await conn.fetch(MAP_SQL, roots, level, values(UNRESOLVED), visibility, [lv.value for lv in LADDER])
    *units, whole = rows
    return {
        "type": "FeatureCollection",
        "totals": {
            "open": whole["open"],
            "overdue": whole["overdue"],
            "escalated": whole["escalated"],
            "outside_units_shown": whole["outside"],
            "led_above_level": whole["led_above"],
            "led_by_departments": whole["by_departments"],
        },
        "features": [
            {
                "type": "Feature",
                "id": r["code"],
                "geometry": json.loads(r["boundary"]) if r["boundary"] else None,
                "properties": {
                    "code": r["code"],
                    "name": r["name"],
                    "level": r["level"],
                    "parent": r["parent"],
                    "open": r["open"],
                    "overdue": r["overdue"],
                    "escalated": r["escalated"],
                },
            }
            for r in units
        ],
    }
