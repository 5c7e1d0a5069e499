"""Events go through the real broker with an idempotent acks=all producer and come back intact."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from shared.events import decode, new_event
from shared.events.types import ActionRequested, Actor, Location, ReportSubmitted
from shared.kafka import ensure_topics, kafka_consumer, kafka_producer, publish
from shared.settings import KafkaSettings
from shared.topics import Topics


def _report(case_id: str, n: int) -> ReportSubmitted:
    return ReportSubmitted(
        case_id=case_id,
        case_number=f"LH20261122{n:06d}",
        source="hotline",
        source_ref=f"12345-{n}",
        title="楼道堆放杂物",
        description="三号楼二单元楼道堆满纸箱，存在消防隐患",
        location=Location(lon=108.93, lat=34.27),
        urgency="normal",
        received_at=datetime.now(UTC),
    )


async def test_events_round_trip_with_envelope_keys_and_order(kafka_settings: KafkaSettings) -> None:
    topics = Topics(f"{kafka_settings.topic_prefix}-rt")
    await ensure_topics(kafka_settings, topics.core_specs())
    case_ids = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    sent = []
    async with kafka_producer(kafka_settings) as producer:
        # Idempotent: the broker granted this producer an id, so its retries cannot duplicate records.
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
        for n in range(40):
            case_id = case_ids[n % len(case_ids)]
            if n % 2:
                data = ActionRequested(case_id=case_id, action="comment", actor=Actor(id="w1", role="assignee"))
                event = new_event(data, source="/tests", subject=case_id)
            else:
                event = new_event(_report(case_id, n), source="/tests", subject=case_id)
            metadata = await publish(producer, topics.reports, event)
            assert metadata.offset >= 0
            sent.append(event)

    received = []
    async with kafka_consumer(kafka_settings, topics.reports, group_id=f"rt-{uuid.uuid4().hex[:6]}") as consumer:
        deadline = time.monotonic() + 120  # the group join comes first, and a loaded machine is slow at it
        while len(received) < len(sent):
            assert time.monotonic() < deadline, f"only {len(received)} of {len(sent)} events came back"
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    event = decode(record.value)
                    assert record.key == event.subject.encode()
                    headers = dict(record.headers)
                    assert headers["content-type"] == b"application/cloudevents+json"
                    assert not [h for h in headers if h.startswith("ce_")]  # structured mode: no binary-mode header
                    received.append((record.partition, event))

    by_id = {e.id: e for _, e in received}
    assert set(by_id) == {e.id for e in sent}
    for original in sent:
        assert by_id[original.id] == original  # envelope and typed data intact, field for field
    for case_id in case_ids:  # one case's events stay in one partition, in the order they were sent
        partitions = {p for p, e in received if e.subject == case_id}
        assert len(partitions) == 1
        assert [e.id for _, e in received if e.subject == case_id] == [e.id for e in sent if e.subject == case_id]
