"""Consultation (会商) end to end on the real broker and database, through the intake API and dispatch: a street
convenes units and departments with a deadline for their opinions, the invited answer, the street records the
outcome and the case is re-dispatched as decided; the refusals a user meets (an answer after the deadline, by a
unit not invited, an outcome recorded by another than the convener) (issue 16, item 7).

At the sample point the grid 610199004001001 leads a dog-nuisance case, in the community 610199004001 of the street
610199004.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import Caller, IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

GRID, COMMUNITY, STREET, DISTRICT = "unit:610199004001001", "unit:610199004001", "unit:610199004", "unit:610199"
POLICE, BRANCH = "department:police", "branch:city_management-610199004"


async def _post(intake: IntakeUnderTest, case_id: str, caller: Caller, **body: Any) -> Any:
    return await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers=caller.headers)


async def _apply_actions(intake: IntakeUnderTest, dispatch: DispatchUnderTest, case_id: str, seen: int) -> int:
    """Feed dispatch the actions intake published for the case after the `seen` first ones; returns how many."""
    requested = await events_for(intake.kafka, intake.topics.actions, case_id, settle_s=1.0)
    for event in requested[seen:]:
        await dispatch.feed(event, dispatch.runtime.topics.actions)
    return len(requested)


async def _events(dispatch: DispatchUnderTest, case_id: str) -> list[dict[str, Any]]:
    rows = await dispatch.pool.fetch(
        "SELECT action, actor, detail FROM case_events WHERE case_id = $1 ORDER BY seq", uuid.UUID(case_id)
    )
    return [{"action": r["action"], "actor": json.loads(r["actor"]), "detail": json.loads(r["detail"])} for r in rows]


async def _opinion_deadlines(dispatch: DispatchUnderTest, case_id: str) -> dict[str, Any]:
    rows = await dispatch.pool.fetch(
        "SELECT * FROM deadlines WHERE case_id = $1 AND kind = 'consultation_opinion'", uuid.UUID(case_id)
    )
    return {r["party"]: r for r in rows}


async def _told(dispatch: DispatchUnderTest, case_id: str) -> set[tuple[str, str]]:
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    return {(e.data.assignee, e.data.role) for e in assigned}


def _fired(case_id: str, row: Any) -> CloudEvent[DeadlineFired]:
    """The event escalation publishes when an opinions-by's escalate tier is due."""
    data = DeadlineFired(
        case_id=case_id, deadline_id=str(row["deadline_id"]), kind="consultation_opinion", tier="escalate",
        due_at=row["due_at"], assignee=row["party"],
    )  # fmt: skip
    return new_event(data, source="/tests", subject=case_id)


