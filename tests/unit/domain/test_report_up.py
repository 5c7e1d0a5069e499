"""Report up (上报) on the sample district: the lead reports a matter beyond its unit, the rung above takes it,
assigns a department or sends it back; undecided in time it climbs (shared/domain/case/report_up_commands.py)."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.case import Case, Changed, Fired, Request, Who, act, fire
from shared.domain.case.report_up_commands import pending
from shared.domain.lifecycle import DueKind, State, Tier
from tests.unit.domain.case_helpers import entries, notices, refusals
from tests.unit.domain.test_case_commands import (
    CM_DEPARTMENT,
    COMMUNITY,
    DISTRICT,
    GRID,
    RULES,
    STREET,
    h,
    lead,
    opened,
)

MATTER = "dog_nuisance"  # led by the grid; reply_within_hours 24
BY_COMMUNITY = Who("c-1", "supervisor", COMMUNITY)
BY_STREET = Who("s-1", "supervisor", STREET)
BY_DISTRICT = Who("d-1", "supervisor", DISTRICT)


def ask(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Changed:
    return act(case, Request(action, who, **request), RULES, h(hours), cause=cause)  # type: ignore[arg-type]


def reported_up(hours: float = 1) -> Changed:
    case = opened(MATTER).case
    return ask(case, "report_up", lead(case), hours, "up-1", text="涉及违建, 超出网格处置能力")


def undecided(case: Case, hours: float, cause: str) -> Changed | None:
    owed = pending(case)
    assert owed is not None
    fired = Fired(str(owed.deadline_id), DueKind.REPORT_UP_DECISION, Tier.ESCALATE, owed.due_at, owed.party)
    return fire(case, fired, RULES, h(hours), cause=cause)


def test_the_lead_reports_up_and_the_rung_above_owes_a_decision_within_its_deadline() -> None:
    changed = reported_up()
    case = changed.case
    assert case.lead == GRID and case.state is State.ASSIGNED
    owed = pending(case)
    assert owed is not None and owed.party == COMMUNITY and owed.due_at == h(1) + timedelta(hours=24)
    (entry,) = entries(changed)
    assert entry.action == "report_up" and entry.detail["to"] == COMMUNITY and entry.detail["grid"] is True
    assert entry.detail["reason"].startswith("涉及违建") and entry.detail["report_up_id"] == str(owed.deadline_id)
    assert {(n.assignee, n.role) for n in notices(changed)} == {(COMMUNITY, "report_up")}


def test_a_report_up_needs_a_reason_the_lead_and_only_one_at_a_time() -> None:
    case = opened(MATTER).case
    assert refusals(ask(case, "report_up", lead(case), 1, "up-0"))
    assert refusals(ask(case, "report_up", Who("x", "assignee", COMMUNITY), 1, "up-0", text="why"))
    again = ask(reported_up().case, "report_up", lead(case), 2, "up-2", text="again")
    assert [r.code for r in refusals(again)] == ["report_up_pending"]


def test_the_rung_takes_it_and_leads_with_the_grid_assisting() -> None:
    case = reported_up().case
    changed = ask(case, "decide_report_up", BY_COMMUNITY, 2, "dec-1", payload={"decision": "take"})
    after = changed.case
    assert after.lead == COMMUNITY and GRID in after.assisting and pending(after) is None
    assert [e.action for e in entries(changed)] == ["decide_report_up", "assign"]
    assert entries(changed)[0].detail["late"] is False


def test_the_rung_assigns_a_department() -> None:
    case = reported_up().case
    payload = {"decision": "assign", "lead": CM_DEPARTMENT}
    after = ask(case, "decide_report_up", BY_STREET, 2, "dec-1", payload=payload).case  # a unit above may decide
    assert after.lead == CM_DEPARTMENT and pending(after) is None


def test_the_rung_sends_it_back_with_an_instruction() -> None:
    case = reported_up().case
    bare = ask(case, "decide_report_up", BY_COMMUNITY, 2, "dec-0", payload={"decision": "send_back"})
    assert [r.code for r in refusals(bare)] == ["instruction_needed"]
    changed = ask(
        case, "decide_report_up", BY_COMMUNITY, 2, "dec-1", text="先联系物业", payload={"decision": "send_back"}
    )
    assert changed.case.lead == GRID and pending(changed.case) is None
    assert {(n.assignee, n.role) for n in notices(changed)} == {(GRID, "report_up_sent_back")}


def test_decisions_are_refused_when_none_is_owed_by_someone_below_the_rung_or_badly_formed() -> None:
    fresh = opened(MATTER).case
    assert [
        r.code for r in refusals(ask(fresh, "decide_report_up", BY_COMMUNITY, 1, "d", payload={"decision": "take"}))
    ] == ["no_report_up"]
    case = reported_up().case
    other = Who("o", "supervisor", "unit:610199002")
    codes = [
        refusals(ask(case, "decide_report_up", other, 2, "d1", payload={"decision": "take"}))[0].code,
        refusals(ask(case, "decide_report_up", BY_COMMUNITY, 2, "d2", payload={"decision": "drop"}))[0].code,
        refusals(
            ask(case, "decide_report_up", BY_COMMUNITY, 2, "d3", payload={"decision": "assign", "lead": "branch:x"})
        )[0].code,
    ]
    assert codes == ["not_report_up_rung", "bad_report_up_decision", "unknown_unit"]


def test_an_undecided_report_up_climbs_rung_by_rung_and_chases_the_top() -> None:
    case = reported_up().case
    climbed = undecided(case, 25, "fired-1")
    assert climbed is not None
    owed = pending(climbed.case)
    assert owed is not None and owed.party == STREET and owed.due_at == h(25) + timedelta(hours=24)
    (entry,) = entries(climbed)
    assert entry.action == "report_up_climbed" and entry.detail["undecided_by"] == COMMUNITY
    assert {(n.assignee, n.role) for n in notices(climbed)} == {(STREET, "report_up"), (GRID, "report_up_climbed")}
    late = ask(climbed.case, "decide_report_up", BY_COMMUNITY, 26, "d1", payload={"decision": "take"})
    assert [r.code for r in refusals(late)] == ["not_report_up_rung"]  # the community missed its turn
    top = undecided(climbed.case, 50, "fired-2")
    assert top is not None and pending(top.case) is not None and pending(top.case).party == DISTRICT  # type: ignore[union-attr]
    again = undecided(top.case, 75, "fired-3")
    assert again is not None and [e.action for e in entries(again)] == ["report_up_realert"]
    taken = ask(again.case, "decide_report_up", BY_DISTRICT, 76, "d2", payload={"decision": "take"})
    assert taken.case.lead == DISTRICT and entries(taken)[0].detail["late"] is False


def test_a_decided_report_up_does_not_climb() -> None:
    case = reported_up().case
    owed = pending(case)
    assert owed is not None
    decided = ask(case, "decide_report_up", BY_COMMUNITY, 2, "d", text="先处置", payload={"decision": "send_back"})
    fired = Fired(str(owed.deadline_id), DueKind.REPORT_UP_DECISION, Tier.ESCALATE, owed.due_at, owed.party)
    assert fire(decided.case, fired, RULES, h(25), cause="late") is None
