"""A summoned party that misses its report-in deadline: the rung above answers for its part (pure parts)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.dispatch.progress import dump, load
from shared.domain.lifecycle import (
    Action,
    CaseProgress,
    FactKind,
    IllegalTransition,
    Role,
    State,
    apply,
    settled_with,
)
from shared.domain.routing import Urgency, escalate_part
from tests.unit.domain.test_routing import DEP, NOW, REG, B, U

LEAD = "unit:MG-1"
BRANCH = "branch:CM-S1"
DEPT = "department:CM"
FIRE = "department:FIRE"
A, R = Action, Role


def summoned() -> CaseProgress:
    p = apply(CaseProgress(), A.ASSIGN, R.SYSTEM, "dispatch", lead=LEAD).progress
    p = apply(p, A.ACCEPT, R.ASSIGNEE, LEAD).progress
    return apply(p, A.SUMMON, R.SUPERVISOR, "unit:S-1", parties=[BRANCH, FIRE]).progress


def test_the_rung_above_owes_the_missed_part_with_the_party() -> None:
    out = apply(summoned(), A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT, note="late")
    p = out.progress
    assert p.state is State.ACCEPTED  # the case stays where it is; only the part moves up
    assert p.owing == {BRANCH, FIRE, DEPT} and DEPT in p.assisting
    assert [(f.kind, f.party) for f in out.facts] == [(FactKind.PART_ESCALATED, BRANCH), (FactKind.PART_OWED, DEPT)]
    assert out.facts[0].note == "late"
    with pytest.raises(IllegalTransition, match="waiting for the parts"):
        apply(p, A.RESOLVE, R.ASSIGNEE, LEAD)


@pytest.mark.parametrize("reporter", [DEPT, BRANCH])
def test_either_reporting_in_settles_the_part_for_both(reporter: str) -> None:
    p = apply(summoned(), A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT).progress
    out = apply(p, A.REPORT_IN, R.ASSISTING, reporter, note="到场")
    assert out.progress.owing == {FIRE}  # the part is done; the department that reported nothing still owes
    assert FactKind.ALL_PARTS_IN not in [f.kind for f in out.facts]
    last = apply(out.progress, A.REPORT_IN, R.ASSISTING, FIRE)
    assert [f.kind for f in last.facts] == [FactKind.PART_REPORTED, FactKind.ALL_PARTS_IN]
    assert apply(last.progress, A.RESOLVE, R.ASSIGNEE, LEAD).progress.state is State.RESOLVED


def test_a_part_escalated_twice_is_settled_by_anyone_on_the_way_up() -> None:
    p = apply(summoned(), A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT).progress
    p = apply(p, A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[DEPT], to="unit:D").progress
    assert settled_with(p, BRANCH) == {BRANCH, DEPT, "unit:D"} == settled_with(p, "unit:D")
    assert settled_with(p, FIRE) == {FIRE}
    assert apply(p, A.REPORT_IN, R.ASSISTING, BRANCH).progress.owing == {FIRE}


def test_only_a_part_still_owed_is_escalated_and_never_to_the_lead() -> None:
    p = apply(summoned(), A.REPORT_IN, R.ASSISTING, BRANCH).progress
    with pytest.raises(IllegalTransition, match="owes no part"):
        apply(p, A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT)
    with pytest.raises(IllegalTransition, match="the lead"):
        apply(p, A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[FIRE], to=LEAD)
    with pytest.raises(IllegalTransition, match="needs the party"):
        apply(p, A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[FIRE])
    with pytest.raises(IllegalTransition):  # a person cannot do it by hand: it is the deadline's step
        apply(p, A.ESCALATE_PART, R.SUPERVISOR, "unit:S-1", parties=[FIRE], to="unit:D")


def test_a_rung_that_already_owes_its_own_part_answers_for_the_missed_one_too() -> None:
    p = apply(summoned(), A.SUMMON, R.SUPERVISOR, "unit:S-1", parties=[DEPT]).progress
    out = apply(p, A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT)
    assert [f.kind for f in out.facts] == [FactKind.PART_ESCALATED]  # no second deadline for the department
    assert apply(out.progress, A.REPORT_IN, R.ASSISTING, DEPT).progress.owing == {FIRE}


def test_a_new_assignment_starts_the_parts_afresh() -> None:
    p = apply(summoned(), A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT).progress
    p = apply(p, A.ESCALATE, R.SYSTEM, "dispatch").progress
    p = apply(p, A.ASSIGN, R.SYSTEM, "dispatch", lead="unit:G-1", parties=[LEAD, BRANCH, DEPT]).progress
    assert p.answering == frozenset() and p.owing == {LEAD, BRANCH, DEPT}


def test_the_answering_pairs_survive_the_database_column() -> None:
    p = apply(summoned(), A.ESCALATE_PART, R.SYSTEM, "dispatch", parties=[BRANCH], to=DEPT).progress
    assert load(dump(p)) == p
    assert load(dump(CaseProgress())).answering == frozenset()


# --- who answers, by when: the ladder ---------------------------------------------------------------


def test_a_branch_that_misses_is_answered_for_by_its_department_within_a_summons_time() -> None:
    e = escalate_part(B("CM-S1"), REG, NOW, place="D-S1-C1-G1-M1")
    assert e.target == DEP("CM") and not e.at_top
    assert e.report_in_by == NOW + timedelta(hours=24)
    assert [s.rule for s in e.trace] == ["escalate.branch", "summon.escalate"]


def test_a_department_that_misses_is_answered_for_by_the_district_command_centre() -> None:
    e = escalate_part(DEP("FIRE"), REG, NOW, place="D-S1-C1-G1-M1", urgency=Urgency.HIGH)
    assert e.target == U("D") and e.report_in_by == NOW + timedelta(hours=4)


def test_the_district_command_centre_has_no_rung_above() -> None:
    e = escalate_part(U("D"), REG, NOW)
    assert e.at_top and e.target == U("D") and [s.rule for s in e.trace] == ["escalate.at_top"]