async def _convened(intake: IntakeUnderTest, dispatch: DispatchUnderTest) -> tuple[str, int]:
    """An accepted dog-nuisance case the street has convened a consultation on (applied by dispatch)."""
    report = await dispatch.report(title="烈性犬伤人", matter_code="dog_nuisance")
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == GRID
    await dispatch.feed(dispatch.action(case_id, "accept", "assignee", GRID), dispatch.runtime.topics.actions)
    street = await intake.caller("read", "supervise", units=(STREET,))
    opinions_by = datetime.now(UTC) + timedelta(hours=2)
    convened = await _post(intake, case_id, street, action="convene", text="烈性犬伤人，涉及公安、城管与社区",
                           invited=[POLICE, BRANCH, COMMUNITY], opinions_by=opinions_by.isoformat(),
                           actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert convened.status_code == 202, convened.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    assert (await dispatch.history(case_id))[-1] == "convene"
    return case_id, seen


async def test_a_street_convenes_the_invited_answer_and_the_outcome_re_dispatches_the_case(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, seen = await _convened(intake, dispatch)
    owed = await _opinion_deadlines(dispatch, case_id)
    assert set(owed) == {POLICE, BRANCH, COMMUNITY} and {r["status"] for r in owed.values()} == {"open"}
    told = await _told(dispatch, case_id)
    assert {(POLICE, "consultation_invited"), (BRANCH, "consultation_invited")} <= told

    police = await intake.caller("read", "act", units=(POLICE,))  # not on the case: it reads it as invited
    shown = await intake.http.get(f"/v1/cases/{case_id}", headers=police.headers)
    assert shown.status_code == 200 and shown.json()["consultation"]["convener"] == STREET
    answered = await _post(intake, case_id, police, action="give_opinion", text="伤人部分由公安依法处置",
                           actor={"id": "p-1", "unit": POLICE})  # fmt: skip
    assert answered.status_code == 202, answered.text
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    also = await _post(intake, case_id, community, action="give_opinion", text="社区配合走访，网格员协助",
                       actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert also.status_code == 202, also.text
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    twice = await _post(
        intake, case_id, police, action="give_opinion", text="补充", actor={"id": "p-1", "unit": POLICE}
    )
    assert twice.status_code == 409 and twice.json()["type"].endswith("/opinion_given")
    opinions = (await intake.http.get(f"/v1/cases/{case_id}", headers=police.headers)).json()["consultation"]
    assert [(o["party"], o["person"]) for o in opinions["opinions"]] == [(POLICE, "p-1"), (COMMUNITY, "c-1")]

    street = await intake.caller("read", "supervise", units=(STREET,))
    decided = await _post(intake, case_id, street, action="record_outcome", unit=POLICE, assisting=[BRANCH, GRID],
                          text="会商决定：公安牵头，城管中队与网格协助", actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert decided.status_code == 202, decided.text
    await _apply_actions(intake, dispatch, case_id, seen)
    row = await dispatch.case(case_id)
    assert row["lead"] == POLICE and set(row["assisting"]) == {BRANCH, GRID} and row["state"] == "assigned"
    assert json.loads(row["consultation"]) == {}
    history = await dispatch.history(case_id)
    assert history[-5:] == ["convene", "give_opinion", "give_opinion", "record_outcome", "assign"]
    outcome = next(e for e in await _events(dispatch, case_id) if e["action"] == "record_outcome")
    assert outcome["detail"]["unanswered"] == [BRANCH] and outcome["actor"]["unit"] == STREET
    statuses = {p: r["status"] for p, r in (await _opinion_deadlines(dispatch, case_id)).items()}
    assert statuses == {POLICE: "met", COMMUNITY: "met", BRANCH: "void"}
    told = await _told(dispatch, case_id)
    assert {(STREET, "consultation_opinion"), (POLICE, "lead"), (BRANCH, "assisting"), (GRID, "assisting")} <= told


async def test_refusals_an_answer_after_the_deadline_by_a_unit_not_invited_and_an_outcome_by_another(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, seen = await _convened(intake, dispatch)
    grid = await intake.caller("read", "act", "supervise", units=(GRID,))  # the lead: it sees the case
    stranger = await _post(intake, case_id, grid, action="give_opinion", text="我们也有意见",
                           actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert stranger.status_code == 403 and stranger.json()["type"].endswith("/not_invited"), stranger.text
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    not_convener = await _post(intake, case_id, community, action="record_outcome", unit=COMMUNITY, text="社区牵头",
                               actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert not_convener.status_code == 403 and not_convener.json()["type"].endswith("/not_convener")
    grid_convenes = await _post(intake, case_id, grid, action="convene", text="x", invited=[POLICE],
                                actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert grid_convenes.status_code == 409 and grid_convenes.json()["type"].endswith("/consultation_open")
    street = await intake.caller("read", "supervise", units=(STREET,))
    no_invited = await _post(intake, case_id, street, action="convene", text="x", actor={"id": "s-1", "unit": STREET})
    assert no_invited.status_code == 422

    # the opinions-by passes: escalation fires the deadlines, the consultation takes no more answers
    owed = await _opinion_deadlines(dispatch, case_id)
    await dispatch.feed(_fired(case_id, owed[BRANCH]), dispatch.runtime.topics.deadlines)
    last = (await _events(dispatch, case_id))[-1]
    assert last["action"] == "consultation_unanswered"
    assert sorted(last["detail"]["unanswered"]) == sorted([POLICE, BRANCH, COMMUNITY])
    assert (STREET, "consultation_due") in await _told(dispatch, case_id)
    assert {r["status"] for r in (await _opinion_deadlines(dispatch, case_id)).values()} == {"void"}
    police = await intake.caller("read", "act", units=(POLICE,))
    late = await _post(intake, case_id, police, action="give_opinion", text="迟到的意见",
                       actor={"id": "p-1", "unit": POLICE})  # fmt: skip
    assert late.status_code == 409 and late.json()["type"].endswith("/consultation_closed"), late.text
    # what a client sent before the refusal could be seen is refused by dispatch as well
    raced = dispatch.action(case_id, "give_opinion", "invitee", POLICE, text="同时发出的意见")
    await dispatch.feed(raced, dispatch.runtime.topics.actions)
    refused = (await _events(dispatch, case_id))[-1]
    assert refused["action"] == "rejected" and refused["detail"]["code"] == "consultation_closed"

    decided = await _post(intake, case_id, street, action="record_outcome", unit=GRID, text="维持网格办理",
                          actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert decided.status_code == 202
    await _apply_actions(intake, dispatch, case_id, seen)
    assert (await dispatch.case(case_id))["lead"] == GRID and (await dispatch.history(case_id))[-1] == "assign"
    none_open = await _post(intake, case_id, street, action="record_outcome", unit=GRID, text="再记一次",
                            actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert none_open.status_code == 409 and none_open.json()["type"].endswith("/no_consultation")


async def test_only_a_street_or_community_over_the_place_convenes(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    report = await dispatch.report(title="遛狗不牵绳", matter_code="dog_nuisance")
    await dispatch.feed(report)
    case_id = report.subject
    grid = await intake.caller("read", "supervise", units=(GRID,))
    refused = await _post(intake, case_id, grid, action="convene", text="网格会商", invited=[POLICE],
                          actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["type"].endswith("/convener_not_allowed")
    other_street = "unit:610199001"
    both = await intake.caller("read", "supervise", units=(other_street, GRID))
    elsewhere = await _post(intake, case_id, both, action="convene", text="别的街道", invited=[POLICE],
                            actor={"id": "x-1", "unit": other_street})  # fmt: skip
    assert elsewhere.status_code == 403 and elsewhere.json()["type"].endswith("/convener_not_allowed")
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    unknown = await _post(intake, case_id, community, action="convene", text="社区会商", invited=["department:nope"],
                          actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown_unit")
    assert (await _post(intake, case_id, community, action="convene", text="社区会商", invited=[POLICE],
                        actor={"id": "c-1", "unit": COMMUNITY})).status_code == 202  # fmt: skip


async def test_the_district_convenes_on_behalf_of_the_cases_street_and_records_its_outcome(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    report = await dispatch.report(title="烈性犬伤人，街道无力协调", matter_code="dog_nuisance")
    await dispatch.feed(report)
    case_id = report.subject
    await dispatch.feed(dispatch.action(case_id, "accept", "assignee", GRID), dispatch.runtime.topics.actions)
    district = await intake.caller("read", "supervise", units=(DISTRICT,))
    convened = await _post(intake, case_id, district, action="convene", text="区指挥中心代街道组织会商",
                           invited=[POLICE, BRANCH], actor={"id": "d-1", "unit": DISTRICT})  # fmt: skip
    assert convened.status_code == 202, convened.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    held = (await intake.http.get(f"/v1/cases/{case_id}", headers=district.headers)).json()
    assert held["consultation"]["convener"] == STREET and held["consultation"]["convened_by"] == "d-1"
    entry = (await _events(dispatch, case_id))[-1]
    assert entry["action"] == "convene" and entry["actor"]["unit"] == DISTRICT
    assert entry["detail"]["on_behalf_of"] == STREET and entry["detail"]["convener"] == STREET

    police = await intake.caller("read", "act", units=(POLICE,))
    answered = await _post(intake, case_id, police, action="give_opinion", text="公安牵头处置",
                           actor={"id": "p-1", "unit": POLICE})  # fmt: skip
    assert answered.status_code == 202, answered.text
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    not_its = await _post(intake, case_id, community, action="record_outcome", unit=POLICE, text="x",
                          actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert not_its.status_code == 403 and not_its.json()["type"].endswith("/not_convener")
    decided = await _post(intake, case_id, district, action="record_outcome", unit=POLICE, assisting=[GRID],
                          text="会商决定：公安牵头，网格协助", actor={"id": "d-1", "unit": DISTRICT})  # fmt: skip
    assert decided.status_code == 202, decided.text
    await _apply_actions(intake, dispatch, case_id, seen)
    row = await dispatch.case(case_id)
    assert row["lead"] == POLICE and (await dispatch.history(case_id))[-2:] == ["record_outcome", "assign"]
    outcome = next(e for e in await _events(dispatch, case_id) if e["action"] == "record_outcome")
    assert outcome["actor"]["unit"] == DISTRICT and outcome["detail"]["on_behalf_of"] == STREET
    shown = (await intake.http.get(f"/v1/cases/{case_id}", headers=district.headers)).json()
    convene = next(h for h in shown["history"] if h["action"] == "convene")
    assert convene["detail"]["on_behalf_of"] == STREET  # the API's history says so, as for a summons
