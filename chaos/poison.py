"""Poison messages put straight onto dispatch's input topics, and the check that each went where it must.

What dispatch does with each kind (services/dispatch/runtime.py and its handlers; the reasons are those
griddispatch/asyncapi.py's DEAD_LETTER_REASONS documents):

* `not_json` on reports, actions and deadlines: bytes that are not JSON -> dead letter `not_json`;
* `unexpected_type` on reports and actions: a valid CloudEvent of a type dispatch does not consume (a probe)
  -> dead letter `unexpected_type`;
* `invalid_report` on reports: a ReportSubmitted whose data fails validation -> dead letter `invalid_event`;
* `invalid_deadline` on deadlines: a DeadlineFired whose data fails validation -> dead letter `invalid_event`;
* `duplicate_case_number` on reports: a valid ReportSubmitted under a new case id with the case number of an
  accepted case -> dead letter `duplicate_case_number`, no case opened;
* `unknown_case` on actions: a valid ActionRequested on a case that does not exist -> no dead letter, but one
  published `rejected` event (ActionRejected, code `unknown_case`, state none) on case-events, and the action
  recorded as processed.

No valid probe goes on the deadlines topic: notify reads that topic too and would fan a decodable event
out to the webhook, which the ledger would rightly call an event nobody published.

`check_poison(...)` is pure (tests/unit/test_chaos_poison.py); `DeadLetterCheck` reads the dead-letter topic and
the database and is what the harness runs in its drain (`Harness.add_check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from chaos.ledger import Violation
from shared.events import EventType, encode, new_event
from shared.events.types import ActionRequested, Actor, Location, Probe, ReportSubmitted
from shared.topics import Topics

SOURCE = "chaos/poison"
REJECTED_CODE = "unknown_case"  # ActionRejected.code for an action on a case dispatch never heard of


@dataclass(frozen=True)
class Poison:
    kind: str
    topic: str
    key: bytes
    value: bytes
    reason: str | None  # the `dlq_reason` expected; None: answered with a `rejected` case event instead
    event_id: str | None = None  # of a CloudEvent
    case_id: str | None = None  # the case id it names (a report's would-be case, an action's case)


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    reason: str  # the dlq_reason header ("" if missing)
    source: str  # the dlq_source header: topic:partition:offset

    @property
    def source_topic(self) -> str:
        return self.source.rsplit(":", 2)[0]


@dataclass(frozen=True)
class Rejection:
    event_id: str
    action_event_id: str
    code: str
    state: str | None
    published: bool


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _raw_event(event_type: EventType, subject: str, data: dict[str, Any]) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event_type.value,
        "subject": subject,
        "time": _now(),
        "datacontenttype": "application/json",
        "data": data,
    }
    return event_id, json.dumps(body, ensure_ascii=False).encode()


def not_json(topic: str) -> Poison:
    key = str(uuid.uuid4())
    return Poison("not_json", topic, key.encode(), f"poison {key} {{not json".encode(), "not_json")


def unexpected_type(topic: str) -> Poison:
    subject = str(uuid.uuid4())
    event = new_event(Probe(note="chaos poison: a type dispatch does not consume"), source=SOURCE, subject=subject)
    encoded = encode(event)
    return Poison("unexpected_type", topic, encoded.key, encoded.value, "unexpected_type", event.id)


def invalid_report(topics: Topics) -> Poison:
    case_id = str(uuid.uuid4())
    data = {  # no title, a longitude off the globe, a negative household count
        "case_id": case_id,
        "case_number": f"POISON-{case_id[:8]}",
        "source": "hotline",
        "location": {"lon": 500.0, "lat": 0.0},
        "households_affected": -1,
        "received_at": _now(),
    }
    event_id, value = _raw_event(EventType.REPORT_SUBMITTED, case_id, data)
    return Poison("invalid_report", topics.reports, case_id.encode(), value, "invalid_event", event_id, case_id)


def invalid_deadline(topics: Topics) -> Poison:
    case_id = str(uuid.uuid4())
    data = {"case_id": case_id, "deadline_id": str(uuid.uuid4()), "kind": "accept", "tier": "never"}
    event_id, value = _raw_event(EventType.DEADLINE_FIRED, case_id, data)
    return Poison("invalid_deadline", topics.deadlines, case_id.encode(), value, "invalid_event", event_id, case_id)


def duplicate_case_number(topics: Topics, case_number: str, lon: float, lat: float) -> Poison:
    case_id = str(uuid.uuid4())
    report = ReportSubmitted(
        case_id=case_id,
        case_number=case_number,
        source="hotline",
        title="路灯不亮",
        description="chaos poison: the case number of an accepted case under a new case id",
        location=Location(lon=lon, lat=lat),
        received_at=datetime.now(UTC),
    )
    encoded = encode(event := new_event(report, source=SOURCE, subject=case_id))
    return Poison(
        "duplicate_case_number", topics.reports, encoded.key, encoded.value, "duplicate_case_number", event.id, case_id
    )


def unknown_case(topics: Topics) -> Poison:
    case_id = str(uuid.uuid4())
    action = ActionRequested(
        case_id=case_id, action="accept", actor=Actor(id="chaos-poison", role="assignee", unit="unit:610199004001")
    )
    encoded = encode(event := new_event(action, source=SOURCE, subject=case_id))
    return Poison("unknown_case", topics.actions, encoded.key, encoded.value, None, event.id, case_id)


def poison_round(topics: Topics, case_number: str, lon: float, lat: float) -> list[Poison]:
    """One of each kind on each topic it can go to: nine messages."""
    return [
        not_json(topics.reports),
        not_json(topics.actions),
        not_json(topics.deadlines),
        unexpected_type(topics.reports),
        unexpected_type(topics.actions),
        invalid_report(topics),
        invalid_deadline(topics),
        duplicate_case_number(topics, case_number, lon, lat),
        unknown_case(topics),
    ]


class Injector:
    """A raw aiokafka producer (acks=all) that puts poison on the topics, a little apart, in random order."""

    def __init__(self, bootstrap_servers: str, seed: int = 14) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", client_id="chaos-poison")
        self.sent: list[Poison] = []
        self._rnd = random.Random(seed)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, poisons: Iterable[Poison], spread_s: float) -> None:
        """Each poison once, shuffled, over about `spread_s`: between the valid events of the same partitions."""
        batch = list(poisons)
        self._rnd.shuffle(batch)
        for poison in batch:
            await self.producer.send_and_wait(poison.topic, poison.value, key=poison.key)
            self.sent.append(poison)
            await asyncio.sleep(self._rnd.uniform(0.5, 1.5) * spread_s / max(len(batch), 1))


def check_poison(
    poisons: Iterable[Poison],
    dead_letters: Iterable[DeadLetter],
    rejections: Iterable[Rejection],
    processed: set[str],
    poison_cases: set[str],
    exactly_once: bool,
) -> list[Violation]:
    """Every poison dead-lettered with its reason (exactly once, or at least once if a worker restarted), the
    action on an unknown case answered with one published `rejected` event and applied, no case opened for a
    poison report, and nothing dead-lettered that is not a poison (a valid event)."""
    poisons = list(poisons)
    by_value: dict[bytes, list[DeadLetter]] = defaultdict(list)
    for letter in dead_letters:
        by_value[letter.value].append(letter)
    by_action: dict[str, list[Rejection]] = defaultdict(list)
    for rejection in rejections:
        by_action[rejection.action_event_id].append(rejection)
    out = []
    for p in poisons:
        subject = f"{p.kind} {p.event_id or p.key.decode(errors='replace')}"
        letters = by_value.get(p.value, [])
        if p.reason is None:
            if letters:
                out.append(Violation("poison", subject, f"dead-lettered {len(letters)}x; expected a rejected event"))
            got = by_action.get(p.event_id or "", [])
            if len(got) != 1:
                out.append(Violation("poison", subject, f"{len(got)} rejected events, expected 1"))
            for r in got:
                if r.code != REJECTED_CODE or r.state is not None:
                    detail = f"rejected with code {r.code} in state {r.state}, expected {REJECTED_CODE} and none"
                    out.append(Violation("poison", subject, detail))
                if not r.published:
                    out.append(Violation("poison", subject, f"rejected event {r.event_id} never published"))
            if p.event_id not in processed:
                out.append(Violation("poison", subject, "not recorded as processed by dispatch"))
            continue
        if not letters:
            out.append(Violation("poison", subject, f"not on the dead-letter topic (expected reason {p.reason})"))
        elif exactly_once and len(letters) > 1:
            out.append(Violation("poison", subject, f"dead-lettered {len(letters)} times, expected once"))
        for letter in letters:
            if letter.reason != p.reason:
                out.append(Violation("poison", subject, f"dlq_reason {letter.reason!r}, expected {p.reason!r}"))
            if letter.source_topic != p.topic:
                out.append(Violation("poison", subject, f"dlq_source {letter.source}, sent to {p.topic}"))
            if letter.key != p.key:
                out.append(Violation("poison", subject, "dead-lettered under another key"))
        if p.case_id is not None and p.case_id in poison_cases:
            out.append(Violation("poison", subject, f"a case {p.case_id} exists for it"))
    ours = {p.value for p in poisons}
    for value, letters in by_value.items():
        if value not in ours:
            for letter in letters:
                detail = f"dead-lettered ({letter.reason}) but not a poison: a valid message lost"
                out.append(Violation("dead-letters", letter.source, detail))
    return out


async def read_dead_letters(bootstrap_servers: str, topic: str, timeout_s: float = 30.0) -> list[DeadLetter]:
    """Every message on the dead-letter topic, from the beginning up to its end now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False, client_id="chaos-dead-letters"
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="chaos-dead-letters")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])
    if not partitions:
        return []  # not created yet: nothing dead-lettered
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        async with asyncio.timeout(timeout_s):
            while await behind():
                batch = await consumer.getmany(*tps, timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        headers = {k: v.decode(errors="replace") for k, v in r.headers}
                        letters.append(
                            DeadLetter(
                                r.key, r.value or b"", headers.get("dlq_reason", ""), headers.get("dlq_source", "")
                            )
                        )
        return letters
    finally:
        await consumer.stop()


@dataclass
class DeadLetterCheck:
    """The drain's extra check: what reached the dead-letter topic, against the poisons sent (none: nothing may)."""

    bootstrap_servers: str
    db_url: str
    topics: Topics
    poisons: list[Poison] = field(default_factory=list)  # the injector's `sent`: grows while it runs
    exactly_once: Callable[[], bool] = lambda: True
    _figures: dict[str, int] = field(default_factory=dict)

    async def violations(self) -> list[Violation]:
        letters = await read_dead_letters(self.bootstrap_servers, self.topics.dead_letter)
        poisons = list(self.poisons)
        actions = [p for p in poisons if p.reason is None and p.case_id]
        reports = [p.case_id for p in poisons if p.topic == self.topics.reports and p.case_id]
        conn = await asyncpg.connect(self.db_url, timeout=10)
        try:
            rows = await conn.fetch(
                """SELECT event_id, value, published_at IS NOT NULL AS published FROM outbox
                   WHERE topic = $1 AND key = ANY($2)""",
                self.topics.case_events,
                [p.case_id for p in actions],
            )
            ids = [p.event_id for p in actions]
            processed = {
                r["event_id"]
                for r in await conn.fetch(
                    "SELECT event_id FROM processed_events WHERE consumer = 'dispatch' AND event_id = ANY($1)", ids
                )
            }
            cases = {
                str(r["case_id"])
                for r in await conn.fetch(
                    "SELECT case_id FROM cases WHERE case_id = ANY($1)", [uuid.UUID(c) for c in reports]
                )
            }
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        rejections = []
        for r in rows:
            event = json.loads(bytes(r["value"]))
            if event.get("type") != EventType.ACTION_REJECTED.value:
                continue
            data = event["data"]
            rejections.append(
                Rejection(r["event_id"], data["action_event_id"], data["code"], data["state"], r["published"])
            )
        once = self.exactly_once()
        self._figures = {"dead_letters": len(letters)}
        if poisons:
            self._figures = {
                "poison_sent": len(poisons),
                "dead_letters": len(letters),
                "poison_dead_lettered": len({p.value for p in poisons if p.reason} & {x.value for x in letters}),
                "poison_to_dead_letter": sum(1 for p in poisons if p.reason is not None),
                "rejected": len(rejections),
                "exactly_once": int(once),
            }
        return check_poison(poisons, letters, rejections, processed, cases, once)

    def figures(self) -> dict[str, int]:
        return dict(self._figures)
