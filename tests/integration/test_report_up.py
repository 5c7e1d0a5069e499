"""Report up (上报) end to end on the real broker and database, through the intake API and dispatch: the lead reports a
case up with a reason, the rung above takes it, assigns a department's branch or sends it back with an instruction;
a unit that is not the rung is refused; an undecided report-up climbs when its decide-by fires and, from a grid,
never just bounces (issue 16, item 6).

At the sample point the grid 610199004001001 leads a dog-nuisance case; its community 610199004001 is the rung
above, then the street 610199004 and the district 610199.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import Caller, IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

GRID, COMMUNITY, STREET, DISTRICT = "unit:610199004001001", "unit:610199004001", "unit:610199004", "unit:610199"
OTHER_COMMUNITY = "unit:610199004002"
BRANCH = "branch:city_management-610199004"
REASON = "涉及违章搭建，超出网格处置能力"


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


async def _decide_by(dispatch: DispatchUnderTest, case_id: str) -> Any:
    (row,) = await dispatch.pool.fetch(
        "SELECT * FROM deadlines WHERE case_id = $1 AND kind = 'report_up_decision' AND status = 'open'",
        uuid.UUID(case_id),
    )
    return row


def _fired(case_id: str, row: Any) -> CloudEvent[DeadlineFired]:
    """The event escalation publishes when the decide-by's escalate tier is due."""
    data = DeadlineFired(
        case_id=case_id, deadline_id=str(row["deadline_id"]), kind="report_up_decision", tier="escalate",
        due_at=row["due_at"], assignee=row["party"],
    )  # fmt: skip
    return new_event(data, source="/tests", subject=case_id)


def _counted(step: str, outcome: str = "-") -> float:
    """dispatch's griddispatch_report_up_total{step,outcome} (dispatch runs in the test's process)."""
    return REGISTRY.get_sample_value("griddispatch_report_up_total", {"step": step, "outcome": outcome}) or 0.0


async def _told(dispatch: DispatchUnderTest, case_id: str) -> set[tuple[str, str]]:
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    return {(e.data.assignee, e.data.role) for e in assigned}


async def _reported_up(intake: IntakeUnderTest, dispatch: DispatchUnderTest, person: str = "g-1") -> tuple[str, int]:
    """An accepted dog-nuisance case the grid has reported up (applied by dispatch); and how many actions so far."""
    report = await dispatch.report(title="楼顶违建养犬", matter_code="dog_nuisance")
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == GRID
    await dispatch.feed(dispatch.action(case_id, "accept", "assignee", GRID), dispatch.runtime.topics.actions)
    grid = await intake.caller("read", "act", units=(GRID,))
    asked = await _post(intake, case_id, grid, action="report_up", text=REASON, actor={"id": person, "unit": GRID})
    assert asked.status_code == 202, asked.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    assert (await dispatch.history(case_id))[-1] == "report_up"
    return case_id, seen


