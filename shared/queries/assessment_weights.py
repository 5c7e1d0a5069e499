"""SQL on `assessment_weights`: the score's weights as the district sets them, every change a row of its own.

The intake service's assessment router writes and reads it; the newest row is in force, none means the defaults.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from shared.domain.assessment import Weights


async def current(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[Weights, asyncpg.Record | None]:
    """The weights in force and the row that set them (None: the defaults, never changed)."""
    row = await conn.fetchrow(
        "SELECT id, weights, changed_by, changed_at, note FROM assessment_weights ORDER BY id DESC LIMIT 1"
    )
    if row is None:
        return Weights(), None
    stored: dict[str, Any] = json.loads(row["weights"])
    known = {k: v for k, v in stored.items() if k in Weights.names()}  # a weight dropped since is ignored
    return Weights.of(known), row


async def record(conn: asyncpg.Connection, weights: Weights, changed_by: str, note: str) -> asyncpg.Record:
    """A new set of weights in force from now, with who set it."""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO assessment_weights (weights, changed_by, note) VALUES ($1::jsonb, $2, $3)
           RETURNING id, weights, changed_by, changed_at, note""",
        json.dumps(weights.as_dict()),
        changed_by,
        note,
    )
    return row


async def history(conn: asyncpg.Connection | asyncpg.Pool, limit: int = 20) -> list[asyncpg.Record]:
    """The latest changes, newest first."""
    return list(
        await conn.fetch(
            "SELECT id, weights, changed_by, changed_at, note FROM assessment_weights ORDER BY id DESC LIMIT $1",
            limit,
        )
    )
