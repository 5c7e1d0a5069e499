"""The ledger: after a fault and a drain, was anything lost or done twice?

Four checks, each a list of violations naming what is wrong and where:

1. every accepted report id (a 202 from intake) -> exactly one case, or one merged report (a case row in state
   `merged` pointing at the case it joined), with exactly one `report` entry in its history; and no case
   appears for a report that was never accepted (unless the client gave up without an answer);
2. every case -> exactly one current assignment: a lead, one `assign` in the history per routing
   (the first, plus one per escalation), a history without gaps or repeats;
3. every deadline that fell due while open -> its overdue and escalate tiers staged exactly once, published,
   and the escalation applied by dispatch;
4. every webhook event -> delivered at least once to the receiver with the event id as Idempotency-Key, and
   no post whose key is not the id of the event it carries.

`check(snapshot)` is pure (unit-tested); `gather(...)` reads PostgreSQL and the receiver into a Snapshot.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg

from shared.queries.cases import with_actions
from shared.queries.deadlines import fell_due_all
from shared.queries.processed_events import processed_by
from shared.queries.submissions import case_ids_of_client
from shared.topics import Topics


@dataclass(frozen=True)
class Violation:
    check: str  # reports, assignments, deadlines, webhooks
    subject: str  # a case id, deadline id or event id
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    state: str
    lead: str | None
    merged_into: str | None
    actions: tuple[str, ...]  # the history's actions in seq order
    seqs: tuple[int, ...]


@dataclass(frozen=True)
class DeadlineRow:
    deadline_id: str
    case_id: str
    fell_due: bool  # its due time passed while it was still open


@dataclass(frozen=True)
class DeadlineEvent:
    event_id: str
    deadline_id: str
    tier: str
    published: bool


@dataclass(frozen=True)
class Post:
    key: str  # the Idempotency-Key header
    event_id: str  # the id inside the CloudEvent body


@dataclass
class Snapshot:
    accepted: set[str]  # case ids intake answered 202 for
    unanswered: set[str] = field(default_factory=set)  # case ids the client gave up on without an answer
    submitted: set[str] = field(default_factory=set)  # case ids of our client's rows in `submissions`
    cases: dict[str, CaseRow] = field(default_factory=dict)
    deadlines: list[DeadlineRow] = field(default_factory=list)
    deadline_events: list[DeadlineEvent] = field(default_factory=list)
    dispatch_processed: set[str] = field(default_factory=set)
    webhook_events: set[str] = field(default_factory=set)  # ids of events the subscription should hear of
    deliveries: dict[str, str] = field(default_factory=dict)  # event id -> status, for the subscription
    posts: list[Post] = field(default_factory=list)

    @property
    def merged(self) -> int:
        return sum(1 for c in self.accepted if c in self.cases and self.cases[c].state == "merged")

    @property
    def duplicates_seen(self) -> int:
        return len(self.posts) - len({p.key for p in self.posts})

    @property
    def deadlines_fired(self) -> int:
        return len({e.deadline_id for e in self.deadline_events if e.tier == "overdue"})


def check(s: Snapshot) -> list[Violation]:
    return [*check_reports(s), *check_assignments(s), *check_deadlines(s), *check_webhooks(s)]


def check_reports(s: Snapshot) -> list[Violation]:
    out = []
    for case_id in sorted(s.accepted):
        case = s.cases.get(case_id)
        if case is None:
            out.append(Violation("reports", case_id, "accepted (202) but no case and no merged report"))
            continue
        reports = case.actions.count("report")
        if reports != 1:
            out.append(Violation("reports", case_id, f"{reports} 'report' entries in its history, expected 1"))
        if case.state == "merged" and (case.merged_into is None or case.merged_into not in s.cases):
            out.append(Violation("reports", case_id, f"merged into {case.merged_into}, which is not a case"))
    for case_id in sorted(s.submitted - s.accepted - s.unanswered):
        if case_id in s.cases:
            out.append(Violation("reports", case_id, "a case for a report intake never accepted"))
    return out


def check_assignments(s: Snapshot) -> list[Violation]:
    out = []
    for case_id in sorted(s.accepted):
        case = s.cases.get(case_id)
        if case is None or case.state == "merged":
            continue
        if not case.lead:
            out.append(Violation("assignments", case_id, f"no current assignment (state {case.state})"))
        routings = 1 + case.actions.count("escalate") + case.actions.count("return")
        assigns = case.actions.count("assign")
        if assigns != routings:
            out.append(
                Violation("assignments", case_id, f"{assigns} 'assign' entries for {routings} routings: {case.actions}")
            )
        if list(case.seqs) != list(range(1, len(case.seqs) + 1)):
            out.append(Violation("assignments", case_id, f"history seqs not 1..n: {case.seqs}"))
    return out


def check_deadlines(s: Snapshot) -> list[Violation]:
    out = []
    by_deadline: dict[str, list[DeadlineEvent]] = defaultdict(list)
    for event in s.deadline_events:
        by_deadline[event.deadline_id].append(event)
    for deadline in s.deadlines:
        if not deadline.fell_due:
            continue
        events = by_deadline.get(deadline.deadline_id, [])
        for tier in ("overdue", "escalate"):
            ids = {e.event_id for e in events if e.tier == tier}
            if len(ids) != 1:
                out.append(Violation("deadlines", deadline.deadline_id, f"fell due; {tier} fired {len(ids)} times"))
        for e in events:
            if not e.published:
                detail = f"{e.tier} event {e.event_id} never published"
                out.append(Violation("deadlines", deadline.deadline_id, detail))
            if e.tier == "escalate" and e.event_id not in s.dispatch_processed:
                detail = f"escalate {e.event_id} not applied by dispatch"
                out.append(Violation("deadlines", deadline.deadline_id, detail))
    for deadline_id, events in by_deadline.items():  # however it fell due: never a tier twice
        counts = Counter(e.tier for e in events if e.tier in ("overdue", "escalate"))
        for tier, n in counts.items():
            if n > 1:
                out.append(Violation("deadlines", deadline_id, f"{tier} fired {n} times"))
    return out


def check_webhooks(s: Snapshot) -> list[Violation]:
    out = []
    received = Counter(p.key for p in s.posts)
    for event_id in sorted(s.webhook_events):
        status = s.deliveries.get(event_id)
        if status is None:
            out.append(Violation("webhooks", event_id, "no delivery for an event the subscription matches"))
        elif status != "delivered":
            out.append(Violation("webhooks", event_id, f"delivery {status}"))
        if received[event_id] == 0:
            out.append(Violation("webhooks", event_id, "never reached the receiver"))
    for post in s.posts:
        if post.key != post.event_id:
            detail = f"Idempotency-Key differs from event id {post.event_id}"
            out.append(Violation("webhooks", post.key or "(none)", detail))
    for key in sorted(set(received) - s.webhook_events):
        out.append(Violation("webhooks", key, "received, but no such event was published"))
    return out


def summary(s: Snapshot) -> dict[str, int]:
    return {
        "accepted": len(s.accepted),
        "cases": sum(1 for c in s.accepted if c in s.cases and s.cases[c].state != "merged"),
        "merged": s.merged,
        "deadlines_fired": s.deadlines_fired,
        "webhooks_delivered": len({p.key for p in s.posts}),
        "duplicates_seen": s.duplicates_seen,
        "webhook_events": len(s.webhook_events),
        "deadlines_due": sum(1 for d in s.deadlines if d.fell_due),
    }


async def gather(
    conn: asyncpg.Connection,
    topic_prefix: str,
    client_id: str,
    subscription_id: str,
    accepted: Iterable[str],
    unanswered: Iterable[str],
    posts: Iterable[Post],
) -> Snapshot:
    """Read what the ledger compares from the database; `accepted`, `unanswered` and `posts` come from the client."""
    topics = Topics(topic_prefix)
    accepted = set(accepted)
    submitted = {str(c) for c in await case_ids_of_client(conn, uuid.UUID(client_id))}
    ids = [uuid.UUID(c) for c in accepted | submitted]
    rows = await with_actions(conn, ids)
    cases = {
        str(r["case_id"]): CaseRow(
            case_id=str(r["case_id"]),
            state=r["state"],
            lead=r["lead"],
            merged_into=str(r["merged_into"]) if r["merged_into"] else None,
            actions=tuple(r["actions"]),
            seqs=tuple(r["seqs"]),
        )
        for r in rows
    }
    deadlines = [DeadlineRow(str(r["deadline_id"]), str(r["case_id"]), r["fell_due"]) for r in await fell_due_all(conn)]
    deadline_events = []
    for r in await conn.fetch(
        "SELECT event_id, value, published_at IS NOT NULL AS published FROM outbox WHERE topic = $1",
        topics.deadlines,
    ):
        data = json.loads(bytes(r["value"]))["data"]
        deadline_events.append(DeadlineEvent(r["event_id"], data["deadline_id"], data["tier"], r["published"]))
    processed = await processed_by(conn, "dispatch")
    webhook_events = {
        r["event_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT event_id FROM outbox WHERE topic = ANY($1)",
            [topics.case_events, topics.assignments, topics.deadlines],
        )
    }
    deliveries = {
        r["event_id"]: r["status"]
        for r in await conn.fetch(
            "SELECT event_id, status FROM deliveries WHERE subscription_id = $1", uuid.UUID(subscription_id)
        )
    }
    return Snapshot(
        accepted=accepted,
        unanswered=set(unanswered),
        submitted=submitted,
        cases=cases,
        deadlines=deadlines,
        deadline_events=deadline_events,
        dispatch_processed=processed,
        webhook_events=webhook_events,
        deliveries=deliveries,
        posts=list(posts),
    )
