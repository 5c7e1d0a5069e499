"""Supervision (督办) end to end on the real broker and database: a missed deadline under the `supervise` policy, the
supervision order it issues, the lead's reply through the API, an urge, orders by hand, an unanswered order
climbing, and the refusals a user meets (issue order 16, items 1-3).

The sample catalog supervises dog nuisance (a grid's matter, taken over at the 3rd miss); at the sample point
the grid 610199004001001 leads, its community 610199004001 supervises, the street 610199004 is above it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

GRID, COMMUNITY, STREET = "unit:610199004001001", "unit:610199004001", "unit:610199004"
SUPERVISED = "dog_nuisance"


async def _missed(dispatch: DispatchUnderTest, case_id: str, kind: str, party: str) -> CloudEvent[DeadlineFired]:
    """The escalate tier of the party's open deadline of `kind` (the newest), as escalation fires it."""
    row = await dispatch.pool.fetchrow(
        """SELECT deadline_id, due_at FROM deadlines WHERE case_id = $1 AND kind = $2 AND party = $3
           AND status = 'open' ORDER BY created_at DESC LIMIT 1""",
        uuid.UUID(case_id),
        kind,
        party,
    )
    assert row is not None, f"no open {kind} deadline for {party}"
    data = dispatch.fired(case_id, party, kind=kind).data
    data = data.model_copy(update={"deadline_id": str(row["deadline_id"]), "due_at": row["due_at"]})
    return new_event(data, source="/tests", subject=case_id)


async def _supervised_case(dispatch: DispatchUnderTest) -> str:
    """A fresh dog-nuisance case whose accept-by the grid missed once."""
    report = await dispatch.report(title="小区里有人遛狗不牵绳", matter_code=SUPERVISED)
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == GRID
    await dispatch.feed(await _missed(dispatch, case_id, "accept", GRID), dispatch.runtime.topics.deadlines)
    return case_id


def _counted(step: str, outcome: str) -> float:
    """dispatch's griddispatch_supervision_total{step,outcome} (dispatch runs in the test's process)."""
    return REGISTRY.get_sample_value("griddispatch_supervision_total", {"step": step, "outcome": outcome}) or 0.0


async def _post(intake: IntakeUnderTest, case_id: str, headers: dict[str, str], **body: Any) -> Any:
    return await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers=headers)


async def _apply_actions(intake: IntakeUnderTest, dispatch: DispatchUnderTest, case_id: str, seen: int = 0) -> int:
    """Feed dispatch the actions intake published for the case since the `seen` first ones; returns how many."""
    requested = await events_for(intake.kafka, intake.topics.actions, case_id, settle_s=1.0)
    for event in requested[seen:]:
        await dispatch.feed(event, dispatch.runtime.topics.actions)
    return len(requested)


