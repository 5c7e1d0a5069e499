"""From an event to its audience: live-stream rows and delivery rows, written once per event.

At least once in (Kafka), exactly once into PostgreSQL: the event id is claimed in the same transaction, and
a delivery is unique per (event, recipient, channel). Deliveries themselves happen in worker.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.notify.audience import Audience, CaseView, Person, SubscriptionView, audience
from shared.events import CloudEvent, EventType, encode
from shared.logging import get_logger
from shared.queries import cases, processed_events
from shared.settings import NotifySettings

log = get_logger(__name__)
CONSUMER = "notify"


async def _case(conn: asyncpg.Connection, case_id: str) -> CaseView | None:
    try:
        key = uuid.UUID(case_id)
    except ValueError:
        return None
    row = await cases.get(conn, key)
    if row is None:
        return None
    phones = [r.get("phone") for r in await cases.reporters(conn, key)]
    return CaseView(
        case_id=case_id,
        lead=row["lead"],
        assisting=tuple(row["assisting"]),
        scope_keys=frozenset(row["scope_keys"]),
        matter_code=row["matter_code"],
        level=row["level"],
        urgency=row["urgency"],
        reporter_phones=tuple(p for p in phones if p),
    )


async def _subscriptions(conn: asyncpg.Connection) -> list[SubscriptionView]:
    rows = await conn.fetch(
        """SELECT s.*, c.units AS client_units FROM subscriptions s JOIN api_clients c ON c.id = s.client_id
           WHERE s.active AND c.revoked_at IS NULL"""
    )
    return [
        SubscriptionView(
            id=str(r["id"]),
            channel=r["channel"],
            target=r["target"],
            client_units=frozenset(r["client_units"]),
            client_key=f"client:{r['client_id']}",
            units=frozenset(r["units"]),
            matter_types=frozenset(r["matter_types"]),
            event_types=frozenset(r["event_types"]),
            levels=frozenset(r["levels"]),
        )
        for r in rows
    ]


async def _next_rung(conn: asyncpg.Connection, party: str) -> str | None:
    """The unit above a territorial party, or the department of a branch, in the active registry."""
    kind, _, code = party.partition(":")
    if kind == "unit":
        parent = await conn.fetchval(
            """SELECT parent FROM registry_units
               WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1""",
            code,
        )
        return f"unit:{parent}" if parent else None
    if kind == "branch":
        department = await conn.fetchval(
            """SELECT department FROM registry_branches
               WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1""",
            code,
        )
        return f"department:{department}" if department else None
    return None


async def _people(conn: asyncpg.Connection, assignee: str) -> list[Person]:
    """The grid workers and grid heads of a territorial unit in the active registry, with phones."""
    kind, _, code = assignee.partition(":")
    if kind != "unit":
        return []
    raw = await conn.fetchval(
        """SELECT people FROM registry_units
           WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1""",
        code,
    )
    people = json.loads(raw) if raw else []
    return [Person(p["id"], p["phone"]) for p in people if p.get("phone")]


class FanOut:
    def __init__(self, settings: NotifySettings, channels: set[str]) -> None:
        self.settings = settings
        self.channels = channels  # the channels this deployment can deliver on

    async def handle(self, conn: asyncpg.Connection, event: CloudEvent[Any], now: datetime) -> Audience | None:
        """Write the event's stream rows and deliveries; None when the event was handled before."""
        async with conn.transaction():
            if not await processed_events.claim(conn, CONSUMER, event.id):
                return None
            case = await _case(conn, event.subject)
            people: dict[str, Sequence[Person]] = {}
            next_rung = None
            if event.type is EventType.CASE_ASSIGNED:
                people[event.data.assignee] = await _people(conn, event.data.assignee)
            elif event.type is EventType.DEADLINE_FIRED:
                next_rung = await _next_rung(conn, event.data.assignee)
                if next_rung is not None:
                    people[next_rung] = await _people(conn, next_rung)
            aud = audience(event, case, await _subscriptions(conn), people, next_rung)
            case_key = uuid.UUID(case.case_id) if case else None
            if aud.streams:  # one statement for all the units' stream rows
                body = json.loads(encode(event).value)
                await conn.execute(
                    """INSERT INTO stream_events (unit, event_id, type, case_id, body)
                       SELECT unit, $2, $3, $4, $5 FROM unnest($1::text[]) AS unit
                       ON CONFLICT DO NOTHING""",
                    list(aud.streams),
                    event.id,
                    event.type.value,
                    case_key,
                    json.dumps(body, ensure_ascii=False),
                )
            # people get SMS and e-mail grouped over a short window; machines and urgent alerts at once
            rows = [
                (
                    r.key,
                    uuid.UUID(r.subscription_id) if r.subscription_id else None,
                    r.channel,
                    r.target,
                    now + timedelta(seconds=self.settings.group_window_s)
                    if r.channel != "webhook" and not aud.urgent
                    else now,
                )
                for r in aud.recipients
                if r.channel in self.channels
            ]
            if rows:  # one multi-row INSERT for the whole fan-out, in the recipients' order
                columns = [list(column) for column in zip(*rows, strict=True)]
                recipients, subscription_ids, channels, targets, dues = columns
                await conn.execute(
                    """INSERT INTO deliveries (event_id, event_type, case_id, recipient, subscription_id, channel,
                                               target, urgent, payload, next_attempt_at)
                       SELECT $1, $2, $3, r.recipient, r.subscription_id, r.channel, r.target, $4, $5, r.due
                       FROM unnest($6::text[], $7::uuid[], $8::text[], $9::text[], $10::timestamptz[])
                            AS r (recipient, subscription_id, channel, target, due)
                       ON CONFLICT DO NOTHING""",
                    event.id,
                    event.type.value,
                    case_key,
                    aud.urgent,
                    encode(event).value,
                    recipients,
                    subscription_ids,
                    channels,
                    targets,
                    dues,
                )
            return aud
