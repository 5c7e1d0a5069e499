"""The responsible person of a case (派单到人) in the aggregate: set on assignment from the people snapshot, moved by
re-dispatch and escalation, and claimed, handed over and reassigned within the unit, with who did it in the history.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

from shared.domain.case import Case, Request, Rules, Who, act, open_case
from shared.domain.lifecycle import State
from shared.people.duty import Roster, Shift, build_snapshot
from tests.unit.domain.case_helpers import entries, notices, refusals, report_case
from tests.unit.domain.test_case_commands import (
    BUILDING,
    CM_BRANCH,
    COMMUNITY,
    GRID,
    MG,
    NOW,
    RESIDENT,
    RULES,
    SUPERVISOR,
    h,
)

PEOPLE = build_snapshot(
    ["mgw", "mgw-2", "gw-day", "gw-night", "gh", "cm-h", "cc-day", "outsider"],
    [
        ("mgw", "grid_worker", MG),
        ("mgw-2", "grid_worker", MG),
        ("gw-day", "grid_worker", GRID),
        ("gw-night", "grid_worker", GRID),
        ("gh", "grid_head", GRID),
        ("cm-h", "department_handler", CM_BRANCH),
        ("cc-day", "duty_officer", COMMUNITY),
        ("outsider", "grid_worker", "unit:somewhere-else"),
    ],
    [
        Roster(GRID, (Shift(time(8), time(20), ("gw-day",)), Shift(time(20), time(8), ("gw-night",)))),
        Roster(CM_BRANCH, (Shift(time(0), time(0), ("cm-h",)),)),
        Roster(COMMUNITY, (Shift(time(8), time(18), ("cc-day",)),)),
    ],
    tz=RULES.policy.tz,
)
STAFFED = replace(RULES, people=PEOPLE)


def opened(rules: Rules = STAFFED, at_hours: float = 0) -> Case:
    case, decision = report_case(rules, BUILDING, matter="sanitation", at=h(at_hours))
    return open_case(case, decision, RESIDENT, rules, h(at_hours), cause="report-p").case


def do(case: Case, action: str, who: Who, cause: str, rules: Rules = STAFFED, **request: object) -> Case:
    changed = act(case, Request(action, who, **request), rules, h(1), cause=cause)  # type: ignore[arg-type]
    assert not refusals(changed), refusals(changed)
    return changed.case


def refused(case: Case, action: str, who: Who, cause: str, **request: object) -> str:
    changed = act(case, Request(action, who, **request), STAFFED, h(1), cause=cause)  # type: ignore[arg-type]
    (refusal,) = refusals(changed)
    assert changed.case.lead_person == case.lead_person and changed.case.part_persons == case.part_persons
    return refusal.code


def test_a_micro_grid_case_goes_to_its_grid_worker_and_each_part_to_its_person() -> None:
    case, decision = report_case(STAFFED, BUILDING, matter="sanitation", at=NOW)
    changed = open_case(case, decision, RESIDENT, STAFFED, NOW, cause="report-p")
    c = changed.case
    assert (c.lead, c.lead_person) == (MG, "mgw")  # the first of its grid workers by id
    assert dict(c.part_persons) == {CM_BRANCH: "cm-h"} and c.persons == ("mgw", "cm-h")
    assert {(n.assignee, n.person) for n in notices(changed)} == {(MG, "mgw"), (CM_BRANCH, "cm-h")}
    assign = entries(changed)[-1]
    assert assign.responsible == "mgw" and assign.detail["responsible"] == "mgw"


def test_without_people_nobody_is_responsible_and_nothing_else_changes() -> None:
    c = opened(RULES)
    assert c.lead == MG and c.lead_person is None and c.part_persons == () and c.persons == ()
    assert c.state is State.ASSIGNED


def test_escalation_gives_the_grid_its_person_on_duty_and_the_old_lead_keeps_its_person() -> None:
    night = opened(at_hours=-7)  # 03:00: escalated at 04:00, the night shift is on
    escalated = act(night, Request("escalate", Who("mgw", "assignee", MG), text="协调"), STAFFED, h(-6), cause="e1")
    c = escalated.case
    assert (c.lead, c.lead_person) == (GRID, "gw-night")
    assert dict(c.part_persons) == {MG: "mgw", CM_BRANCH: "cm-h"}
    day = act(opened(), Request("escalate", Who("mgw", "assignee", MG), text="协调"), STAFFED, h(1), cause="e2")
    assert day.case.lead_person == "gw-day"  # 11:00: the day shift


def test_a_redispatch_moves_the_responsible_person_to_the_new_leads() -> None:
    c = do(opened(), "assign", SUPERVISOR, "re-1", text="改派社区", payload={"lead": COMMUNITY})
    assert (c.lead, c.lead_person) == (COMMUNITY, "cc-day")
    evening = act(opened(), Request("assign", SUPERVISOR, payload={"lead": COMMUNITY}), STAFFED, h(10), cause="r2")
    assert evening.case.lead_person is None  # 20:00: nobody on the community's roster and no head


def test_a_person_of_the_unit_claims_the_case() -> None:
    c = do(opened(), "claim", Who("mgw-2", "assignee", MG), "claim-1")
    assert c.lead_person == "mgw-2" and c.state is State.ASSIGNED
    (entry,) = [e for e in entries(act(opened(), Request("claim", Who("mgw-2", "assignee", MG)), STAFFED, h(1),
                                         cause="claim-1")) if e.action == "claim"]  # fmt: skip
    assert entry.detail == {"party": MG, "person": "mgw-2", "from": "mgw"} and entry.actor.id == "mgw-2"
    assert entry.responsible == "mgw-2"


def test_a_claim_by_someone_outside_the_unit_or_already_responsible_is_refused() -> None:
    assert refused(opened(), "claim", Who("outsider", "assignee", MG), "c1") == "not_in_unit"
    assert refused(opened(), "claim", Who("mgw", "assignee", MG), "c2") == "already_responsible"
    assert refused(opened(), "claim", Who("mgw", "assisting", CM_BRANCH), "c3") == "not_in_unit"


def test_an_assisting_partys_person_claims_its_part() -> None:
    case = opened()
    two = replace(STAFFED, people=build_snapshot(["cm-h", "cm-2", "mgw"], [("cm-h", "department_handler", CM_BRANCH),
                  ("cm-2", "department_handler", CM_BRANCH), ("mgw", "grid_worker", MG)], []))  # fmt: skip
    c = act(case, Request("claim", Who("cm-2", "assisting", CM_BRANCH)), two, h(1), cause="c5").case
    assert dict(c.part_persons) == {CM_BRANCH: "cm-2"} and c.lead_person == "mgw"


def test_the_responsible_person_hands_over_to_a_colleague_with_a_reason() -> None:
    me = Who("mgw", "assignee", MG)
    c = do(opened(), "hand_over", me, "h1", text="明天休假", payload={"person": "mgw-2"})
    assert c.lead_person == "mgw-2"
    assert refused(opened(), "hand_over", me, "h2", text="x", payload={"person": "outsider"}) == "not_in_unit"
    assert refused(opened(), "hand_over", me, "h3", text="x", payload={"person": "mgw"}) == "already_responsible"
    stranger = refused(
        opened(), "hand_over", Who("mgw-2", "assignee", MG), "h3b", text="x", payload={"person": "mgw-2"}
    )
    assert stranger == "not_responsible"  # only the responsible person hands over
    not_mine = refused(c, "hand_over", me, "h4", text="x", payload={"person": "mgw"})
    assert not_mine == "not_responsible"  # mgw handed it over already
    assert refused(opened(), "hand_over", me, "h5", text="x") == "person_required"
    assert refused(opened(), "hand_over", me, "h6", payload={"person": "mgw-2"}) == "illegal_transition"  # no reason


def test_the_head_or_a_command_centre_reassigns_and_a_worker_may_not() -> None:
    escalated = do(opened(), "escalate", Who("mgw", "assignee", MG), "e3", text="协调")  # the grid leads, day shift
    c = do(escalated, "reassign", Who("gh", "assignee", GRID), "ra1", payload={"person": "gw-night"})
    assert c.lead_person == "gw-night"
    code = refused(escalated, "reassign", Who("gw-day", "assignee", GRID), "ra2", payload={"person": "gw-night"})
    assert code == "not_unit_head"
    part = do(escalated, "reassign", SUPERVISOR, "ra3", payload={"person": "mgw-2", "party": MG})
    assert dict(part.part_persons)[MG] == "mgw-2" and part.lead_person == escalated.lead_person
    assert refused(escalated, "reassign", SUPERVISOR, "ra4", payload={"person": "gh", "party": COMMUNITY}) == (
        "not_in_unit"
    )


def test_personal_actions_need_a_case_in_handling() -> None:
    c = opened()
    resolved = replace(c, state=State.RESOLVED, progress=replace(c.progress, state=State.RESOLVED))
    changed = act(resolved, Request("claim", Who("mgw-2", "assignee", MG)), STAFFED, h(1), cause="late")
    assert [r.code for r in refusals(changed)] == ["illegal_transition"]
    assert h(1) - NOW == timedelta(hours=1)
