"""Dispatch on the real database and broker: routing, the lifecycle's flows, idempotency, poison messages."""

from __future__ import annotations

import json
import time
import uuid

from shared.domain.routing import escalate, parse_assignee, route
from shared.events import new_event
from shared.events.facts import report_facts
from shared.kafka import kafka_consumer
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import events_for


async def test_report_opens_a_case_routed_by_the_rules(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report(title="路口井盖丢失", description="井盖不见了，晚上很危险")
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    loaded = dispatch.runtime.registry.loaded
    expected = route(report_facts(event.data), loaded.registry, loaded.catalog, event.data.received_at)
    assert case["state"] == "assigned"
    assert case["lead"] == str(expected.lead) and case["level"] == expected.level.value
    assert case["matter_code"] == expected.matter and case["registry_version"] == loaded.version
    assert case["accept_by"] == expected.accept_by and case["resolve_by"] == expected.resolve_by
    assert json.loads(case["decision"])["trace"][0]["rule"] == "locate.point_in_polygon"
    assert await dispatch.history(event.subject) == ["report", "assign"]
    deadlines = await dispatch.deadlines(event.subject)
    assert deadlines[("accept", case["lead"])] == deadlines[("resolve", case["lead"])] == "open"

    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, event.subject)
    assert [(e.data.assignee, e.data.role) for e in assigned][0] == (case["lead"], "lead")
    changes = await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, event.subject)
    assert [e.data.action for e in changes] == ["report", "assign"]


async def test_the_same_event_twice_changes_nothing(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    await dispatch.feed(event)
    staged = "SELECT count(*) FROM outbox WHERE key = $1"  # this case's events only: the table is the session's
    outbox_before = await dispatch.pool.fetchval(staged, event.subject)
    await dispatch.feed(event)
    again = new_event(event.data, source="/tests", subject=event.subject)  # a client retry: new event, same case
    await dispatch.feed(again)
    assert await dispatch.history(event.subject) == ["report", "assign"]
    assert await dispatch.pool.fetchval(staged, event.subject) == outbox_before
    assert len(await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, event.subject)) == len(
        {
            (e.data.assignee, e.data.role)
            for e in await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, event.subject)
        }
    )


async def test_accept_then_an_illegal_step_is_rejected_with_a_reason(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    await dispatch.feed(event)
    lead = (await dispatch.case(event.subject))["lead"]
    await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", lead), dispatch.runtime.topics.actions)
    case = await dispatch.case(event.subject)
    assert case["state"] == "accepted"
    assert (await dispatch.deadlines(event.subject))[("accept", lead)] == "met"

    wrong = dispatch.action(event.subject, "verify_passed", "assignee", lead)
    await dispatch.feed(wrong, dispatch.runtime.topics.actions)
    assert (await dispatch.case(event.subject))["state"] == "accepted"
    assert (await dispatch.history(event.subject))[-1] == "rejected"
    rejected = [
        e
        for e in await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, event.subject)
        if e.type.value.endswith("action.rejected.v1")
    ]
    assert len(rejected) == 1 and rejected[0].data.action_event_id == wrong.id
    assert rejected[0].data.state == "accepted" and rejected[0].data.code == "illegal_transition"


