"""All four services together on the real broker and database: the closed loop, and a missed deadline.

intake (HTTP) -> dispatch (a worker process) -> escalation -> notify (webhooks to a local receiver); the stack is
the session's `loop` fixture (tests/e2e/loop_fixtures.py). The other flows are in test_closed_loop_flows.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from jsonschema import Draft202012Validator

from shared.kafka import kafka_consumer
from tests.e2e.loop_fixtures import Loop, until

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)

POINT = {"lon": 108.9352, "lat": 34.2721}  # in micro-grid 610199004001001006


async def test_hotline_report_closes_the_loop(loop: Loop) -> None:
    hook = "/street-centre"
    await loop.subscribe("street centre", hook)
    report = {
        "title": "楼道堆满杂物",
        "description": "3号楼楼道里堆满纸箱杂物",
        "location": POINT,
        "reporter": {"name": "王先生", "phone": "13812345678"},
    }
    case_id = await loop.report(report)
    case = await loop.reach(case_id, "assigned", "dispatch")
    lead = case["assignment"]["lead"]
    owed = list(case["assignment"]["assisting"])
    assert lead.startswith("unit:610199004001")  # a small matter stays in the grid
    await loop.act("grid app", case_id, {"action": "accept", "actor": {"id": "w1", "unit": lead}}, "accepted")
    for party in owed:  # co-assigned: each assisting unit's own system reports its part before the lead resolves
        await loop.key(party, [party], ["read", "act"])
        body = {"action": "report_in", "actor": {"id": "dept", "unit": party}, "text": "已配合处置"}
        await loop.post_action(party, case_id, body)

    async def parts_in() -> bool:
        return (await loop.history(case_id)).count("report_in") == len(owed)

    await until(parts_in, what="every assisting unit's part")
    resolve = {"action": "resolve", "actor": {"id": "w1", "unit": lead}, "text": "已清理"}
    await loop.act("grid app", case_id, resolve, "resolved")
    verify = {"action": "verify", "actor": {"id": "c", "unit": "unit:610199004"}, "passed": True}
    await loop.act("street centre", case_id, verify, "verified")
    await loop.act("hotline", case_id, {"action": "rate", "actor": {"id": "resident"}, "score": 5}, "closed")
    expected = ["report", "assign", "accept", *["report_in"] * len(owed), "resolve", "verify_passed"]
    assert await loop.history(case_id) == [*expected, "rate_satisfied", "close"]

    async def notified() -> bool:  # two topics (assignments, case events), consumed apart: either may come last
        mine = [e for e in loop.hooks.events(hook) if e["subject"] == case_id]
        assigned = any(e["type"] == "cn.griddispatch.case.assigned.v1" for e in mine)
        return assigned and "close" in [e["data"].get("action") for e in mine]

    await until(notified, what="the street centre's webhook to hear the whole loop")
    types = {e["type"] for e in loop.hooks.events(hook) if e["subject"] == case_id}
    assert "cn.griddispatch.case.assigned.v1" in types and "cn.griddispatch.case.changed.v1" in types


def traceparent() -> tuple[str, str, str]:
    trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{parent}-01", trace_id, parent


async def test_the_callers_trace_context_reaches_the_webhooks_through_every_service(loop: Loop) -> None:
    hook = "/traced"
    await loop.subscribe("street centre", hook)
    sent, trace_id, parent = traceparent()
    report = {"title": "路灯不亮", "description": "小区门口路灯坏了", "location": POINT}
    answer = await loop.intake.post("/v1/reports", json=report, headers={**loop.h("hotline"), "traceparent": sent})
    assert answer.status_code == 202, answer.text
    assert answer.headers["traceresponse"].split("-")[1] == trace_id  # the caller can find its trace
    case_id = answer.json()["case_id"]

    def of_case(kind: str) -> list[dict[str, object]]:
        return [e for e in loop.hooks.events(hook) if e["subject"] == case_id and e["type"] == kind]

    async def assigned() -> bool:
        return bool(of_case("cn.griddispatch.case.assigned.v1"))

    await until(assigned, what="the assignment's webhook")
    for event in of_case("cn.griddispatch.case.assigned.v1"):  # the lead's, and any assisting unit's
        version, announced_trace, span, flags = str(event["traceparent"]).split("-")
        assert (version, announced_trace, flags) == ("00", trace_id, "01")
        assert span != parent  # dispatch's own span of handling the report, a child of the caller's

    case = await loop.case(case_id)
    lead = case["assignment"]["lead"]
    await loop.key(lead, [lead], ["read", "act"])  # the lead unit's own system (a grid, a street or a department)
    accept_trace, accept_id, _ = traceparent()
    body = {"action": "accept", "actor": {"id": "w1", "unit": lead}}
    answer = await loop.intake.post(
        f"/v1/cases/{case_id}/actions", json=body, headers={**loop.h(lead), "traceparent": accept_trace}
    )
    assert answer.status_code == 202, answer.text

    async def accepted() -> bool:
        return any(e["data"]["action"] == "accept" for e in of_case("cn.griddispatch.case.changed.v1"))  # type: ignore[index]

    await until(accepted, what="the accept's webhook")
    for changed in of_case("cn.griddispatch.case.changed.v1"):
        action = changed["data"]["action"]  # type: ignore[index]
        expected = accept_id if action == "accept" else trace_id  # each action in its own caller's trace
        assert str(changed["traceparent"]).split("-")[1] == expected, action


async def test_a_missed_accept_by_warns_then_escalates_and_the_next_rung_hears_of_it(loop: Loop) -> None:
    hook = "/gas"
    await loop.subscribe("gas company", hook)
    report = {"title": "燃气味道很大", "description": "楼道里有很浓的燃气味", "location": POINT}
    case_id = await loop.report(report)
    before = (await loop.reach(case_id, "assigned", "dispatch"))["assignment"]["lead"]
    assert before.startswith("branch:gas")
    # time passes: first to the accept-by's warning (escalation sleeps until it, or NOTIFY wakes it) ...
    await loop.warn_now(case_id, "accept")

    async def warned() -> bool:
        return any(
            e["data"].get("tier") == "warning" and e["data"].get("kind") == "accept"
            for e in loop.hooks.events(hook)
            if e["subject"] == case_id
        )

    await until(warned, what="the gas company to be warned before the accept-by")
    assert (await loop.case(case_id))["assignment"]["lead"] == before  # a warning moves nothing
    # ... then past the deadline itself
    await loop.due_now(case_id, "accept")

    async def escalated() -> bool:
        return (await loop.case(case_id))["assignment"]["lead"] != before

    await until(escalated, what="the escalation one rung up")
    after = await loop.case(case_id)
    assert after["assignment"]["lead"] == "department:gas" and before in after["assignment"]["assisting"]
    assert [h["action"] for h in after["history"]][-2:] == ["escalate", "assign"]

    async def heard() -> bool:
        tiers = [e["data"].get("tier") for e in loop.hooks.events(hook) if e["subject"] == case_id]
        leads = [e["data"].get("assignee") for e in loop.hooks.events(hook) if e["type"].endswith("case.assigned.v1")]
        return "overdue" in tiers and "department:gas" in leads

    await until(heard, what="the gas department to be told of the overdue case and its new assignment")


async def test_every_topic_reads_with_the_cloudevents_sdk_and_each_data_matches_its_published_schema(
    loop: Loop,
) -> None:
    """A consumer nobody here wrote: the official CloudEvents SDK's auto-detecting Kafka reader, on every topic of
    the running system (the dead-letter topic holds other producers' bytes as they came, and is left out); each
    event's `data` is checked against the schema its `dataschema` names, fetched from intake over HTTP."""
    assert loop.kafka is not None
    prefix = loop.kafka.topic_prefix + "."
    case_id = await loop.report({"title": "燃气味道很大", "description": "楼下燃气味很浓", "location": POINT})
    lead = (await loop.reach(case_id, "assigned", "dispatch"))["assignment"]["lead"]
    await loop.warn_now(case_id, "accept")  # a warning on the deadlines topic

    async def warned() -> bool:  # before the accept closes that deadline
        fired = await loop.pool.fetchval(
            "SELECT max(fired) FROM deadlines WHERE case_id = $1::uuid AND kind = 'accept'", case_id
        )
        return bool(fired)

    await until(warned, what="escalation to fire the accept-by's warning")
    await loop.key(lead, [lead], ["read", "act"])
    await loop.post_action(lead, case_id, {"action": "accept", "actor": {"id": "w1", "unit": lead}})

    schemas: dict[str, Any] = {}
    seen: dict[str, set[str]] = {}  # topic -> event types read there
    mine: dict[str, set[str]] = {}  # topic -> this case's event types read there

    async def read_everything() -> bool:
        async with kafka_consumer(loop.kafka, group_id=None) as lister:  # type: ignore[arg-type]
            names = sorted(t for t in await lister.topics() if t.startswith(prefix) and "dead-letter" not in t)
        # no group: the consumer takes every partition of the topics named
        async with kafka_consumer(loop.kafka, *names, group_id=None) as consumer:  # type: ignore[arg-type]
            while {tp.topic for tp in consumer.assignment()} != set(names):
                await asyncio.sleep(0.1)
            partitions = sorted(consumer.assignment())
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            todo = {tp for tp, end in ends.items() if end > 0}
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=2000)
                for tp, records in batch.items():
                    for record in records:
                        await check(tp.topic, record.headers, record.key, record.value)
                        if record.offset + 1 >= ends[tp]:
                            todo.discard(tp)
        expected = {
            f"{prefix}reports",
            f"{prefix}actions",
            f"{prefix}case-events",
            f"{prefix}assignments",
            f"{prefix}deadlines",
        }
        department_topics = [t for t in mine if ".department." in t]
        return expected <= set(mine) and bool(department_topics)

    async def check(topic: str, headers: Any, key: bytes | None, value: bytes | None) -> None:
        event = from_kafka_event(KafkaMessage(headers=dict(headers), key=key, value=value or b""))
        attributes = event.get_attributes()
        url = str(attributes["dataschema"])
        if url not in schemas:
            answer = await loop.intake.get(urlsplit(url).path)
            assert answer.status_code == 200, (url, answer.text)
            assert answer.headers["content-type"].startswith("application/schema+json")
            schemas[url] = answer.json()
        data = event.get_data()
        errors = [e.message for e in Draft202012Validator(schemas[url]).iter_errors(data)]
        assert not errors, (topic, attributes["type"], errors)
        assert attributes["subject"] == (key or b"").decode()
        seen.setdefault(topic, set()).add(str(attributes["type"]))
        if attributes["subject"] == case_id:
            mine.setdefault(topic, set()).add(str(attributes["type"]))

    async def all_topics_hold_this_case() -> bool:
        seen.clear()
        mine.clear()
        return await read_everything()

    try:
        await until(all_topics_hold_this_case, what="this case's events on every topic")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: this case's types by topic {mine}") from None
    assert "cn.griddispatch.deadline.fired.v1" in mine[f"{prefix}deadlines"]
    assert "cn.griddispatch.case.assigned.v1" in mine[f"{prefix}assignments"]
    assert {"cn.griddispatch.case.changed.v1"} <= mine[f"{prefix}case-events"]
    assert sum(len(types) for types in seen.values()) >= 6, seen
