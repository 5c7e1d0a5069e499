"""The clock (延期, 挂起) end to end on the real broker and database, through the intake API and dispatch: an extension
asked by the lead and decided by the supervising level, a suspension that stops the resolve-by and a resume that
restarts what was left of it on the working-day calendar, the refusals a user meets, and what assessment counts
(issue 16, items 4 and 5).

At the sample point the grid 610199004001001 leads a dog-nuisance case (calendar hours; the district default allows
1 extension of at most 5 working days) and its community 610199004001 supervises; a neighbour dispute (working
days; 2 extensions of 10) is led by the community and supervised by the street 610199004.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from shared.domain.calendar import after_working_seconds
from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import Caller, IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

GRID, COMMUNITY, STREET = "unit:610199004001001", "unit:610199004001", "unit:610199004"


async def _post(intake: IntakeUnderTest, case_id: str, caller: Caller, **body: Any) -> Any:
    return await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers=caller.headers)


async def _apply_actions(intake: IntakeUnderTest, dispatch: DispatchUnderTest, case_id: str, seen: int) -> int:
    """Feed dispatch the actions intake published for the case after the `seen` first ones; returns how many."""
    requested = await events_for(intake.kafka, intake.topics.actions, case_id, settle_s=1.0)
    for event in requested[seen:]:
        await dispatch.feed(event, dispatch.runtime.topics.actions)
    return len(requested)


async def _accepted(dispatch: DispatchUnderTest, matter: str, lead: str, **fields: Any) -> str:
    report = await dispatch.report(
        title="遛狗不牵绳" if matter == "dog_nuisance" else "邻里纠纷", matter_code=matter, **fields
    )
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == lead
    await dispatch.feed(dispatch.action(case_id, "accept", "assignee", lead), dispatch.runtime.topics.actions)
    assert (await dispatch.case(case_id))["state"] == "accepted"
    return case_id


async def _events(dispatch: DispatchUnderTest, case_id: str) -> list[dict[str, Any]]:
    rows = await dispatch.pool.fetch(
        "SELECT action, actor, detail, at FROM case_events WHERE case_id = $1 ORDER BY seq", uuid.UUID(case_id)
    )
    return [{"action": r["action"], "actor": json.loads(r["actor"]), "detail": json.loads(r["detail"]),
             "at": r["at"]} for r in rows]  # fmt: skip


async def _open_resolve(dispatch: DispatchUnderTest, case_id: str) -> list[Any]:
    return await dispatch.pool.fetch(
        "SELECT * FROM deadlines WHERE case_id = $1 AND kind = 'resolve' AND status = 'open'", uuid.UUID(case_id)
    )


def _fired(case_id: str, row: Any, tier: str = "escalate") -> CloudEvent[DeadlineFired]:
    data = DeadlineFired(
        case_id=case_id, deadline_id=str(row["deadline_id"]), kind="resolve", tier=tier, due_at=row["due_at"],
        assignee=row["party"],
    )  # fmt: skip
    return new_event(data, source="/tests", subject=case_id)


def _approvals() -> float:
    labels = {"step": "decide_extension", "outcome": "approved"}
    return REGISTRY.get_sample_value("griddispatch_clock_total", labels) or 0.0


async def test_the_lead_asks_for_an_extension_the_supervising_level_approves_and_the_resolve_by_moves(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "dog_nuisance", GRID)
    before = (await dispatch.case(case_id))["resolve_by"]
    wanted = before + timedelta(hours=24)
    grid = await intake.caller("read", "act", units=(GRID,))
    outsider = await intake.caller("read", "act", units=(COMMUNITY,))
    refused = await _post(intake, case_id, outsider, action="request_extension", resolve_by=wanted.isoformat(),
                          text="需等待业主回家", actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["type"].endswith("/not_lead")
    earlier = await _post(intake, case_id, grid, action="request_extension", text="需等待业主",
                          resolve_by=(before - timedelta(hours=1)).isoformat(), actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert earlier.status_code == 422 and earlier.json()["type"].endswith("/resolve_by_not_later")
    asked = await _post(intake, case_id, grid, action="request_extension", resolve_by=wanted.isoformat(),
                        text="养犬人外出，需等待其返回", actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert asked.status_code == 202, asked.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    shown = (await intake.http.get(f"/v1/cases/{case_id}", headers=grid.headers)).json()
    assert shown["clock"]["extension_asked"]["person"] == "g-1"
    again = await _post(intake, case_id, grid, action="request_extension", resolve_by=wanted.isoformat(),
                        text="再次申请", actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert again.status_code == 409 and again.json()["type"].endswith("/extension_pending")

    lead_itself = await intake.caller("read", "supervise", units=(GRID,))
    not_above = await _post(intake, case_id, lead_itself, action="decide_extension", approved=True,
                            actor={"id": "g-2", "unit": GRID})  # fmt: skip
    assert not_above.status_code == 403 and not_above.json()["type"].endswith("/not_supervising")
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    counted = _approvals()
    approved = await _post(intake, case_id, community, action="decide_extension", approved=True, text="同意",
                           actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert approved.status_code == 202, approved.text
    seen = await _apply_actions(intake, dispatch, case_id, seen)

    row = await dispatch.case(case_id)
    assert row["resolve_by"] == wanted
    (deadline,) = await _open_resolve(dispatch, case_id)
    assert deadline["due_at"] == wanted
    start = deadline["starts_at"]  # its warnings at the matter's fractions of the whole, longer allowance
    assert sorted(deadline["warn_times"]) == [start + (wanted - start) * f for f in (0.5, 0.8)]
    assert (await dispatch.history(case_id))[-2:] == ["request_extension", "decide_extension"]
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    told = {(e.data.assignee, e.data.role) for e in assigned}
    assert {(COMMUNITY, "extension_requested"), (GRID, "extension_approved")} <= told
    assert _approvals() == counted + 1  # griddispatch_clock_total

    # the district default allows one extension: dispatch refuses the next one
    more = await _post(intake, case_id, grid, action="request_extension", text="仍需时间",
                       resolve_by=(wanted + timedelta(hours=4)).isoformat(), actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert more.status_code == 202, more.text
    await _apply_actions(intake, dispatch, case_id, seen)
    last = (await _events(dispatch, case_id))[-1]
    assert last["action"] == "rejected" and last["detail"]["code"] == "extension_limit"
    assert (await dispatch.case(case_id))["resolve_by"] == wanted


async def test_a_refused_extension_leaves_the_resolve_by_and_one_too_long_is_refused_by_dispatch(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "dog_nuisance", GRID)
    before = (await dispatch.case(case_id))["resolve_by"]
    grid = await intake.caller("read", "act", units=(GRID,))
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    too_long = await _post(intake, case_id, grid, action="request_extension", text="需要很久",
                           resolve_by=(before + timedelta(days=30)).isoformat(), actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert too_long.status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    last = (await _events(dispatch, case_id))[-1]
    assert last["action"] == "rejected" and last["detail"]["code"] == "extension_too_long"

    nothing = await _post(intake, case_id, community, action="decide_extension", approved=True,
                          actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert nothing.status_code == 409 and nothing.json()["type"].endswith("/nothing_to_decide")
    asked = await _post(intake, case_id, grid, action="request_extension", text="等待配件",
                        resolve_by=(before + timedelta(hours=8)).isoformat(), actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert asked.status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    refused = await _post(intake, case_id, community, action="decide_extension", approved=False, text="理由不充分",
                          actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert refused.status_code == 202
    await _apply_actions(intake, dispatch, case_id, seen)
    decided = (await _events(dispatch, case_id))[-1]
    assert decided["action"] == "decide_extension" and decided["detail"]["approved"] is False
    row = await dispatch.case(case_id)
    assert row["resolve_by"] == before and json.loads(row["clock"]) == {"extensions": 0}
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    assert (GRID, "extension_refused") in {(e.data.assignee, e.data.role) for e in assigned}


async def test_a_suspended_resolve_by_does_not_fire_and_resumes_with_what_was_left_on_the_working_day_calendar(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "neighbour_dispute", COMMUNITY)
    (running,) = await _open_resolve(dispatch, case_id)
    lead = await intake.caller("read", "act", units=(COMMUNITY,))
    street = await intake.caller("read", "supervise", units=(STREET,))
    grid = await intake.caller("read", "supervise", units=(GRID,))
    not_yet = await _post(intake, case_id, lead, action="resume", actor={"id": "c-1", "unit": COMMUNITY})
    assert not_yet.status_code == 409 and not_yet.json()["type"].endswith("/not_suspended")
    asked = await _post(intake, case_id, lead, action="request_suspension", reason_code="waiting_resident",
                        text="当事人外出务工，春节后返回", actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert asked.status_code == 202, asked.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    twice = await _post(intake, case_id, lead, action="request_suspension", text="再次申请",
                        actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert twice.status_code == 409 and twice.json()["type"].endswith("/suspension_pending")
    below = await _post(intake, case_id, grid, action="decide_suspension", approved=True,
                        actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert below.status_code == 403 and below.json()["type"].endswith("/not_supervising")
    approved = await _post(intake, case_id, street, action="decide_suspension", approved=True, text="同意挂起",
                           actor={"id": "s-1", "unit": STREET})  # fmt: skip
    assert approved.status_code == 202, approved.text
    seen = await _apply_actions(intake, dispatch, case_id, seen)

    row = await dispatch.case(case_id)
    assert row["resolve_by"] is None and "suspended" in json.loads(row["clock"])
    assert await _open_resolve(dispatch, case_id) == []  # nothing for escalation to fire
    history = await dispatch.history(case_id)
    await dispatch.feed(_fired(case_id, running), dispatch.runtime.topics.deadlines)  # as if it had fired anyway
    assert await dispatch.history(case_id) == history and (await dispatch.case(case_id))["lead"] == COMMUNITY
    suspended = await _post(intake, case_id, lead, action="request_suspension", text="又一次",
                            actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert suspended.status_code == 409 and suspended.json()["type"].endswith("/already_suspended")

    resumed = await _post(intake, case_id, lead, action="resume", text="当事人已返回",
                          actor={"id": "c-1", "unit": COMMUNITY})  # fmt: skip
    assert resumed.status_code == 202, resumed.text
    await _apply_actions(intake, dispatch, case_id, seen)
    events = await _events(dispatch, case_id)
    decided = next(e for e in events if e["action"] == "decide_suspension")
    (stopped,) = decided["detail"]["stopped"]
    resume = events[-1]
    assert resume["action"] == "resume" and resume["detail"]["suspended_s"] > 0
    expected = after_working_seconds(resume["at"], stopped["left_s"])
    (fresh,) = await _open_resolve(dispatch, case_id)
    assert abs((fresh["due_at"] - expected).total_seconds()) < 1
    # the office time it stood suspended is not counted against the lead (none at night: the same due time)
    assert fresh["due_at"] >= running["due_at"] and fresh["deadline_id"] != running["deadline_id"]
    assert (await dispatch.case(case_id))["resolve_by"] == fresh["due_at"]
    assert json.loads((await dispatch.case(case_id))["clock"]) == {"extensions": 0}

    await dispatch.feed(_fired(case_id, fresh), dispatch.runtime.topics.deadlines)  # the recomputed one fires
    assert (await dispatch.case(case_id))["lead"] == STREET  # the district default takes it over
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id, settle_s=1.0)
    told = {(e.data.assignee, e.data.role) for e in assigned}
    assert {(STREET, "suspension_requested"), (COMMUNITY, "suspension_approved"), (COMMUNITY, "resumed")} <= told


async def test_the_supervising_level_refuses_a_suspension_and_resumes_one_it_approved(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "dog_nuisance", GRID)
    grid = await intake.caller("read", "act", units=(GRID,))
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    body = {"action": "request_suspension", "text": "等待公安机关处理结果", "reason_code": "other_authority",
            "actor": {"id": "g-1", "unit": GRID}}  # fmt: skip
    assert (await _post(intake, case_id, grid, **body)).status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    no = await _post(intake, case_id, community, action="decide_suspension", approved=False, text="应继续办理",
                     actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert no.status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    assert len(await _open_resolve(dispatch, case_id)) == 1  # the clock kept running
    assert (await _post(intake, case_id, grid, **body)).status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    yes = await _post(intake, case_id, community, action="decide_suspension", approved=True,
                      actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert yes.status_code == 202
    seen = await _apply_actions(intake, dispatch, case_id, seen)
    assert await _open_resolve(dispatch, case_id) == []
    back = await _post(intake, case_id, community, action="resume", text="公安已出具结论",
                       actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert back.status_code == 202, back.text
    await _apply_actions(intake, dispatch, case_id, seen)
    actions = await dispatch.history(case_id)
    assert actions.count("decide_suspension") == 2 and actions[-1] == "resume"
    (fresh,) = await _open_resolve(dispatch, case_id)
    assert (await dispatch.case(case_id))["resolve_by"] == fresh["due_at"]


async def _figures(intake: IntakeUnderTest, caller: Caller, level: str, code: str) -> tuple[int, int, int, float]:
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    params = {"period": period, "level": level}
    body = (await intake.http.get("/v1/assessment", params=params, headers=caller.headers)).json()
    row = next((r for r in body["rows"] if r["code"] == code), None)
    if row is None:
        return 0, 0, 0, 0.0
    return row["extensions_asked"], row["extensions_approved"], row["suspensions"], row["suspended_hours"]


async def test_assessment_counts_extensions_and_suspended_time_per_unit_and_person(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "dog_nuisance", GRID)
    before = (await dispatch.case(case_id))["resolve_by"]
    grid = await intake.caller("read", "act", units=(GRID,))
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    person = f"g-{uuid.uuid4().hex[:8]}"
    unit_before = await _figures(intake, community, "grid", GRID.removeprefix("unit:"))
    steps = (
        (grid, {"action": "request_extension", "resolve_by": (before + timedelta(hours=2)).isoformat(),
                "text": "等待", "actor": {"id": person, "unit": GRID}}),
        (community, {"action": "decide_extension", "approved": True, "actor": {"id": "c-9", "unit": COMMUNITY}}),
        (grid, {"action": "request_suspension", "text": "等待住户", "actor": {"id": person, "unit": GRID}}),
        (community, {"action": "decide_suspension", "approved": True, "actor": {"id": "c-9", "unit": COMMUNITY}}),
        (grid, {"action": "resume", "actor": {"id": person, "unit": GRID}}),
    )  # fmt: skip
    seen = 0
    for caller, body in steps:
        response = await _post(intake, case_id, caller, **body)
        assert response.status_code == 202, response.text
        seen = await _apply_actions(intake, dispatch, case_id, seen)
    assert (await dispatch.history(case_id))[-1] == "resume"
    unit_after = await _figures(intake, community, "grid", GRID.removeprefix("unit:"))
    assert tuple(a - b for a, b in zip(unit_after[:3], unit_before[:3], strict=True)) == (1, 1, 1)
    asked, approved, suspensions, hours = await _figures(intake, community, "person", person)
    assert (asked, approved, suspensions) == (1, 1, 1) and hours >= 0
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    report_csv = await intake.http.get(
        "/v1/assessment.csv", params={"period": period, "level": "grid"}, headers=community.headers
    )
    assert "申请延期,批准延期,挂起,挂起时长（小时）" in report_csv.text.splitlines()[0]


async def test_a_suspension_with_a_resume_at_resumes_when_escalation_fires_it(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    case_id = await _accepted(dispatch, "dog_nuisance", GRID)
    grid = await intake.caller("read", "act", units=(GRID,))
    community = await intake.caller("read", "supervise", units=(COMMUNITY,))
    resume_at = datetime.now(ZoneInfo("UTC")) + timedelta(hours=1)
    asked = await _post(intake, case_id, grid, action="request_suspension", text="等待法院判决",
                        reason_code="other_authority", resume_at=resume_at.isoformat(),
                        actor={"id": "g-1", "unit": GRID})  # fmt: skip
    assert asked.status_code == 202, asked.text
    seen = await _apply_actions(intake, dispatch, case_id, 0)
    yes = await _post(intake, case_id, community, action="decide_suspension", approved=True,
                      actor={"id": "c-9", "unit": COMMUNITY})  # fmt: skip
    assert yes.status_code == 202
    await _apply_actions(intake, dispatch, case_id, seen)
    row = await dispatch.pool.fetchrow(
        "SELECT * FROM deadlines WHERE case_id = $1 AND kind = 'resume' AND status = 'open'", uuid.UUID(case_id)
    )
    assert row is not None and row["due_at"] == resume_at
    data = DeadlineFired(case_id=case_id, deadline_id=str(row["deadline_id"]), kind="resume", tier="escalate",
                         due_at=row["due_at"], assignee=GRID)  # fmt: skip
    await dispatch.feed(new_event(data, source="/tests", subject=case_id), dispatch.runtime.topics.deadlines)
    last = (await _events(dispatch, case_id))[-1]
    assert last["action"] == "resume" and last["detail"]["automatic"] is True
    (fresh,) = await _open_resolve(dispatch, case_id)
    assert (await dispatch.case(case_id))["resolve_by"] == fresh["due_at"]
    assert (await dispatch.deadlines(case_id))[("resume", GRID)] == "met"
