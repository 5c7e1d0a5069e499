"""Case rows written straight into the shared schema, as dispatch records them, for testing the read side."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg


async def insert_case(conn: asyncpg.Connection, **fields: Any) -> uuid.UUID:
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "case_id": uuid.uuid4(),
        "case_number": f"GD-TEST-{uuid.uuid4().hex[:10]}",
        "state": "assigned",
        "source": "hotline",
        "source_ref": None,
        "matter_code": "manhole_cover_missing",
        "level": "grid",
        "lead": "unit:610199004001",
        "assisting": [],
        "place": "610199004001001006",
        "title": "井盖丢失",
        "description": "路口井盖不见了",
        "location": json.dumps({"lon": 108.9352, "lat": 34.2721}),
        "urgency": "normal",
        "households": 0,
        "reporter": json.dumps({"name": "王先生", "phone": "13812345678"}, ensure_ascii=False),
        "received_at": now,
        "accept_by": now + timedelta(hours=2),
        "resolve_by": now + timedelta(hours=72),
        "decision": json.dumps({"lead": "unit:610199004001", "trace": [{"rule": "locate.point_in_polygon"}]}),
        "scope_keys": ["unit:610199004001", "unit:610199004", "unit:610199"],
    }
    row.update(fields)
    for key in ("location", "reporter", "decision"):
        if isinstance(row[key], dict):
            row[key] = json.dumps(row[key], ensure_ascii=False)
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(f"INSERT INTO cases ({columns}) VALUES ({params})", *row.values())
    await conn.execute(
        """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor)
           VALUES ($1, 1, $2, 'assign', 'reported', $3, '{"id": "dispatch", "role": "system"}')""",
        row["case_id"],
        str(uuid.uuid4()),
        row["state"],
    )
    return row["case_id"]  # type: ignore[no-any-return]


async def append_events(conn: asyncpg.Connection, case_id: uuid.UUID, *actions: str) -> None:
    """History entries after the `assign` insert_case wrote as 1 (states and actor are placeholders)."""
    for seq, action in enumerate(actions, start=2):
        await conn.execute(
            """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor)
               VALUES ($1, $2, $3, $4, 'x', 'x', '{"id": "t"}')""",
            case_id,
            seq,
            str(uuid.uuid4()),
            action,
        )
