"""Micro-batches on the real broker and database: a batch does what its events did one at a time, a poison
event inside it is dead-lettered alone, and a redelivered batch changes nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from services.dispatch.context import DuplicatePolicy
from services.dispatch.runtime import Inbound
from shared.domain.model import Level
from shared.events import CloudEvent, encode
from shared.kafka import kafka_consumer
from tests.dispatch_fixtures import DispatchUnderTest, dispatch

__all__ = ["dispatch"]


def inbound(topic: str, event: CloudEvent[Any], offset: int = 0) -> Inbound:
    encoded = encode(event)
    return Inbound(topic, encoded.value, encoded.key, 0, offset)


async def test_a_batch_does_what_its_events_did_one_at_a_time(dispatch: DispatchUnderTest) -> None:
    d, topics = dispatch, dispatch.runtime.topics
    reports = [
        await d.report(title="垃圾没人清运", description=f"第{i}处垃圾", matter_code="sanitation") for i in range(6)
    ]
    first, late = reports[0], reports[5]
    messages = [inbound(topics.reports, r) for r in reports[:5]]
    # an action on a case whose report comes later in the same batch: it waits for it, then applies
    early = d.action(late.subject, "comment", "supervisor", text="先登记")
    messages.append(inbound(topics.actions, early))
    messages.append(inbound(topics.reports, late))
    await d.runtime.process_batch(messages)
    lead = (await d.case(first.subject))["lead"]
    accept = d.action(first.subject, "accept", "assignee", lead)
    start = d.action(first.subject, "start", "assignee", lead)  # needs the accept before it in the batch
    await d.runtime.process_batch([inbound(topics.actions, accept), inbound(topics.actions, start)])

    for r in reports[1:5]:
        row = await d.case(r.subject)
        assert row["state"] == "assigned" and row["lead"]
        assert await d.history(r.subject) == ["report", "assign"]
        assert (await d.deadlines(r.subject))[("accept", row["lead"])] == "open"
    assert (await d.case(first.subject))["state"] == "in_progress"
    assert await d.history(first.subject) == ["report", "assign", "accept", "start"]
    assert (await d.deadlines(first.subject))[("accept", lead)] == "met"
    assert await d.history(late.subject) == ["report", "assign", "comment"]
    assert (
        await d.pool.fetchval("SELECT count(*) FROM pending_actions WHERE case_id = $1", uuid.UUID(late.subject)) == 0
    )
    seqs = await d.pool.fetch("SELECT seq FROM case_events WHERE case_id = $1 ORDER BY seq", uuid.UUID(first.subject))
    assert [r["seq"] for r in seqs] == [1, 2, 3, 4]


async def test_a_redelivered_batch_changes_nothing(dispatch: DispatchUnderTest) -> None:
    d, topics = dispatch, dispatch.runtime.topics
    reports = [await d.report() for _ in range(3)]
    messages = [inbound(topics.reports, r) for r in reports]
    await d.runtime.process_batch(messages)
    ids = [uuid.UUID(r.subject) for r in reports]
    history = "SELECT count(*) FROM case_events WHERE case_id = ANY($1::uuid[])"
    deadlines = "SELECT count(*) FROM deadlines WHERE case_id = ANY($1::uuid[])"
    outbox = "SELECT count(*) FROM outbox WHERE key = ANY($1::text[])"
    before = [await d.pool.fetchval(q, ids) for q in (history, deadlines)]
    staged = await d.pool.fetchval(outbox, [r.subject for r in reports])
    assert before[0] == 6 and before[1] >= 6  # report + assign each; accept-by, resolve-by (and parts owed)
    await d.runtime.process_batch([*messages, messages[0]])  # again, one of them twice
    assert [await d.pool.fetchval(q, ids) for q in (history, deadlines)] == before
    assert await d.pool.fetchval(outbox, [r.subject for r in reports]) == staged


async def test_a_poison_event_inside_a_batch_is_dead_lettered_alone(dispatch: DispatchUnderTest) -> None:
    d, topics = dispatch, dispatch.runtime.topics
    taken = await d.report()
    await d.feed(taken)
    before, after = await d.report(), await d.report()
    reused = await d.report(case_number=taken.data.case_number)  # the database refuses it: a unique number
    follow = d.action(after.subject, "comment", "supervisor", text="跟进")
    bad = json.loads((await d.report()).model_dump_json())
    bad["data"]["location"] = "nowhere"
    marker = uuid.uuid4().hex.encode()
    messages = [
        inbound(topics.reports, before),
        Inbound(topics.reports, json.dumps(bad).encode(), marker, 0, 7),
        Inbound(topics.reports, encode(reused).value, marker, 0, 8),
        inbound(topics.reports, after),
        inbound(topics.actions, follow),
    ]
    await d.runtime.process_batch(messages)
    assert (await d.case(before.subject))["state"] == "assigned"
    assert await d.history(after.subject) == ["report", "assign", "comment"]
    assert await d.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", uuid.UUID(reused.subject)) == 0
    letters: dict[bytes, dict[str, bytes]] = {}
    async with kafka_consumer(d.kafka, topics.dead_letter, group_id=None) as consumer:
        deadline = time.monotonic() + 120
        while len(letters) < 2:
            assert time.monotonic() < deadline, f"only {len(letters)} dead letters"
            batch = await consumer.getmany(timeout_ms=1000)
            letters |= {r.value: dict(r.headers) for rs in batch.values() for r in rs if r.key == marker}
    assert letters[json.dumps(bad).encode()]["dlq_reason"] == b"invalid_event"
    assert letters[encode(reused).value]["dlq_reason"] == b"duplicate_case_number"
    # the refused report can be sent again (its id was not recorded as processed): it is refused again
    assert not await d.pool.fetchval(
        "SELECT 1 FROM processed_events WHERE consumer = 'dispatch' AND event_id = $1", reused.id
    )


async def test_reports_of_one_problem_in_one_batch_are_merged(dispatch: DispatchUnderTest) -> None:
    d, topics = dispatch, dispatch.runtime.topics
    registry = d.runtime.registry.loaded.registry
    here = registry.units_at(Level.MICRO_GRID)[-1].boundary.representative_point()
    d.runtime.duplicates = DuplicatePolicy()  # 100 m, 72 h
    try:
        # a matter no other test reports, so no older open case of it lies nearby in the session's database
        kw = {"title": "共享单车乱停", "description": "单车堆满人行道", "matter_code": "non_motor_parking"}
        first = await d.report(location={"lon": here.x, "lat": here.y}, **kw)
        second = await d.report(location={"lon": here.x + 0.0002, "lat": here.y}, **kw)
        third = await d.report(location={"lon": here.x, "lat": here.y + 0.0002}, **kw)
        await d.runtime.process_batch([inbound(topics.reports, r) for r in (first, second, third)])
    finally:
        d.runtime.duplicates = DuplicatePolicy(radius_m=0)
    opened = await d.case(first.subject)
    assert opened["state"] == "assigned" and opened["duplicates"] == 2
    for r in (second, third):
        merged = await d.case(r.subject)
        assert merged["state"] == "merged" and merged["merged_into"] == uuid.UUID(first.subject)
    assert await d.history(first.subject) == ["report", "assign", "link", "link"]