async def test_an_action_that_overtakes_its_report_waits_for_it(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    comment = dispatch.action(event.subject, "comment", "supervisor", text="先到的备注")
    await dispatch.feed(comment, dispatch.runtime.topics.actions)
    assert await dispatch.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", uuid.UUID(event.subject)) == 0
    await dispatch.feed(event)
    assert await dispatch.history(event.subject) == ["report", "assign", "comment"]


async def test_returns_reroute_and_repeated_returns_go_to_arbitration(dispatch: DispatchUnderTest) -> None:
    # sanitation may be returned by micro-grids and grids (the catalog's returnable_by)
    event = await dispatch.report(title="垃圾没人清运", description="楼下垃圾堆了三天", matter_code="sanitation")
    await dispatch.feed(event)
    first = (await dispatch.case(event.subject))["lead"]
    ret = dispatch.action(event.subject, "return", "assignee", first, reason_code="not_ours", text="不属于本网格")
    await dispatch.feed(ret, dispatch.runtime.topics.actions)
    second = await dispatch.case(event.subject)
    assert second["state"] == "assigned" and second["lead"] != first
    assert (await dispatch.deadlines(event.subject))[("accept", first)] == "void"
    ret2 = dispatch.action(
        event.subject, "return", "assignee", second["lead"], reason_code="not_ours", text="也不是我们"
    )
    await dispatch.feed(ret2, dispatch.runtime.topics.actions)
    third = await dispatch.case(event.subject)
    assert third["lead"] not in (first, second["lead"])
    assert json.loads(third["decision"])["arbitration"] is True
    street = dispatch.runtime.registry.loaded.registry.command_centre_for(third["place"])
    assert third["lead"] == f"unit:{street.code}"  # the street command centre arbitrates
    assert await dispatch.history(event.subject) == ["report", "assign", "return", "assign", "return", "assign"]


async def test_a_return_the_catalog_does_not_allow_is_rejected(dispatch: DispatchUnderTest) -> None:
    # neighbour disputes are the community's to solve: returnable by the community only
    event = await dispatch.report(title="邻居吵架", description="楼上楼下因为漏水吵架", matter_code="neighbour_dispute")
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    lead = case["lead"]
    registry = dispatch.runtime.registry.loaded.registry
    street = f"unit:{registry.unit(lead.split(':')[1]).parent}"
    await dispatch.feed(dispatch.fired(event.subject, lead), dispatch.runtime.topics.deadlines)  # now the street leads
    assert (await dispatch.case(event.subject))["lead"] == street
    ret = dispatch.action(event.subject, "return", "assignee", street, reason_code="not_ours", text="街道不管")
    await dispatch.feed(ret, dispatch.runtime.topics.actions)
    assert (await dispatch.case(event.subject))["lead"] == street
    rejected = [
        e
        for e in await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, event.subject)
        if e.type.value.endswith("action.rejected.v1")
    ]
    assert rejected[-1].data.code == "return_not_allowed" and "community" in rejected[-1].data.reason


