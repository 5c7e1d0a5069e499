"""Personal assignment with real sign-in: a person signs in, claims a case of their micro-grid through the actions
API (the actor from the token), finds it in their queue, hands it over to a colleague (one outside the unit refused),
and the micro-grid's head reassigns it; dispatch applies each from the same Kafka event intake published."""

from __future__ import annotations

import httpx
import pytest

from shared.people.model import RoleName
from tests.dispatch_fixtures import *  # noqa: F403
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import events_for
from tests.people_rows import until_snapshot
from tests.sign_in_fixtures import *  # noqa: F403
from tests.sign_in_fixtures import MICRO_GRID, OTHER_GRID, SignInStack

pytestmark = pytest.mark.infra


async def _act(stack: SignInStack, dispatch: DispatchUnderTest, case_id: str, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    """Post an action as the signed-in person, then hand dispatch the event intake published (the newest one)."""
    response = await stack.http.post(f"/v1/cases/{case_id}/actions", json={"actor": {}, **body}, headers=headers)
    assert response.status_code == 202, response.text
    requested = [e for e in await events_for(stack.kafka, stack.topics.actions, case_id)]
    event = next(e for e in requested if e.id == response.json()["action_id"])
    await dispatch.feed(event, dispatch.runtime.topics.actions)
    return event


async def _queue(stack: SignInStack, headers: dict[str, str]) -> list[str]:
    r: httpx.Response = await stack.http.get("/v1/me/queue", headers=headers)
    assert r.status_code == 200, r.text
    return [i["case_id"] for i in r.json()["items"]]


async def test_claim_queue_hand_over_and_reassign_as_signed_in_persons(
    stack: SignInStack, dispatch: DispatchUnderTest
) -> None:
    workers = [await stack.person(name="同格网格员", roles=[("grid_worker", MICRO_GRID)]) for _ in range(2)]
    stranger, _ = await stack.person(name="赵外", roles=[("grid_worker", OTHER_GRID)])
    head, head_login = await stack.person(name="周格长", roles=[("micro_grid_head", MICRO_GRID)])
    mine_ids = {person for person, _ in workers}
    snapshot = await until_snapshot(
        lambda: dispatch.runtime.people.snapshot, lambda s: mine_ids | {stranger, head} <= s.active
    )
    # a micro-grid's case goes to its first active grid worker by id; other tests' workers of the same micro-grid
    # may still be active, so the first is read from the snapshot, not assumed to be one of this test's
    [first, *_] = snapshot.holders(MICRO_GRID, [RoleName.GRID_WORKER])
    report = await dispatch.report(title="楼道堆物", description="楼梯间堆满纸箱", matter_code="corridor_clutter")
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == MICRO_GRID
    assert (await dispatch.case(case_id))["lead_person"] == first
    # "me" claims from whoever has it; "colleague" is this test's other worker
    (me, my_login), (colleague, colleague_login) = sorted(workers, key=lambda w: w[0] == first)
    async with stack.pool.acquire() as conn:
        await conn.execute("UPDATE persons SET name = '王小明' WHERE id = $1", me)

    mine = (await stack.signed(my_login)).headers
    theirs = (await stack.signed(colleague_login)).headers
    heads = (await stack.signed(head_login)).headers
    await _act(stack, dispatch, case_id, mine, action="claim")
    row = await dispatch.case(case_id)
    assert row["lead_person"] == me
    assert case_id in await _queue(stack, mine) and case_id not in await _queue(stack, theirs)

    refused = await _act(stack, dispatch, case_id, mine, action="hand_over", person=stranger, text="不在本格")
    assert (await dispatch.case(case_id))["lead_person"] == me
    rejected = [
        e
        for e in await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, case_id)
        if e.type.value.endswith("action.rejected.v1") and e.data.action_event_id == refused.id
    ]
    assert [e.data.code for e in rejected] == ["not_in_unit"]

    await _act(stack, dispatch, case_id, mine, action="hand_over", person=colleague, text="明天休假")
    assert (await dispatch.case(case_id))["lead_person"] == colleague
    assert case_id in await _queue(stack, theirs) and case_id not in await _queue(stack, mine)

    await _act(stack, dispatch, case_id, heads, action="reassign", person=me)
    assert (await dispatch.case(case_id))["lead_person"] == me
    page = (await stack.http.get(f"/v1/cases/{case_id}", headers=heads)).json()
    trail = [(h["action"], h["actor"]["id"]) for h in page["history"]][-4:]
    assert trail == [("claim", me), ("rejected", me), ("hand_over", me), ("reassign", head)]
    assert page["responsible"]["lead"] == me and page["responsible"]["lead_name"] == "王小明"
    unit_queue = (await stack.http.get("/v1/me/unit-queue", headers=heads)).json()
    assert case_id in [i["case_id"] for i in unit_queue["items"]]
    [listed] = [i for i in unit_queue["items"] if i["case_id"] == case_id]
    assert listed["responsible"]["lead_name"] == "王小明"
