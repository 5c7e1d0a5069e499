"""A command centre re-dispatches a case by hand: intake checks it, dispatch assigns it as it assigns any case."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.events import CloudEvent
from tests.case_rows import insert_case
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

STREET = "unit:610199004"
OTHER_GRID = "unit:610199004002001"  # in the same street, not where the sample point lies


def _redispatch(unit: str, text: str = "原网格人员不足，改派") -> dict[str, Any]:
    return {"action": "redispatch", "unit": unit, "text": text, "actor": {"id": "centre-7", "unit": STREET}}


async def test_a_redispatch_reaches_dispatch_and_assigns_the_case_with_fresh_deadlines(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    report = await dispatch.report()
    await dispatch.feed(report)
    case_id = report.subject
    before = await dispatch.case(case_id)
    assert before["state"] == "assigned" and before["lead"] != OTHER_GRID

    centre = await intake.caller("read", "supervise", units=(STREET,))
    key = f"r-{uuid.uuid4()}"
    response = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json=_redispatch(OTHER_GRID.removeprefix("unit:")),  # a bare code is a unit
        headers={**centre.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 202, response.text
    requested = [e for e in await events_for(intake.kafka, intake.topics.actions, case_id)]
    assert [e.data.action for e in requested] == ["assign"]
    assert requested[0].data.actor.role == "supervisor" and requested[0].data.payload["lead"] == OTHER_GRID

    await dispatch.feed(requested[0], dispatch.runtime.topics.actions)
    after = await dispatch.case(case_id)
    assert (after["state"], after["lead"]) == ("assigned", OTHER_GRID)
    assert (await dispatch.history(case_id))[-2:] == ["assign", "assign"]
    deadlines = await dispatch.deadlines(case_id)
    assert deadlines[("accept", before["lead"])] == "void" and deadlines[("accept", OTHER_GRID)] == "open"
    assigned: list[CloudEvent[Any]] = await events_for(
        dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0
    )
    leads = [e.data.assignee for e in assigned if e.data.role == "lead"]
    assert leads == [before["lead"], OTHER_GRID]  # the same event as any assignment

    page = (await intake.http.get(f"/v1/cases/{case_id}", headers=centre.headers)).json()
    last = page["history"][-1]
    assert last["action"] == "assign" and last["actor"]["id"] == "centre-7"
    assert last["detail"]["from"] == before["lead"] and last["detail"]["to"] == OTHER_GRID
    assert last["note"] == "原网格人员不足，改派"
    assert page["assignment"]["lead"] == OTHER_GRID


async def test_redispatch_is_refused_with_a_specific_answer(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, scope_keys=[STREET, "unit:610199"])
        closed = await insert_case(conn, state="closed", scope_keys=[STREET, "unit:610199"])
    centre = await intake.caller("read", "supervise", units=(STREET,))
    url = f"/v1/cases/{case_id}/actions"

    unknown = await intake.http.post(url, json=_redispatch("unit:999999"), headers=centre.headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "unit"
    assert unknown.json()["type"].endswith("/unknown_unit")
    no_department = await intake.http.post(url, json=_redispatch("department:astrology"), headers=centre.headers)
    assert no_department.status_code == 422

    elsewhere = await intake.http.post(url, json=_redispatch("unit:610199001001001"), headers=centre.headers)
    assert elsewhere.status_code == 403 and elsewhere.json()["field"] == "unit"
    worker = await intake.caller("read", "act", units=(STREET,))
    assert (await intake.http.post(url, json=_redispatch(OTHER_GRID), headers=worker.headers)).status_code == 403
    no_reason = {**_redispatch(OTHER_GRID), "text": None}
    assert (await intake.http.post(url, json=no_reason, headers=centre.headers)).status_code == 422

    done = await intake.http.post(f"/v1/cases/{closed}/actions", json=_redispatch(OTHER_GRID), headers=centre.headers)
    assert done.status_code == 409 and done.json()["current_state"] == "closed"
    department = await intake.http.post(url, json=_redispatch("department:city_management"), headers=centre.headers)
    assert department.status_code == 202, department.text


async def test_dispatch_refuses_a_redispatch_to_a_unit_it_does_not_know(dispatch: DispatchUnderTest) -> None:
    report = await dispatch.report()
    await dispatch.feed(report)
    case_id = report.subject
    lead = (await dispatch.case(case_id))["lead"]
    wrong = dispatch.action(case_id, "assign", "supervisor", STREET, payload={"lead": "unit:999999"}, text="改派")
    await dispatch.feed(wrong, dispatch.runtime.topics.actions)
    case = await dispatch.case(case_id)
    assert (case["state"], case["lead"]) == ("assigned", lead)  # nothing moved
    assert (await dispatch.history(case_id))[-1] == "rejected"
    reason = await dispatch.pool.fetchval(
        "SELECT detail->>'code' FROM case_events WHERE case_id = $1 ORDER BY seq DESC LIMIT 1", uuid.UUID(case_id)
    )
    assert reason == "unknown_unit"