async def test_a_missed_deadline_puts_the_rung_above_on_the_case_and_the_lead_answers_its_order(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _supervised_case(dispatch)
    row = await dispatch.case(case_id)
    assert row["lead"] == GRID and row["state"] == "assigned"  # the lead stays
    assert (await dispatch.history(case_id))[-2:] == ["supervise", "supervise_order"]
    reader = await intake.caller("read", units=(COMMUNITY,))
    shown = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=reader.headers)).json()
    assert shown["supervisor"] == COMMUNITY and shown["misses"] == 1
    (order,) = shown["orders"]
    assert (order["colour"], order["by"], order["to"], order["state"]) == ("yellow", COMMUNITY, GRID, "open")
    assert order["automatic"] is True
    listed = (
        await intake.http.get("/v1/supervision/orders", headers=reader.headers, params={"unit": COMMUNITY})
    ).json()
    assert order["order_id"] in [o["order_id"] for o in listed["items"]]
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    told = {(e.data.assignee, e.data.role) for e in assigned}
    assert {(COMMUNITY, "supervisor"), (GRID, "supervision_order_yellow")} <= told  # notify pages both

    other = await intake.caller("read", "act", units=(COMMUNITY,))
    refused = await _post(intake, case_id, other.headers, action="reply_order", order_id=order["order_id"],
                          text="已处理", actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["type"].endswith("/order_not_yours")

    grid = await intake.caller("read", "act", units=(GRID,))
    unknown = await _post(intake, case_id, grid.headers, action="reply_order", order_id=str(uuid.uuid4()),
                          text="已处理", actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert unknown.status_code == 409 and unknown.json()["type"].endswith("/unknown_order")
    replied = await _post(intake, case_id, grid.headers, action="reply_order", order_id=order["order_id"],
                          text="已上门劝导养犬人", actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert replied.status_code == 202, replied.text
    await _apply_actions(intake, dispatch, case_id)
    after = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=reader.headers)).json()
    (answered,) = after["orders"]
    assert answered["state"] == "answered" and answered["reply"] == "已上门劝导养犬人"
    assert answered["replied_by"]["id"] == "g-1"
    assert (await dispatch.deadlines(case_id))[("order_reply", GRID)] == "met"
    listed = (
        await intake.http.get("/v1/supervision/orders", headers=reader.headers, params={"unit": COMMUNITY})
    ).json()
    assert order["order_id"] not in [o["order_id"] for o in listed["items"]]


async def test_a_supervisor_urges_and_issues_an_order_by_hand_and_others_are_refused(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    report = await dispatch.report(title="遛狗不牵绳", matter_code=SUPERVISED)
    await dispatch.feed(report)
    case_id = report.subject
    street = await intake.caller("read", "supervise", units=(STREET,))
    urged = await _post(intake, case_id, street.headers, action="urge", text="群众多次来电，请尽快处理",
                        actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert urged.status_code == 202, urged.text
    issued = await _post(intake, case_id, street.headers, action="supervise_order", colour="red", text="限期整改",
                         actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert issued.status_code == 202, issued.text

    worker = await intake.caller("read", "act", units=(GRID,))
    no_role = await _post(intake, case_id, worker.headers, action="supervise_order", text="督办",
                          actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert no_role.status_code == 403  # without the supervise scope
    lead_itself = await intake.caller("read", "supervise", units=(GRID,))
    below = await _post(intake, case_id, lead_itself.headers, action="urge", text="催办",
                        actor={"id": "g-2", "unit": GRID})  # fmt: skip
    assert below.status_code == 403 and below.json()["type"].endswith("/not_supervising")

    await _apply_actions(intake, dispatch, case_id)
    assert (await dispatch.history(case_id))[-2:] == ["urge", "supervise_order"]
    shown = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=street.headers)).json()
    (urge,) = shown["urges"]
    assert urge["reason"] == "群众多次来电，请尽快处理" and urge["by"]["id"] == "s-1" and urge["to"] == GRID
    (order,) = shown["orders"]
    assert (order["colour"], order["by"], order["automatic"], order["state"]) == ("red", STREET, False, "open")
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    assert {(GRID, "urged"), (GRID, "supervision_order_red")} <= {(e.data.assignee, e.data.role) for e in assigned}


async def test_an_unanswered_order_turns_red_from_the_rung_above_then_the_case_is_taken_over(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _supervised_case(dispatch)
    deadlines = dispatch.runtime.topics.deadlines
    await dispatch.feed(await _missed(dispatch, case_id, "order_reply", GRID), deadlines)
    reader = await intake.caller("read", units=(STREET,))
    shown = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=reader.headers)).json()
    yellow, red = shown["orders"]
    assert yellow["state"] == "escalated" and yellow["escalated_to"] == red["order_id"]
    assert (red["colour"], red["by"], red["state"]) == ("red", STREET, "open")
    assert (await dispatch.case(case_id))["lead"] == GRID

    await dispatch.feed(await _missed(dispatch, case_id, "order_reply", GRID), deadlines)
    row = await dispatch.case(case_id)
    assert row["lead"] == COMMUNITY  # 提级: the red order went unanswered too
    assert (await dispatch.history(case_id))[-3:] == ["order_unanswered", "escalate", "assign"]
    after = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=reader.headers)).json()
    assert [o["state"] for o in after["orders"]] == ["escalated", "escalated"] and after["supervisor"] is None