async def test_summoned_departments_must_report_in_before_the_lead_resolves(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    lead, topics = case["lead"], dispatch.runtime.topics
    await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", lead), topics.actions)
    street = "unit:" + (await dispatch.case(event.subject))["place"][:9]
    summon = dispatch.action(
        event.subject, "summon", "supervisor", street, payload={"departments": ["fire_rescue", "city_management"]}
    )
    owed_before = set(json.loads(case["progress"])["owing"])
    await dispatch.feed(summon, topics.actions)
    case = await dispatch.case(event.subject)
    owed = set(json.loads(case["progress"])["owing"])
    fresh = owed - owed_before
    assert fresh and all("fire_rescue" in p or "city_management" in p for p in fresh)
    assert case["lead"] not in fresh  # the lead is not summoned to its own case
    report_ins = {
        party
        for (kind, party), status in (await dispatch.deadlines(event.subject)).items()
        if kind == "report_in" and status == "open"
    }
    assert report_ins == owed
    summoned = [
        e for e in await events_for(dispatch.kafka, topics.assignments, event.subject) if e.data.role == "summoned"
    ]
    assert {e.data.assignee for e in summoned} == fresh
    fire = next(p for p in fresh if "fire" in p)
    department_topic = topics.department_assignments(
        dispatch.runtime.registry.loaded.registry.branches[fire.split(":")[1]].department
        if fire.startswith("branch:")
        else fire.split(":")[1]
    )
    assert event.subject in {e.subject for e in await events_for(dispatch.kafka, department_topic, event.subject)}

    early = dispatch.action(event.subject, "resolve", "assignee", lead)
    await dispatch.feed(early, topics.actions)
    assert (await dispatch.case(event.subject))["state"] == "accepted"  # refused: parts are owed
    for party in owed:
        await dispatch.feed(
            dispatch.action(event.subject, "report_in", "assisting", party, text="已到场处置"), topics.actions
        )
    await dispatch.feed(dispatch.action(event.subject, "resolve", "assignee", lead), topics.actions)
    assert (await dispatch.case(event.subject))["state"] == "resolved"
    assert all(
        status == "met"
        for (kind, _), status in (await dispatch.deadlines(event.subject)).items()
        if kind == "report_in"
    )


async def test_verify_rate_close_and_reopen(dispatch: DispatchUnderTest) -> None:
    topics = dispatch.runtime.topics
    for satisfied in (True, False):
        event = await dispatch.report(title="垃圾没人清运", description="楼下垃圾堆了三天", matter_code="sanitation")
        await dispatch.feed(event)
        case = await dispatch.case(event.subject)
        lead = case["lead"]
        await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", lead), topics.actions)
        for party in json.loads(case["progress"])["owing"]:  # co-assigned: every part in before the lead resolves
            await dispatch.feed(dispatch.action(event.subject, "report_in", "assisting", party), topics.actions)
        for action, role, unit in (("resolve", "assignee", lead), ("verify_passed", "supervisor", None)):
            await dispatch.feed(dispatch.action(event.subject, action, role, unit), topics.actions)
        assert (await dispatch.case(event.subject))["state"] == "verified"
        rate = "rate_satisfied" if satisfied else "rate_unsatisfied"
        await dispatch.feed(
            dispatch.action(event.subject, rate, "resident", text="满意" if satisfied else "没修好"), topics.actions
        )
        case = await dispatch.case(event.subject)
        if satisfied:
            assert case["state"] == "closed"
            assert (await dispatch.history(event.subject))[-2:] == ["rate_satisfied", "close"]
            assert "open" not in (await dispatch.deadlines(event.subject)).values()
        else:
            assert case["state"] == "reopened" and case["lead"] == lead
            assert ("resolve", lead) in {k for k, s in (await dispatch.deadlines(event.subject)).items() if s == "open"}


async def test_missed_deadline_escalates_one_rung_keeping_the_previous_lead(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    await dispatch.feed(event)
    before = await dispatch.case(event.subject)
    registry = dispatch.runtime.registry.loaded.registry
    await dispatch.feed(
        dispatch.fired(event.subject, before["lead"], tier="warning"), dispatch.runtime.topics.deadlines
    )
    assert (await dispatch.case(event.subject))["lead"] == before["lead"]  # a warning moves nothing
    await dispatch.feed(dispatch.fired(event.subject, before["lead"]), dispatch.runtime.topics.deadlines)
    after = await dispatch.case(event.subject)
    expected = escalate(parse_assignee(before["lead"]), registry, place=before["place"])
    assert after["state"] == "assigned" and not expected.at_top
    assert after["lead"] == str(expected.target) != before["lead"]
    assert before["lead"] in after["assisting"]
    assert (await dispatch.history(event.subject))[-2:] == ["escalate", "assign"]
    stale = dispatch.fired(event.subject, before["lead"])  # the old lead's deadline fires late: nothing moves
    await dispatch.feed(stale, dispatch.runtime.topics.deadlines)
    assert (await dispatch.case(event.subject))["lead"] == after["lead"]


async def test_a_second_report_nearby_is_merged(dispatch: DispatchUnderTest) -> None:
    from services.dispatch.context import DuplicatePolicy
    from shared.domain.model import Level

    registry = dispatch.runtime.registry.loaded.registry
    here = registry.unit("610199004001001006").boundary.representative_point()
    there = registry.units_at(Level.MICRO_GRID)[0].boundary.representative_point()
    # flyposting: no other test reports it, so no older open case of it lies nearby in the session's database
    dispatch.runtime.duplicates = DuplicatePolicy()  # 100 m, 72 h
    try:
        first = await dispatch.report(
            title="小广告",
            description="楼道里贴满小广告",
            matter_code="flyposting",
            location={"lon": here.x, "lat": here.y},
        )
        await dispatch.feed(first)
        nearby = {"lon": here.x + 0.0003, "lat": here.y}  # about 28 m east
        second = await dispatch.report(
            title="小广告", description="又贴了小广告", matter_code="flyposting", location=nearby
        )
        await dispatch.feed(second)
        merged = await dispatch.case(second.subject)
        assert merged["state"] == "merged" and str(merged["merged_into"]) == first.subject
        assert merged["lead"] == (await dispatch.case(first.subject))["lead"]
        assert (await dispatch.case(first.subject))["duplicates"] == 1
        assert (await dispatch.history(first.subject))[-1] == "link"
        assert await dispatch.history(second.subject) == ["report", "merge"]
        far = await dispatch.report(
            title="小广告", description="小广告", matter_code="flyposting", location={"lon": there.x, "lat": there.y}
        )
        await dispatch.feed(far)
        assert (await dispatch.case(far.subject))["state"] == "assigned"
    finally:
        dispatch.runtime.duplicates = DuplicatePolicy(radius_m=0)


async def test_poison_messages_land_in_the_dead_letter_topic_with_reasons(dispatch: DispatchUnderTest) -> None:
    topic = dispatch.runtime.topics.reports
    valid = json.loads((await dispatch.report()).model_dump_json())
    wrong_schema = {**valid, "data": {**valid["data"], "location": "nowhere"}}
    unknown = {**valid, "type": "cn.example.other.v9"}
    not_ours = json.loads(dispatch.fired(str(uuid.uuid4()), "unit:x").model_dump_json())
    not_ours["type"] = "cn.griddispatch.probe.v1"
    not_ours["data"] = {"note": "x"}
    poison = {
        b"\x00\xffnot json": "not_json",
        json.dumps(wrong_schema).encode(): "invalid_event",
        json.dumps(unknown).encode(): "unknown_type",
        json.dumps(not_ours).encode(): "unexpected_type",
        b"[" * 300_000: "not_json",
    }
    marker = uuid.uuid4().hex.encode()
    for value in poison:
        await dispatch.runtime.process(topic, value, marker, 3, 42)
    letters = []
    async with kafka_consumer(dispatch.kafka, dispatch.runtime.topics.dead_letter, group_id=None) as consumer:
        deadline = time.monotonic() + 120  # a loaded machine: the first fetch alone can take seconds
        while len(letters) < len(poison):
            assert time.monotonic() < deadline, f"only {len(letters)} dead letters"
            batch = await consumer.getmany(timeout_ms=1000)
            letters += [r for rs in batch.values() for r in rs if r.key == marker]
    by_value = {r.value: dict(r.headers) for r in letters}
    for value, reason in poison.items():
        assert by_value[value]["dlq_reason"] == reason.encode()  # the original bytes, unchanged, with the reason
        assert by_value[value]["dlq_source"] == f"{topic}:3:42".encode()


async def test_events_left_unpublished_by_a_crash_are_swept_up(dispatch: DispatchUnderTest) -> None:
    from shared import outbox

    event = await dispatch.report()
    await dispatch.feed(event)
    published = await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, event.subject)
    await dispatch.pool.execute(  # as if the worker died between the commit and the publish
        "UPDATE outbox SET published_at = NULL, created_at = now() - interval '1 minute' WHERE key = $1", event.subject
    )
    assert (await outbox.sweep(dispatch.pool, dispatch.runtime.producer)).sent >= 2
    again = await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, event.subject)
    assert len(again) == 2 * len(published)
    assert {e.id for e in again} == {e.id for e in published}  # the same ids: consumers drop the repeats
    assert (
        await dispatch.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND key = $1", event.subject
        )
        == 0
    )


