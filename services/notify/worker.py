"""Delivering: lease what is due, group what goes to one person, respect ceilings, retry with back-off, record all.

A delivery is leased (its next attempt pushed past the send's timeout) in a short transaction and then sent;
a worker killed mid-send leaves the lease to expire and another worker sends it again with the same
Idempotency-Key. Failures back off exponentially with jitter (honouring a receiver's Retry-After) up to
`max_attempts`, then the delivery is parked in the dead-letter list, where an operator can replay it.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import Counter

from services.notify.channels.base import Channel, Message, Outcome, Result
from services.notify.rating_links import RatingLinks
from services.notify.templates import Audience, CaseFacts, digest, render
from shared.domain.lifecycle import State
from shared.events import EventType, decode
from shared.logging import bind_context, get_logger
from shared.queries.cases import message_facts
from shared.retriable import RETRIABLE
from shared.settings import NotifySettings
from shared.supervisor import wait_any

log = get_logger(__name__)
HUMAN = frozenset({"sms", "email"})

ATTEMPTS = Counter(
    "griddispatch_delivery_attempts_total",
    "Delivery attempts by channel, the channel's result and the delivery's status after it (dead: parked)",
    ["channel", "result", "status"],
)


def backoff(attempt: int, settings: NotifySettings, retry_after_s: float | None, rnd: random.Random) -> float:
    """Seconds before the next try: the receiver's Retry-After if it gave one, else exponential with jitter."""
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), settings.backoff_max_s)
    raw: float = settings.backoff_base_s * 2.0 ** max(attempt - 1, 0)
    return min(raw, settings.backoff_max_s) * rnd.uniform(0.5, 1.5)


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Mapping[str, Channel],
        settings: NotifySettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        links: RatingLinks | None = None,
    ) -> None:
        self.pool = pool
        self.links = links  # the outcome SMS's rating link (None: the text asks for a rating without one)
        self.channels = channels
        self.settings = settings
        self.clock = clock
        self.rnd = random.Random()
        self.lease = timedelta(seconds=settings.webhook_timeout_s + 30)
        self.wake = asyncio.Event()

    async def tick(self) -> int:
        """Send what is due now; returns how many deliveries were leased."""
        now = self.clock()
        rows = await self.pool.fetch(
            """UPDATE deliveries d SET next_attempt_at = $2, attempts = d.attempts + 1
               FROM (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
                     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
               WHERE d.id = due.id
               RETURNING d.*,
                         (SELECT s.secret FROM subscriptions s WHERE s.id = d.subscription_id) AS secret,
                         (SELECT s.previous_secret FROM subscriptions s WHERE s.id = d.subscription_id)
                             AS previous_secret""",
            now,
            now + self.lease,
            self.settings.batch,
        )
        leaders: dict[tuple[str, str], dict[str, Any]] = {}
        followers: dict[int, list[dict[str, Any]]] = {}
        singles: list[dict[str, Any]] = []
        for record in rows:  # one message per person: the first due delivery leads, the rest ride along
            row = dict(record)
            if row["channel"] in HUMAN and not row["urgent"]:
                leader = leaders.setdefault((row["recipient"], row["channel"]), row)
                followers.setdefault(leader["id"], [])
                if leader is not row:
                    followers[leader["id"]].append(row)
            else:
                singles.append(row)
        results = await asyncio.gather(
            *(self._deliver(row) for row in singles),
            *(self._deliver(row, followers[row["id"]]) for row in leaders.values()),
            return_exceptions=True,
        )
        for error in results:  # one delivery's failure must not stop the others; its lease expires and it retries
            if isinstance(error, Exception):
                log.error("delivery_failed", error=repr(error))
        return len(rows)

    async def _deliver(self, row: dict[str, Any], followers: list[dict[str, Any]] | None = None) -> None:
        with bind_context(case_id=str(row["case_id"]) if row["case_id"] else None, event_id=row["event_id"]):
            channel = self.channels.get(row["channel"])
            if channel is None:
                await self._finish(row, Outcome(Result.FAILED, error=f"no {row['channel']} channel configured"))
                return
            if row["channel"] in HUMAN and not row["urgent"] and await self._over_ceiling(row, followers or []):
                return
            message = await self._message(row, followers or [])
            if message is None:  # nothing to tell this person about these events
                await self.pool.execute("UPDATE deliveries SET status = 'suppressed' WHERE id = $1", row["id"])
                return
            outcome = await channel.send(message)
            await self._finish(row, outcome)

    async def _over_ceiling(self, row: dict[str, Any], followers: list[dict[str, Any]]) -> bool:
        """Postpone (without spending the attempt) when this person already had `rate_per_hour` messages."""
        oldest = await self.pool.fetchval(
            """SELECT min(delivered_at) FROM (
                   SELECT delivered_at FROM deliveries
                   WHERE recipient = $1 AND channel = $2 AND status = 'delivered'
                     AND delivered_at > $3::timestamptz - interval '1 hour'
                   ORDER BY delivered_at DESC LIMIT $4) recent
               HAVING count(*) >= $4""",
            row["recipient"],
            row["channel"],
            self.clock(),
            self.settings.rate_per_hour,
        )
        if oldest is None:
            return False
        await self.pool.execute(
            "UPDATE deliveries SET next_attempt_at = $2, attempts = attempts - 1 WHERE id = ANY($1)",
            [row["id"], *(f["id"] for f in followers)],
            oldest + timedelta(hours=1),
        )
        log.info("delivery_held", reason="rate ceiling", recipient=row["recipient"])
        return True

    async def _message(self, row: dict[str, Any], followers: list[dict[str, Any]]) -> Message | None:
        if row["channel"] not in HUMAN:
            return Message(  # the subscription's secrets came with the lease: no round trip per delivery
                row["id"],
                row["event_id"],
                row["target"],
                bytes(row["payload"]),
                secret=row["secret"],
                previous_secret=row["previous_secret"],
            )
        payloads = [bytes(row["payload"])]
        if followers:
            await self.pool.execute(
                "UPDATE deliveries SET status = 'grouped', last_error = $2 WHERE id = ANY($1)",
                [f["id"] for f in followers],
                f"grouped into delivery {row['id']}",
            )
            payloads += [bytes(f["payload"]) for f in followers]
        if not row["urgent"]:  # and whatever else has come in for this person meanwhile
            others = await self.pool.fetch(
                """UPDATE deliveries SET status = 'grouped', last_error = $3
                   WHERE id IN (SELECT id FROM deliveries WHERE recipient = $1 AND channel = $2 AND status = 'pending'
                                AND NOT urgent AND id <> $4 ORDER BY id FOR UPDATE SKIP LOCKED)
                   RETURNING payload""",
                row["recipient"],
                row["channel"],
                f"grouped into delivery {row['id']}",
                row["id"],
            )
            payloads += [bytes(o["payload"]) for o in others]
        events = [decode(p) for p in payloads]
        cases = await self._case_facts({e.subject for e in events})
        audience = Audience.REPORTER if row["recipient"].startswith("reporter:") else Audience.STAFF
        if audience is Audience.REPORTER:  # a merged report's reporter is not greeted with the other reporter's name
            cases = {
                k: f if f.reporter_phone == row["target"] else replace(f, reporter_name=None) for k, f in cases.items()
            }
            cases = await self._with_rating_links(events, cases)
        zone = ZoneInfo(self.settings.district_timezone)
        if len(events) == 1:
            rendered = render(events[0], cases.get(events[0].subject), audience=audience, tz=zone)
        else:
            rendered = digest(events, cases, audience=audience, tz=zone)
        if rendered is None:
            return None
        return Message(row["id"], row["event_id"], row["target"], rendered.text.encode(), subject=rendered.subject)

    async def _with_rating_links(self, events: list[Any], cases: dict[str, CaseFacts]) -> dict[str, CaseFacts]:
        """A verified result asks the reporter to rate it: each such case's facts carry a freshly signed link."""
        if self.links is None:
            return cases
        asked = {e.subject for e in events if e.type is EventType.CASE_CHANGED and e.data.to_state == State.VERIFIED}
        for case_id in sorted(asked & cases.keys()):
            link = await self.links.for_case(self.pool, uuid.UUID(case_id))
            cases[case_id] = replace(cases[case_id], rating_link=link)
        return cases

    async def _case_facts(self, case_ids: set[str]) -> dict[str, CaseFacts]:
        """What messages name but events do not carry: the case number, title, address, reporter."""
        ids = [uuid.UUID(c) for c in case_ids if _is_uuid(c)]
        rows = await message_facts(self.pool, ids)
        facts = {}
        for r in rows:
            location = json.loads(r["location"]) if r["location"] else {}
            reporter = json.loads(r["reporter"]) if r["reporter"] else {}
            facts[str(r["case_id"])] = CaseFacts(
                r["case_number"], r["title"], location.get("address"), reporter.get("name"), reporter.get("phone")
            )
        return facts

    async def _finish(self, row: dict[str, Any], outcome: Outcome) -> None:
        attempt = row["attempts"]
        now = self.clock()
        if outcome.result is Result.DELIVERED:
            status, next_at = "delivered", now
        elif outcome.result is Result.RETRY and attempt < self.settings.max_attempts:
            status = "pending"
            next_at = now + timedelta(seconds=backoff(attempt, self.settings, outcome.retry_after_s, self.rnd))
        else:
            status, next_at = "dead", now
        # one statement, atomic on its own: the attempt is recorded and the delivery moved on together
        await self.pool.execute(
            """WITH attempt AS (
                   INSERT INTO delivery_attempts (delivery_id, attempt, outcome, status_code, latency_ms, error)
                   VALUES ($1, $2, $3, $4, $5, $6))
               UPDATE deliveries SET status = $7, next_attempt_at = $8, last_error = $6,
                      delivered_at = CASE WHEN $7 = 'delivered' THEN now() END
               WHERE id = $1""",
            row["id"],
            attempt,
            outcome.result.value,
            outcome.status_code,
            outcome.latency_ms,
            outcome.error,
            status,
            next_at,
        )
        ATTEMPTS.labels(row["channel"], outcome.result.value, status).inc()
        log.info(
            "delivery_attempted",
            channel=row["channel"],
            attempt=attempt,
            outcome=outcome.result.value,
            status=status,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
        )

    async def seconds_until_next(self) -> float:
        next_at = await self.pool.fetchval("SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'")
        if next_at is None:
            return 5.0
        wait: float = (next_at - self.clock()).total_seconds()
        return min(max(wait, 0.0), 5.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: send what is due, then sleep until the next due delivery or a wake-up."""
        while not stop.is_set():
            self.wake.clear()  # before looking: a wake-up that lands while we look must not be lost
            try:
                if await self.tick() >= self.settings.batch:
                    continue
                sleep = await self.seconds_until_next()
            except RETRIABLE as exc:  # a terminated backend, a database shutting down, a broken connection
                log.warning("notify_worker_retrying", error=str(exc))
                sleep = 2.0
            # Anything else (a bug) ends the run: the supervisor logs it with its traceback, counts it, shows it on
            # /readyz and restarts the worker; the deliveries it had leased are sent again when their lease ends.
            await wait_any(sleep, self.wake, stop)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
