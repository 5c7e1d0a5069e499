"""The district map: the units of one level under a root, each with its open and overdue cases."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.intake.area import ACTIVE
from shared.domain.lifecycle import UNRESOLVED
from shared.queries.cases import OVERDUE
from shared.queries.states import values
from shared.queries.visibility import visible

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
    counts AS (
        SELECT m.feature, count(*) AS open, count(*) FILTER (WHERE {OVERDUE}) AS overdue
        FROM cases c JOIN members m ON c.lead = 'unit:' || m.code
        WHERE c.state = ANY($3::text[]) AND {visible("$4", "c.scope_keys")}
        GROUP BY m.feature
    )
    SELECT f.code, f.name, f.level, f.parent, f.boundary,
           coalesce(n.open, 0) AS open, coalesce(n.overdue, 0) AS overdue
    FROM features f LEFT JOIN counts n ON n.feature = f.code
    ORDER BY f.code"""


async def map_features(
    conn: asyncpg.Connection, roots: list[str], level: str, visibility: list[str] | None
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection; counts are of the cases `visibility` lets the client see (None: all)."""
    rows = await conn.fetch(MAP_SQL, roots, level, values(UNRESOLVED), visibility)
    return {
        "type": "FeatureCollection",
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
                },
            }
            for r in rows
        ],
    }