async def test_the_grid_reports_up_and_its_community_takes_the_case(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, seen = await _reported_up(intake, dispatch)
    owed = await _decide_by(dispatch, case_id)
    assert owed["party"] == COMMUNITY
    reported = (await _events(dispatch, case_id))[-1]
    assert reported["detail"]["reason"] == REASON and reported["detail"]["to"] == COMMUNITY
    assert reported["detail"]["grid"] is True and reported["actor"]["id"] == "g-1"

    grid = await intake.caller("read", "act", units=(GRID,))
    again = await _post(intake, case_id, grid, action="report_up", text="再报", actor={"id": "g-1", "unit": GRID})
    assert again.status_code == 409 and again.json()["type"].endswith("/report_up_pending")
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    no_decision = await _post(
        intake, case_id, community, action="decide_report_up", actor={"id": "c-1", "unit": COMMUNITY}
    )
    assert no_decision.status_code == 422
    taken = await _post(intake, case_id, community, action="decide_report_up", decision="take", text="社区牵头",
                        actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert taken.status_code == 202, taken.text
    await _apply_actions(intake, dispatch, case_id, seen)

    row = await dispatch.case(case_id)
    assert row["lead"] == COMMUNITY and row["state"] == "assigned"
    assert (await dispatch.history(case_id))[-3:] == ["report_up", "decide_report_up", "assign"]
    assert (await dispatch.deadlines(case_id))[("report_up_decision", COMMUNITY)] == "met"
    assert {(COMMUNITY, "report_up")} <= await _told(dispatch, case_id)
    shown = (await intake.http.get(f"/v1/cases/{case_id}", headers=community.headers)).json()
    decided = next(h for h in shown["history"] if h["action"] == "decide_report_up")
    assert decided["detail"]["decision"] == "take" and decided["actor"]["unit"] == COMMUNITY


async def test_a_street_above_the_rung_assigns_a_branch_and_a_community_sends_one_back(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, seen = await _reported_up(intake, dispatch)
    street = await intake.caller("read", "supervise", units=(STREET,))
    no_unit = await _post(intake, case_id, street, action="decide_report_up", decision="assign",
                          actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert no_unit.status_code == 422
    assigned = await _post(intake, case_id, street, action="decide_report_up", decision="assign", unit=BRANCH,
                           text="交执法中队处置", actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert assigned.status_code == 202, assigned.text
    await _apply_actions(intake, dispatch, case_id, seen)
    assert (await dispatch.case(case_id))["lead"] == BRANCH

    back_id, seen = await _reported_up(intake, dispatch)
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    bare = await _post(intake, back_id, community, action="decide_report_up", decision="send_back",
                       actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert bare.status_code == 422
    sent = await _post(intake, back_id, community, action="decide_report_up", decision="send_back",
                       text="先联系物业核实，再行处置", actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert sent.status_code == 202, sent.text
    await _apply_actions(intake, dispatch, back_id, seen)
    row = await dispatch.case(back_id)
    assert row["lead"] == GRID and row["state"] == "accepted"
    last = (await _events(dispatch, back_id))[-1]
    assert last["action"] == "decide_report_up" and last["detail"]["instruction"].startswith("先联系物业")
    assert (GRID, "report_up_sent_back") in await _told(dispatch, back_id)
    grid = await intake.caller("read", "act", units=(GRID,))
    again = await _post(intake, back_id, grid, action="report_up", text="物业不配合", actor={"id": "g-1", "unit": GRID})
    assert again.status_code == 202  # sent back, it may be reported up again


async def test_refusals_a_unit_not_the_rung_a_non_lead_and_a_decision_with_nothing_reported(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, _ = await _reported_up(intake, dispatch)
    for unit in (OTHER_COMMUNITY, GRID):  # a neighbouring community (that sees the case), the grid below the rung
        caller = await intake.caller("read", "supervise", units=(unit, GRID))
        refused = await _post(intake, case_id, caller, action="decide_report_up", decision="take",
                              actor={"id": "x-1", "unit": unit})  # fmt: skip
        assert refused.status_code == 403 and refused.json()["type"].endswith("/not_report_up_rung"), refused.text
    community_worker = await intake.caller("read", "act", units=(COMMUNITY,))
    no_scope = await _post(intake, case_id, community_worker, action="decide_report_up", decision="take",
                           actor={"id": "c-2", "unit": COMMUNITY})  # fmt: skip
    assert no_scope.status_code == 403

    report = await dispatch.report(title="遛狗不牵绳", matter_code="dog_nuisance")
    await dispatch.feed(report)
    fresh = report.subject
    await dispatch.feed(dispatch.action(fresh, "accept", "assignee", GRID), dispatch.runtime.topics.actions)
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    nothing = await _post(intake, fresh, community, action="decide_report_up", decision="take",
                          actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert nothing.status_code == 409 and nothing.json()["type"].endswith("/no_report_up")
    not_lead = await _post(intake, fresh, community_worker, action="report_up", text=REASON,
                           actor={"id": "c-2", "unit": COMMUNITY})  # fmt: skip
    assert not_lead.status_code == 403 and not_lead.json()["type"].endswith("/not_report_up_rung")
    grid = await intake.caller("read", "act", units=(GRID,))
    no_reason = await _post(intake, fresh, grid, action="report_up", actor={"id": "g-1", "unit": GRID})
    assert no_reason.status_code == 422
    refused_state = await _post(intake, fresh, grid, action="accept", actor={"id": "g-1", "unit": GRID})
    assert refused_state.status_code == 409  # accepted already: what it may do now lists report_up
    assert "report_up" in refused_state.json()["allowed"]


async def test_an_undecided_report_up_from_a_grid_climbs_to_the_district_and_never_bounces(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id, seen = await _reported_up(intake, dispatch)
    counted = {step: _counted(step) for step in ("report_up_climbed", "report_up_realert")}
    taken_before = _counted("decide_report_up", "take")
    for missed_by, climbs_to in ((COMMUNITY, STREET), (STREET, DISTRICT)):
        owed = await _decide_by(dispatch, case_id)
        assert owed["party"] == missed_by
        await dispatch.feed(_fired(case_id, owed), dispatch.runtime.topics.deadlines)  # its decide-by passed
        climbed = (await _events(dispatch, case_id))[-1]
        assert climbed["action"] == "report_up_climbed" and climbed["detail"]["undecided_by"] == missed_by
        assert (await _decide_by(dispatch, case_id))["party"] == climbs_to
        assert (await dispatch.case(case_id))["lead"] == GRID  # still the grid's: nobody decided
    told = await _told(dispatch, case_id)
    assert {(STREET, "report_up"), (DISTRICT, "report_up"), (GRID, "report_up_climbed")} <= told

    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    missed_turn = await _post(intake, case_id, community, action="decide_report_up", decision="take",
                              actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert missed_turn.status_code == 403 and missed_turn.json()["type"].endswith("/not_report_up_rung")

    top = await _decide_by(dispatch, case_id)
    await dispatch.feed(_fired(case_id, top), dispatch.runtime.topics.deadlines)  # the district does not decide
    chased = (await _events(dispatch, case_id))[-1]
    assert chased["action"] == "report_up_realert" and (await _decide_by(dispatch, case_id))["party"] == DISTRICT
    district = await intake.caller("read", "supervise", units=(DISTRICT,))
    taken = await _post(intake, case_id, district, action="decide_report_up", decision="take", text="区级牵头",
                        actor={"id": "d-1", "unit": DISTRICT})  # fmt: skip
    assert taken.status_code == 202, taken.text
    await _apply_actions(intake, dispatch, case_id, seen)
    assert (await dispatch.case(case_id))["lead"] == DISTRICT
    decided = next(e for e in reversed(await _events(dispatch, case_id)) if e["action"] == "decide_report_up")
    assert decided["detail"]["rung"] == DISTRICT
    assert _counted("report_up_climbed") == counted["report_up_climbed"] + 2  # griddispatch_report_up_total
    assert _counted("report_up_realert") == counted["report_up_realert"] + 1
    assert _counted("decide_report_up", "take") == taken_before + 1


async def _reported_up_figure(intake: IntakeUnderTest, caller: Caller, level: str, code: str) -> int:
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    answer = await intake.http.get("/v1/assessment", params={"period": period, "level": level}, headers=caller.headers)
    assert answer.status_code == 200, answer.text
    row = next((r for r in answer.json()["rows"] if r["code"] == code), None)
    return 0 if row is None else int(row["reported_up"])


async def test_assessment_counts_report_ups_per_unit_and_person(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    street = await intake.caller("read", "supervise", units=(STREET,))
    person = f"g-{uuid.uuid4().hex[:8]}"
    grid_before = await _reported_up_figure(intake, street, "grid", GRID.removeprefix("unit:"))
    community_before = await _reported_up_figure(intake, street, "community", COMMUNITY.removeprefix("unit:"))
    case_id, seen = await _reported_up(intake, dispatch, person)
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    sent = await _post(intake, case_id, community, action="decide_report_up", decision="send_back", text="先核实",
                       actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert sent.status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    grid = await intake.caller("read", "act", units=(GRID,))
    again = await _post(intake, case_id, grid, action="report_up", text="核实后仍无法处置",
                        actor={"id": person, "unit": GRID})  # fmt: skip
    assert again.status_code == 202
    await _apply_actions(intake, dispatch, case_id, seen)
    assert (await dispatch.history(case_id)).count("report_up") == 2

    assert await _reported_up_figure(intake, street, "grid", GRID.removeprefix("unit:")) == grid_before + 2
    assert (  # the community rolls up its grids' report-ups
        await _reported_up_figure(intake, street, "community", COMMUNITY.removeprefix("unit:")) == community_before + 2
    )
    assert await _reported_up_figure(intake, street, "person", person) == 2
    stats = await intake.http.get("/v1/stats", params={"unit": STREET, "by": "grid"}, headers=street.headers)
    row = next(r for r in stats.json()["rows"] if r["unit"] == GRID.removeprefix("unit:"))
    assert row["reported_up"] >= 2  # the monthly statistics count each report-up too
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    report = await intake.http.get(
        "/v1/assessment.csv", params={"period": period, "level": "person"}, headers=street.headers
    )
    assert report.text.splitlines()[0].endswith(",主动上报")
    monthly = await intake.http.get("/v1/stats/monthly.csv", params={"month": period}, headers=street.headers)
    assert monthly.text.splitlines()[0].endswith(",主动上报")
    (line,) = [r for r in report.text.splitlines() if f",{person}," in r]
    assert line.endswith(",2")
