"""Retention horizons derive from what depends on the rows (shared/retention/policy.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.retention.policy import RetentionTooShort, dedupe_horizon, rules_for
from shared.retention.pruner import delete_batch_sql
from shared.settings import RetentionSettings
from shared.topics import Topics

TOPICS = Topics("x")


def test_a_consumers_seen_ids_outlive_the_longest_retention_of_what_it_reads() -> None:
    assert dedupe_horizon("dispatch", TOPICS, timedelta(days=1)) == timedelta(days=8)  # reports, actions: 7 d
    assert dedupe_horizon("notify", TOPICS, timedelta(0)) == timedelta(days=90)  # case-events: 90 d


def test_every_service_prunes_only_its_own_tables() -> None:
    tables = {s: {r.table for r in rules_for(s, RetentionSettings(), TOPICS)} for s in ("dispatch", "notify", "intake")}
    assert tables == {
        "dispatch": {"processed_events", "outbox"},
        "notify": {"processed_events", "deliveries", "stream_events"},
        "intake": {"person_sessions", "oidc_logins"},
    }
    assert rules_for("escalation", RetentionSettings(), TOPICS) == ()
    by_name = {r.name: r for r in rules_for("dispatch", RetentionSettings(), TOPICS)}
    assert by_name["processed_events.dispatch"].condition == "consumer = 'dispatch'"
    assert by_name["outbox"].condition == "published_at IS NOT NULL"  # an unpublished row is never deleted


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (RetentionSettings(stream_hours=0.5), "stream_events"),
        (RetentionSettings(deliveries_days=0.9), "deliveries"),
        (RetentionSettings(dead_deliveries_days=0.1), "dead deliveries"),
    ],
)
def test_a_horizon_shorter_than_its_dependents_is_refused(settings: RetentionSettings, named: str) -> None:
    with pytest.raises(RetentionTooShort, match=named):
        rules_for("notify", settings, TOPICS)


def test_a_batch_deletes_children_first_by_key_and_reports_the_mark() -> None:
    [deliveries] = [r for r in rules_for("notify", RetentionSettings(), TOPICS) if r.name == "deliveries.finished"]
    sql = delete_batch_sql(deliveries)
    assert "FOR UPDATE SKIP LOCKED" in sql and "LIMIT $2" in sql
    assert sql.index("DELETE FROM delivery_attempts") < sql.index("DELETE FROM deliveries")
    assert "NULL::bigint AS top" in sql
    [stream] = [r for r in rules_for("notify", RetentionSettings(), TOPICS) if r.name == "stream_events"]
    assert "max(k) AS top" in delete_batch_sql(stream)
