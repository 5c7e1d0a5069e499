"""What each service may delete, and after how long. Pure: rules are data, horizons derive from what depends
on the rows, and a configured horizon shorter than that is refused at start.

* `processed_events` (a consumer's seen event ids) guard against a redelivery, and Kafka can redeliver anything
  it still holds: a consumer's ids are kept for the longest retention of the topics it reads, plus a margin.
* `outbox` rows matter until they are published (unpublished rows are never deleted); published ones are
  kept a week for diagnosis.
* `deliveries` (and their `delivery_attempts`) answer "was it sent": finished ones (delivered, grouped,
  suppressed) for 30 days, dead ones (the operator's list to look at) for 90; pending ones never. Paging reads
  the last hours of them (grouping, rate limit, repeat), so the horizon is at least a day.
* `stream_events` are the live streams' resume window (Last-Event-ID): a week by default. The highest id
  deleted is recorded (`retention_marks`), so a client resuming from before it is told (`event: expired`).
* sign-in rows: ended sessions (expired or revoked) and their spent refresh tokens after 30 days, OIDC
  logins a day after they expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.settings import RetentionSettings, ServiceName
from shared.topics import Topics

DAY = timedelta(days=1)
STREAM_RULE = "stream_events"  # the marked rule the live streams read (notify/routers/streams.py)
_PAGING = "paging reads the last day of deliveries"

# The topics each consumer that records processed_events reads (shared/queries/processed_events.py's callers).
CONSUMED: dict[str, tuple[str, ...]] = {
    "dispatch": ("reports", "actions", "deadlines"),
    "notify": ("case-events", "assignments", "deadlines"),  # services/notify/consumer.py
}


class RetentionTooShort(ValueError):
    """A configured horizon shorter than what depends on the rows."""


@dataclass(frozen=True, slots=True)
class Child:
    """Rows of another table that belong to a deleted row and go with it."""

    table: str
    column: str  # refers to the parent's key


@dataclass(frozen=True, slots=True)
class Rule:
    """Delete rows of `table` whose `age_column` is older than `keep` and that match `condition`."""

    name: str  # metric label and retention_marks key: "<table>" or "<table>.<qualifier>"
    table: str
    age_column: str
    keep: timedelta
    condition: str = "TRUE"  # SQL over the table's columns, besides the age; constants only
    key: str = "ctid"  # what a batch selects and deletes by
    children: tuple[Child, ...] = ()
    mark: bool = False  # record the highest key deleted (a bigint key), for readers that must know


def dedupe_horizon(consumer: str, topics: Topics, margin: timedelta) -> timedelta:
    """How long a consumer's processed event ids must be kept: the longest retention of what it reads."""
    by_name = {spec.name: spec for spec in topics.core_specs()}
    longest = max(by_name[topics._full(name)].retention_ms for name in CONSUMED[consumer])
    return timedelta(milliseconds=longest) + margin


def _at_least(name: str, configured: timedelta, floor: timedelta, why: str) -> timedelta:
    if configured < floor:
        raise RetentionTooShort(f"retention of {name} ({configured}) is shorter than {floor}: {why}")
    return configured


def rules_for(service: ServiceName, settings: RetentionSettings, topics: Topics) -> tuple[Rule, ...]:
    """The rules the service's task enforces: each service prunes the tables it writes."""
    margin = timedelta(days=settings.dedupe_margin_days)
    if service == "dispatch":
        return (
            _seen_ids("dispatch", topics, margin),
            Rule(
                "outbox",
                "outbox",
                "published_at",
                _at_least(
                    "outbox", timedelta(days=settings.outbox_days), timedelta(0), "published rows are kept, not needed"
                ),
                condition="published_at IS NOT NULL",
            ),
        )
    if service == "notify":
        paging = timedelta(days=1)
        attempts = (Child("delivery_attempts", "delivery_id"),)
        return (
            _seen_ids("notify", topics, margin),
            Rule(
                "deliveries.finished",
                "deliveries",
                "created_at",
                _at_least("deliveries", timedelta(days=settings.deliveries_days), paging, _PAGING),
                condition="status IN ('delivered', 'grouped', 'suppressed')",
                key="id",
                children=attempts,
            ),
            Rule(
                "deliveries.dead",
                "deliveries",
                "created_at",
                _at_least("dead deliveries", timedelta(days=settings.dead_deliveries_days), paging, _PAGING),
                condition="status = 'dead'",
                key="id",
                children=attempts,
            ),
            Rule(
                STREAM_RULE,
                "stream_events",
                "at",
                _at_least(
                    "stream_events", timedelta(hours=settings.stream_hours), timedelta(hours=1), "a reconnect resumes"
                ),
                key="id",
                mark=True,
            ),
        )
    if service == "intake":
        return (
            # A session has ended by its absolute end at the latest (revoked sooner); its spent refresh tokens
            # (reuse detection) go with it (ON DELETE CASCADE).
            Rule(
                "person_sessions",
                "person_sessions",
                "LEAST(expires_at, COALESCE(revoked_at, expires_at))",
                timedelta(days=settings.sessions_days),
                key="id",
            ),
            Rule("oidc_logins", "oidc_logins", "expires_at", DAY),
        )
    return ()


def _seen_ids(consumer: str, topics: Topics, margin: timedelta) -> Rule:
    return Rule(
        f"processed_events.{consumer}",
        "processed_events",
        "processed_at",
        dedupe_horizon(consumer, topics, margin),
        condition=f"consumer = '{consumer}'",
    )
