"""GRIDDISPATCH_DISPATCH_DEADLINE_SCALE on the real broker and database: a demo's deadlines fall due in seconds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.dispatch.context import DuplicatePolicy
from services.dispatch.runtime import Runtime
from shared.domain.routing import route
from shared.events import new_event
from shared.events.facts import report_facts
from shared.events.types import DeadlineFired
from shared.kafka import ensure_topics
from shared.registry_store import import_directory
from shared.settings import DatabaseSettings, DispatchSettings, KafkaSettings
from tests.dispatch_fixtures import SAMPLE, DispatchUnderTest

SCALE = 0.001  # one hour of allowance: 3.6 seconds


@pytest.fixture(scope="module")
async def scaled(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> AsyncIterator[DispatchUnderTest]:
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}-ds{uuid.uuid4().hex[:6]}"}
    )
    runtime = Runtime(
        kafka, database_settings, DuplicatePolicy(radius_m=0), dispatch=DispatchSettings(deadline_scale=SCALE)
    )
    await ensure_topics(kafka, runtime.topics.core_specs())
    conn = await asyncpg.connect(database_settings.url)
    try:
        await import_directory(conn, SAMPLE, imported_by="tests")
    finally:
        await conn.close()
    await runtime.start()
    try:
        yield DispatchUnderTest(runtime, runtime.pool, kafka)
    finally:
        await runtime.stop()


async def test_an_accept_by_of_n_hours_lands_n_times_3_6_seconds_from_the_report(scaled: DispatchUnderTest) -> None:
    event = await scaled.report(title="路口井盖丢失", description="井盖不见了，晚上很危险")
    received = event.data.received_at
    loaded = scaled.runtime.registry.loaded
    real = route(report_facts(event.data), loaded.registry, loaded.catalog, received)  # the real clock's decision
    accept_hours = (real.accept_by - received) / timedelta(hours=1)
    resolve_hours = (real.resolve_by - received) / timedelta(hours=1)
    assert accept_hours > 0.1 and resolve_hours > 1  # hours on the real clock

    before = datetime.now(UTC)
    await scaled.feed(event)
    after = datetime.now(UTC)
    case = await scaled.case(event.subject)
    assert case["matter_code"] == real.matter and case["lead"] == str(real.lead)  # routing is unchanged
    # recorded at some `now` within the feed: what is left of the allowance from then, x 0.001
    for column, computed in (("accept_by", real.accept_by), ("resolve_by", real.resolve_by)):
        assert before + (computed - before) * SCALE <= case[column] <= after + (computed - after) * SCALE
    assert abs((case["accept_by"] - after).total_seconds() - accept_hours * 3.6) <= (after - received).total_seconds()
    assert 0 < (case["accept_by"] - after).total_seconds() <= accept_hours * 3.6  # seconds from now, not hours

    rows = await scaled.pool.fetch(
        "SELECT kind, starts_at, due_at, warn_times, next_fire_at FROM deadlines WHERE case_id = $1 AND status = 'open'",
        uuid.UUID(event.subject),
    )
    by_kind = {r["kind"]: r for r in rows}
    accept = by_kind["accept"]
    assert accept["starts_at"] == received
    assert accept["due_at"] == case["accept_by"] and by_kind["resolve"]["due_at"] == case["resolve_by"]
    # the warnings shrink with the allowance: the same fractions of it (manhole covers warn at 1/4, 1/2, 3/4)
    span = (accept["due_at"] - received).total_seconds()
    fractions = [(w - received).total_seconds() / span for w in accept["warn_times"]]
    assert fractions == pytest.approx(list(real.warn_at), abs=(after - received).total_seconds() / span)
    assert sorted(accept["warn_times"]) == accept["warn_times"] and accept["warn_times"][-1] < accept["due_at"]
    assert accept["next_fire_at"] == accept["warn_times"][0]
    assert (accept["next_fire_at"] - received).total_seconds() < 60  # within the demo's minutes, not hours


async def test_the_fresh_deadlines_after_an_escalation_are_shortened_too(scaled: DispatchUnderTest) -> None:
    event = await scaled.report(title="路口井盖丢失", description="井盖被偷了")
    await scaled.feed(event)
    before = await scaled.case(event.subject)
    await scaled.feed(scaled.fired(event.subject, before["lead"]), scaled.runtime.topics.deadlines)
    after = await scaled.case(event.subject)
    assert after["lead"] != before["lead"]  # one rung up
    allowance = await scaled.pool.fetchval(
        """SELECT extract(epoch FROM due_at - starts_at) FROM deadlines
           WHERE case_id = $1 AND kind = 'accept' AND party = $2 AND status = 'open'""",
        uuid.UUID(event.subject),
        after["lead"],
    )
    assert 0 < float(allowance) < 60  # the new rung's allowance is seconds too (on the real clock: hours)


async def test_an_accept_applied_before_its_fired_deadline_keeps_the_case_where_it_is(
    scaled: DispatchUnderTest,
) -> None:
    """With deadlines of seconds, escalation fires while the lead's accept still waits in dispatch's queue: the
    deadline is met by the time dispatch reads the fired event, and nothing moves."""
    event = await scaled.report(title="路口井盖丢失", description="井盖没了")
    await scaled.feed(event)
    case = await scaled.case(event.subject)
    deadline_id, due_at = await scaled.pool.fetchrow(
        "SELECT deadline_id, due_at FROM deadlines WHERE case_id = $1 AND kind = 'accept' AND status = 'open'",
        uuid.UUID(event.subject),
    )
    await scaled.feed(scaled.action(event.subject, "accept", "assignee", case["lead"]), scaled.runtime.topics.actions)
    fired = DeadlineFired(
        case_id=event.subject,
        deadline_id=str(deadline_id),
        kind="accept",
        tier="escalate",
        due_at=due_at,
        assignee=case["lead"],
    )
    await scaled.feed(new_event(fired, source="/tests", subject=event.subject), scaled.runtime.topics.deadlines)
    after = await scaled.case(event.subject)
    assert (after["state"], after["lead"]) == ("accepted", case["lead"])
    assert "escalate" not in await scaled.history(event.subject)