async def test_assessment_counts_the_orders_the_replies_in_time_and_the_urges(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    received = datetime(2025, 10, 14, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a month no other test uses
    report = await dispatch.report(title="遛狗不牵绳", matter_code=SUPERVISED, received_at=received)
    await dispatch.feed(report)
    case_id = report.subject
    await dispatch.feed(await _missed(dispatch, case_id, "accept", GRID), dispatch.runtime.topics.deadlines)
    street = await intake.caller("read", "supervise", units=(STREET,))
    grid = await intake.caller("read", "act", units=(GRID,))
    (order,) = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=street.headers)).json()["orders"]
    for caller, body in (
        (street, {"action": "urge", "text": "请尽快签收", "actor": {"id": "s-1", "unit": STREET}}),
        (street, {"action": "supervise_order", "text": "限期处理", "actor": {"id": "s-1", "unit": STREET}}),
        (grid, {"action": "reply_order", "order_id": order["order_id"], "text": "已处理",
                "actor": {"id": "g-7", "unit": GRID}}),
    ):  # fmt: skip
        response = await _post(intake, case_id, caller.headers, **body)
        assert response.status_code == 202, response.text
    await _apply_actions(intake, dispatch, case_id)

    params = {"period": "2025-10", "level": "grid"}
    body = (await intake.http.get("/v1/assessment", params=params, headers=street.headers)).json()
    row = next(r for r in body["rows"] if r["code"] == GRID.removeprefix("unit:"))
    figures = {k: row[k] for k in ("orders_issued", "orders_answered", "orders_answered_in_time", "urged")}
    assert figures == {"orders_issued": 2, "orders_answered": 1, "orders_answered_in_time": 1, "urged": 1}
    people = await intake.http.get("/v1/assessment", params={**params, "level": "person"}, headers=street.headers)
    replier = next(r for r in people.json()["rows"] if r["code"] == "g-7")
    assert (replier["orders_answered"], replier["orders_answered_in_time"]) == (1, 1)
    report_csv = await intake.http.get("/v1/assessment.csv", params=params, headers=street.headers)
    assert "督办单,督办已回复,督办按时回复" in report_csv.text.splitlines()[0]


async def test_a_reply_after_the_reply_by_is_answered_late_and_assessment_counts_it_answered_not_in_time(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    received = datetime(2025, 11, 18, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a month no other test uses
    report = await dispatch.report(title="遛狗不牵绳", matter_code=SUPERVISED, received_at=received)
    await dispatch.feed(report)
    case_id = report.subject
    await dispatch.feed(await _missed(dispatch, case_id, "accept", GRID), dispatch.runtime.topics.deadlines)
    street = await intake.caller("read", "supervise", units=(STREET,))
    (order,) = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=street.headers)).json()["orders"]
    # its reply-by passes before the lead answers, and before escalation found it (as when escalation lags)
    past = "now() - interval '1 hour'"
    await dispatch.pool.execute(
        f"UPDATE deadlines SET due_at = {past} WHERE deadline_id = $1", uuid.UUID(order["order_id"])
    )
    await dispatch.pool.execute(
        f"""UPDATE cases SET supervision = jsonb_set(supervision, '{{orders,0,reply_by}}', to_jsonb({past}))
            WHERE case_id = $1 AND supervision->'orders'->0->>'order_id' = $2""",
        uuid.UUID(case_id),
        order["order_id"],
    )
    late_before, in_time_before = _counted("reply_order", "late"), _counted("reply_order", "in_time")
    grid = await intake.caller("read", "act", units=(GRID,))
    replied = await _post(intake, case_id, grid.headers, action="reply_order", order_id=order["order_id"],
                          text="已上门劝导，已整改", actor={"id": "g-8", "unit": GRID})  # fmt: skip
    assert replied.status_code == 202, replied.text
    await _apply_actions(intake, dispatch, case_id)

    (late,) = (await intake.http.get(f"/v1/cases/{case_id}/supervision", headers=street.headers)).json()["orders"]
    assert (late["state"], late["late"], late["reply"]) == ("answered_late", True, "已上门劝导，已整改")
    assert (await dispatch.deadlines(case_id))[("order_reply", GRID)] == "met"  # answered: it no longer runs
    assert (_counted("reply_order", "late"), _counted("reply_order", "in_time")) == (late_before + 1, in_time_before)
    params = {"period": "2025-11", "level": "grid"}
    body = (await intake.http.get("/v1/assessment", params=params, headers=street.headers)).json()
    row = next(r for r in body["rows"] if r["code"] == GRID.removeprefix("unit:"))
    figures = {k: row[k] for k in ("orders_issued", "orders_answered", "orders_answered_in_time")}
    assert figures == {"orders_issued": 1, "orders_answered": 1, "orders_answered_in_time": 0}
    people = await intake.http.get("/v1/assessment", params={**params, "level": "person"}, headers=street.headers)
    replier = next(r for r in people.json()["rows"] if r["code"] == "g-8")
    assert (replier["orders_answered"], replier["orders_answered_in_time"]) == (1, 0)
