"""The notifications notify sent (or is still sending) about one case, from its deliveries tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    recipient: str  # subscription:<id>, person:<id> or reporter:<case>:<n>
    channel: str  # webhook, sms, email
    target: str  # URL, phone number or e-mail address
    status: str  # pending, delivered, grouped, suppressed, dead
    attempts: int
    last_error: str | None
    urgent: bool
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_attempt_at: datetime | None


async def deliveries_of(conn: asyncpg.Connection, case_id: uuid.UUID, limit: int = 500) -> list[Delivery]:
    """Newest first; `next_attempt_at` only while the delivery is still pending."""
    rows = await conn.fetch(
        """SELECT d.id, d.event_id, d.event_type, d.recipient, d.channel, d.target, d.status, d.attempts,
                  d.last_error, d.urgent, d.created_at, d.delivered_at,
                  CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
                  (SELECT max(a.at) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS last_attempt_at
           FROM deliveries d WHERE d.case_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2""",
        case_id,
        limit,
    )
    return [Delivery(**dict(r)) for r in rows]
