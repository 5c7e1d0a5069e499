"""The big screen's figures (大屏, GET /v1/dashboard) of an area: today's reports by channel, what is open, trends
over days and months, where reports cluster, and the latest escalations. Every figure counts only what the
client may see that happened in the area (the map's `place` rule); days and months are the district's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import fact_predicates
from shared.domain.lifecycle import UNRESOLVED, Action
from shared.queries.cases import OVERDUE
from shared.queries.states import values
from shared.queries.visibility import visible

# Every unit under the roots $1 (and the roots).
_INSIDE = f"""WITH RECURSIVE inside AS (
        SELECT code FROM registry_units WHERE version_id = {ACTIVE} AND code = ANY($1::text[])
        UNION
        SELECT u.code FROM registry_units u JOIN inside i ON u.parent = i.code WHERE u.version_id = {ACTIVE}
    )"""
_AREA = f"""c.place IN (SELECT code FROM inside) AND {visible("$2", "c.scope_keys")}"""

_TODAY = f"""{_INSIDE}
    SELECT c.source, count(*) AS n FROM cases c WHERE c.received_at >= $3 AND {_AREA} GROUP BY c.source"""

_STEPS_TODAY = f"""{_INSIDE}
    SELECT e.action, count(*) AS n FROM case_events e JOIN cases c ON c.case_id = e.case_id
    WHERE e.at >= $3 AND e.action = ANY($4::text[]) AND {_AREA} GROUP BY e.action"""

_OPEN = f"""{_INSIDE}
    SELECT count(*) AS open, count(*) FILTER (WHERE {OVERDUE}) AS overdue,
           count(*) FILTER (WHERE {fact_predicates("c")["escalated"]}) AS escalated
    FROM cases c WHERE c.state = ANY($3::text[]) AND {_AREA}"""

# Received and resolved per district day ($5: 'day' or 'month') from $3 on, zero-filled.
_TREND = f"""{_INSIDE},
    buckets AS (
        SELECT generate_series(date_trunc($5, $3 AT TIME ZONE $4), date_trunc($5, now() AT TIME ZONE $4),
                               ('1 ' || $5)::interval) AS bucket
    ),
    received AS (
        SELECT date_trunc($5, c.received_at AT TIME ZONE $4) AS bucket, count(*) AS n
        FROM cases c WHERE c.received_at >= $3 AND {_AREA} GROUP BY 1
    ),
    resolved AS (
        SELECT date_trunc($5, e.at AT TIME ZONE $4) AS bucket, count(*) AS n
        FROM case_events e JOIN cases c ON c.case_id = e.case_id
        WHERE e.at >= $3 AND e.action = '{Action.RESOLVE}' AND {_AREA} GROUP BY 1
    )
    SELECT b.bucket, coalesce(r.n, 0) AS received, coalesce(s.n, 0) AS resolved
    FROM buckets b LEFT JOIN received r USING (bucket) LEFT JOIN resolved s USING (bucket) ORDER BY b.bucket"""

# Reports since $3 binned to cells of $4 degrees (about 200 m at 0.002), the busiest first.
_HOTSPOTS = f"""{_INSIDE}
    SELECT round(c.lon / $4) * $4 AS lon, round(c.lat / $4) * $4 AS lat, count(*) AS n
    FROM cases c WHERE c.received_at >= $3 AND c.lon IS NOT NULL AND c.lat IS NOT NULL AND {_AREA}
    GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT $5"""

_ESCALATIONS = f"""{_INSIDE}
    SELECT c.case_id, c.case_number, c.title, c.urgency, e.at, e.detail
    FROM case_events e JOIN cases c ON c.case_id = e.case_id
    WHERE e.action = '{Action.ESCALATE}' AND e.at >= $3 AND {_AREA}
    ORDER BY e.at DESC, e.case_id LIMIT $4"""


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    roots: list[str]
    visibility: list[str] | None
    tz: ZoneInfo
    now: datetime
    days: int = 30
    months: int = 12
    cell_degrees: float = 0.002
    hotspots: int = 300
    escalations: int = 20


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def dashboard(conn: asyncpg.Connection, q: DashboardQuery) -> dict[str, Any]:
    local_now = q.now.astimezone(q.tz)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    days_from = today - timedelta(days=q.days - 1)
    month_start = today.replace(day=1)
    year, month = divmod(month_start.year * 12 + month_start.month - 1 - (q.months - 1), 12)
    months_from = month_start.replace(year=year, month=month + 1)
    zone = str(q.tz)
    area = (q.roots, q.visibility)
    by_source = {r["source"]: r["n"] for r in await conn.fetch(_TODAY, *area, today)}
    steps = {
        r["action"]: r["n"]
        for r in await conn.fetch(_STEPS_TODAY, *area, today, [Action.RESOLVE.value, Action.CLOSE.value])
    }
    opened = await conn.fetchrow(_OPEN, *area, values(UNRESOLVED))
    days = await conn.fetch(_TREND, *area, days_from, zone, "day")
    months = await conn.fetch(_TREND, *area, months_from, zone, "month")
    spots = await conn.fetch(_HOTSPOTS, *area, days_from, q.cell_degrees, q.hotspots)
    escalations = await conn.fetch(_ESCALATIONS, *area, today - timedelta(days=7), q.escalations)
    return {
        "today": {
            "received": sum(by_source.values()),
            "by_source": by_source,
            "resolved": steps.get(Action.RESOLVE.value, 0),
            "closed": steps.get(Action.CLOSE.value, 0),
        },
        "open": {"open": opened["open"], "overdue": opened["overdue"], "escalated": opened["escalated"]},
        "trend_days": [
            {"day": r["bucket"].date().isoformat(), "received": r["received"], "resolved": r["resolved"]} for r in days
        ],
        "trend_months": [
            {"month": r["bucket"].strftime("%Y-%m"), "received": r["received"], "resolved": r["resolved"]}
            for r in months
        ],
        "hotspots": {
            "since": days_from.isoformat(),
            "cell_degrees": q.cell_degrees,
            "cells": [{"lon": float(r["lon"]), "lat": float(r["lat"]), "count": r["n"]} for r in spots],
        },
        "escalations": [
            {
                "case_id": str(r["case_id"]),
                "case_number": r["case_number"],
                "title": r["title"],
                "urgency": r["urgency"],
                "at": r["at"].isoformat(),
                "from": (_json(r["detail"]) or {}).get("from"),
                "to": (_json(r["detail"]) or {}).get("to"),
            }
            for r in escalations
        ],
    }