async def test_after_care_deadlines_verify_then_follow_up_then_close_without_a_rating(
    dispatch: DispatchUnderTest,
) -> None:
    topics = dispatch.runtime.topics
    event = await dispatch.report(title="垃圾没人清运", description="楼下垃圾堆了三天", matter_code="sanitation")
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    lead = case["lead"]
    await dispatch.feed(dispatch.action(event.subject, "comment", "supervisor", text="催办"), topics.actions)
    assert (await dispatch.deadlines(event.subject))[("resolve", lead)] == "open"  # a comment voids nothing
    await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", lead), topics.actions)
    for party in json.loads(case["progress"])["owing"]:
        await dispatch.feed(dispatch.action(event.subject, "report_in", "assisting", party), topics.actions)
    await dispatch.feed(dispatch.action(event.subject, "resolve", "assignee", lead), topics.actions)
    centre = dispatch.runtime.registry.loaded.registry.command_centre_for(case["place"])
    deadlines = await dispatch.deadlines(event.subject)
    assert deadlines[("resolve", lead)] == "met" and deadlines[("verify", f"unit:{centre.code}")] == "open"
    await dispatch.feed(dispatch.action(event.subject, "verify_passed", "supervisor"), topics.actions)
    deadlines = await dispatch.deadlines(event.subject)
    assert deadlines[("verify", f"unit:{centre.code}")] == "met" and deadlines[("follow_up", "resident")] == "open"
    await dispatch.feed(dispatch.fired(event.subject, "resident", tier="overdue", kind="follow_up"), topics.deadlines)
    closed = await dispatch.case(event.subject)
    assert closed["state"] == "closed"
    assert (await dispatch.history(event.subject))[-1] == "close"
    assert "open" not in (await dispatch.deadlines(event.subject)).values()
