"""From an event to its audience: live-stream rows and delivery rows, written once per event.

At least once in (Kafka), exactly once into PostgreSQL: the event id is claimed in the same transaction, and
a delivery is unique per (event, recipient, channel). Deliveries themselves happen in worker.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from prometheus_client import Counter

from services.notify.audience import Audience, CaseView, Person, SubscriptionView, audience
from services.notify.paging import LEVEL_NAMES, NOBODY, Paged, Step, contacts, named_person, page, party_of, reach
from shared.events import CloudEvent, EventType, encode
from shared.logging import get_logger
from shared.people.duty import EMPTY, PeopleSnapshot, Roster, build_snapshot
from shared.queries import cases, processed_events, rosters
from shared.settings import NotifySettings

log = get_logger(__name__)
CONSUMER = "notify"
PAGED = Counter(
    "griddispatch_notify_paged_total",
    "Persons an alert paged, by the level of the unit's escalation policy that named them",
    ["level"],
)
UNDELIVERABLE = Counter(
    "griddispatch_notify_undeliverable_total", "Persons paged with no deliverable phone (none, or a masked one)"
)
UNSTAFFED = Counter(
    "griddispatch_notify_unstaffed_total",
    "Alerts for a party nobody answers for (no responsible person recorded), by the party's level",
    ["level"],
)


def _count(event: CloudEvent[Any], paging: Paging) -> None:
    for _, level in paging.paged.persons:
        PAGED.labels(level).inc()
    if paging.unreachable:
        UNDELIVERABLE.inc(len(paging.unreachable))
        log.warning("paged_without_phone", persons=list(paging.unreachable), party=party_of(event))
    if paging.paged.unstaffed:
        UNSTAFFED.labels(paging.level).inc()
        log.warning(
            "unstaffed_alert",
            case_id=event.subject,
            unit=party_of(event),
            event_type=event.type.value,
            paged=list(paging.paged.ids),
        )


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
        lead_person=row["lead_person"],
        part_persons=_json_object(row["part_persons"]),
    )


def _json_object(value: Any) -> dict[str, str]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return {str(k): str(v) for k, v in (loaded or {}).items()}


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


@dataclass(frozen=True, slots=True)
class Rung:
    """A party's level (a registry level, `department`, `branch` or `unknown`) and the unit above it."""

    level: str
    above: str | None = None
    above_level: str | None = None


async def _rung(conn: asyncpg.Connection, party: str) -> Rung:
    """The party's level and the unit above it (a territorial unit's parent, a branch's department), one query."""
    kind, _, code = party.partition(":")
    if kind == "unit":
        row = await conn.fetchrow(
            """SELECT u.level, u.parent, p.level AS parent_level FROM registry_units u
               LEFT JOIN registry_units p ON p.version_id = u.version_id AND p.code = u.parent
               WHERE u.version_id = (SELECT version_id FROM registry_active) AND u.code = $1""",
            code,
        )
        if row is None:
            return Rung("unknown")
        parent = f"unit:{row['parent']}" if row["parent"] else None
        return Rung(row["level"], parent, row["parent_level"])
    if kind == "branch":
        department = await conn.fetchval(
            """SELECT department FROM registry_branches
               WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1""",
            code,
        )
        return Rung("branch", f"department:{department}" if department else None)
    return Rung("department" if kind == "department" else "unknown")


@dataclass(frozen=True, slots=True)
class Paging:
    """What the policy decided for one event, with what the I/O needs to count and log it."""

    paged: Paged = NOBODY
    people: tuple[Person, ...] = ()
    unreachable: tuple[str, ...] = ()
    level: str = "unknown"
    above: str | None = None


class FanOut:
    def __init__(self, settings: NotifySettings, channels: set[str], base: PeopleSnapshot = EMPTY) -> None:
        self.settings = settings
        self.channels = channels  # the channels this deployment can deliver on
        self.base = base  # the district's calendar and time zone: rosters follow them

    def _snapshot(self, rows: list[asyncpg.Record], units: list[Roster]) -> tuple[PeopleSnapshot, dict[str, Any]]:
        active = {r["person_id"] for r in rows if r["status"] == "active"}
        grants = {(r["person_id"], r["role"], r["unit"]) for r in rows if r["role"] is not None}
        snap = build_snapshot(active, grants, units, calendar=self.base.calendar, tz=self.base.tz)
        return snap, {r["person_id"]: r["phone"] for r in rows}

    async def _paging(self, conn: asyncpg.Connection, event: CloudEvent[Any], case: CaseView | None) -> Paging:
        """Who the event pages, from one set of queries: the party's rung, the persons of the party and of the
        rung above with their phones, and those units' rosters. An assignment naming an active person reads only
        that person's row."""
        step, party = reach(event), party_of(event)
        if party is None:
            return Paging()
        if step is Step.NONE or (case is None and event.type is EventType.DEADLINE_FIRED):
            rung = await _rung(conn, party)  # nobody paged (or a case unknown here); the next rung still streams it
            return Paging(level=rung.level, above=rung.above)
        named = named_person(event, case)
        if event.type is EventType.CASE_ASSIGNED and named is not None:
            rows = await rosters.contacts_of(conn, [], [named])
            snap, phones = self._snapshot(rows, [])
            if named in snap.active:  # dispatch chose them a moment ago: no rung, no roster needed
                paged = Paged(((named, LEVEL_NAMES[Step.RESPONSIBLE]),), False, step)
                people, unreachable = contacts(paged, phones)
                return Paging(paged, people, unreachable)
        rung = await _rung(conn, party)
        units = [party, *([rung.above] if rung.above else [])]
        rows = await rosters.contacts_of(conn, units, [named] if named else [])
        snap, phones = self._snapshot(rows, await rosters.rosters_of(conn, units))
        paged = page(
            step, party, named, event.time, snap, level=rung.level, next_rung=rung.above, next_level=rung.above_level
        )
        people, unreachable = contacts(paged, phones)
        return Paging(paged, people, unreachable, rung.level, rung.above)

    async def handle(self, conn: asyncpg.Connection, event: CloudEvent[Any], now: datetime) -> Audience | None:
        """Write the event's stream rows and deliveries; None when the event was handled before."""
        async with conn.transaction():
            if not await processed_events.claim(conn, CONSUMER, event.id):
                return None
            case = await _case(conn, event.subject)
            paging = await self._paging(conn, event, case)
            aud = audience(
                event, case, await _subscriptions(conn), paging.people, paging.above, unstaffed=paging.paged.unstaffed
            )
            case_key = uuid.UUID(case.case_id) if case else None
            if aud.streams:  # one statement for all the units' stream rows
                body = {**json.loads(encode(event).value), **aud.extra}
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
        _count(event, paging)  # once committed: a retried transaction counts once
        return aud
