"""The case state machine: the table, each precondition by name, and properties over random action runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.lifecycle import (
    LIVE_DEADLINES,
    TABLE,
    Action,
    CaseProgress,
    DueKind,
    FactKind,
    IllegalTransition,
    Outcome,
    Role,
    State,
    allowed_actions,
    apply,
    live_deadlines,
    table_markdown,
    target_of,
)
from shared.errors import Conflict

LEAD = "unit:MG-1"
HELPER = "unit:C-1"
DEPT = "department:HOUSING"
A, R, S = Action, Role, State


def assigned(*assisting: str) -> CaseProgress:
    return apply(CaseProgress(), A.ASSIGN, R.SYSTEM, "dispatch", lead=LEAD, parties=assisting).progress


def run(p: CaseProgress, *steps: tuple[Action, Role, str]) -> CaseProgress:
    for action, role, actor in steps:
        p = apply(p, action, role, actor, note="n").progress
    return p


def kinds(outcome: Outcome) -> list[FactKind]:
    return [f.kind for f in outcome.facts]


# --- the happy path and the side roads --------------------------------------------------------------


def test_happy_path_reaches_closed() -> None:
    p = run(
        assigned(),
        (A.ACCEPT, R.ASSIGNEE, LEAD),
        (A.START, R.ASSIGNEE, LEAD),
        (A.PROGRESS, R.ASSIGNEE, LEAD),
        (A.RESOLVE, R.ASSIGNEE, LEAD),
        (A.VERIFY_PASSED, R.SUPERVISOR, "street:S-1"),
        (A.RATE_SATISFIED, R.RESIDENT, "resident"),
        (A.CLOSE, R.SYSTEM, "dispatch"),
    )
    assert p.state is S.CLOSED


def test_small_matter_resolved_on_the_spot_without_start() -> None:
    p = run(assigned(), (A.ACCEPT, R.ASSIGNEE, LEAD), (A.RESOLVE, R.ASSIGNEE, LEAD))
    assert p.state is S.RESOLVED


def test_assign_records_lead_and_owing_parts() -> None:
    out = apply(CaseProgress(), A.ASSIGN, R.SYSTEM, "dispatch", lead=LEAD, parties=[HELPER, DEPT, LEAD])
    assert out.progress.state is S.ASSIGNED
    assert out.progress.lead == LEAD
    assert out.progress.owing == out.progress.assisting == {HELPER, DEPT}
    assert kinds(out) == [FactKind.ASSIGNED, FactKind.PART_OWED, FactKind.PART_OWED]


def test_assign_without_lead_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="needs the new lead"):
        apply(CaseProgress(), A.ASSIGN, R.SYSTEM, "dispatch")


def test_lead_cannot_resolve_while_assisting_units_owe_their_part() -> None:
    p = run(assigned(HELPER, DEPT), (A.ACCEPT, R.ASSIGNEE, LEAD))
    with pytest.raises(IllegalTransition, match=r"waiting for the parts of: department:HOUSING, unit:C-1"):
        apply(p, A.RESOLVE, R.ASSIGNEE, LEAD)
    p = run(p, (A.REPORT_IN, R.ASSISTING, HELPER))
    with pytest.raises(IllegalTransition, match="department:HOUSING"):
        apply(p, A.RESOLVE, R.ASSIGNEE, LEAD)
    last = apply(p, A.REPORT_IN, R.ASSISTING, DEPT)
    assert kinds(last) == [FactKind.PART_REPORTED, FactKind.ALL_PARTS_IN]
    assert apply(last.progress, A.RESOLVE, R.ASSIGNEE, LEAD).progress.state is S.RESOLVED


def test_report_in_twice_is_refused() -> None:
    p = run(assigned(HELPER), (A.REPORT_IN, R.ASSISTING, HELPER))
    with pytest.raises(IllegalTransition, match="already reported"):
        apply(p, A.REPORT_IN, R.ASSISTING, HELPER)


def test_summon_adds_departments_that_must_report_in() -> None:
    p = run(assigned(), (A.ACCEPT, R.ASSIGNEE, LEAD))
    out = apply(p, A.SUMMON, R.SUPERVISOR, "street:S-1", parties=[DEPT, "department:FIRE"])
    assert out.progress.owing == {DEPT, "department:FIRE"}
    assert out.progress.state is S.ACCEPTED
    assert [f.party for f in out.facts] == ["department:FIRE", DEPT]
    with pytest.raises(IllegalTransition, match="waiting for the parts"):
        apply(out.progress, A.RESOLVE, R.ASSIGNEE, LEAD)


def test_summon_of_nobody_new_is_refused() -> None:
    p = run(assigned(DEPT), (A.ACCEPT, R.ASSIGNEE, LEAD))
    with pytest.raises(IllegalTransition, match="at least one department"):
        apply(p, A.SUMMON, R.ASSIGNEE, LEAD, parties=[DEPT])


def test_return_needs_a_reason_and_asks_for_rerouting() -> None:
    p = assigned(HELPER)
    with pytest.raises(IllegalTransition, match="needs a reason"):
        apply(p, A.RETURN, R.ASSIGNEE, LEAD)
    out = apply(p, A.RETURN, R.ASSIGNEE, LEAD, note="not our area")
    assert out.progress.state is S.RETURNED
    assert out.progress.lead is None and out.progress.assisting == frozenset()
    assert out.progress.returned_by == (LEAD,) and out.progress.returns == 1
    assert out.facts[0].kind is FactKind.REROUTE_NEEDED and out.facts[0].note == "not our area"


def test_returns_accumulate_across_reassignments() -> None:
    p = apply(assigned(), A.RETURN, R.ASSIGNEE, LEAD, note="no").progress
    p = apply(p, A.ASSIGN, R.SYSTEM, "dispatch", lead="branch:B-2").progress
    p = apply(p, A.RETURN, R.ASSIGNEE, "branch:B-2", note="no").progress
    assert p.returned_by == (LEAD, "branch:B-2")


def test_only_the_lead_acts_as_assignee() -> None:
    with pytest.raises(IllegalTransition, match="is not the lead"):
        apply(assigned(), A.ACCEPT, R.ASSIGNEE, "unit:SOMEONE-ELSE")


def test_only_co_assigned_units_act_as_assisting() -> None:
    with pytest.raises(IllegalTransition, match="not an assisting unit"):
        apply(assigned(HELPER), A.REPORT_IN, R.ASSISTING, DEPT)


@pytest.mark.parametrize(
    ("action", "role"),
    [(A.VERIFY_FAILED, R.SUPERVISOR), (A.RATE_UNSATISFIED, R.RESIDENT)],
)
def test_failed_check_or_unsatisfied_rating_reopens(action: Action, role: Role) -> None:
    p = run(assigned(), (A.ACCEPT, R.ASSIGNEE, LEAD), (A.RESOLVE, R.ASSIGNEE, LEAD))
    if action is A.RATE_UNSATISFIED:
        p = run(p, (A.VERIFY_PASSED, R.SUPERVISOR, "street:S-1"))
    out = apply(p, action, role, "someone", note="still leaking")
    assert out.progress.state is S.REOPENED
    assert out.progress.reopens == 1
    assert out.facts[0].kind is FactKind.REOPENED and out.facts[0].note == "still leaking"
    # reopened goes back to handling by the same lead
    again = run(out.progress, (A.ACCEPT, R.ASSIGNEE, LEAD), (A.RESOLVE, R.ASSIGNEE, LEAD))
    assert again.state is S.RESOLVED


def test_reopen_can_ask_an_assisting_unit_to_redo_its_part() -> None:
    p = run(
        assigned(HELPER),
        (A.REPORT_IN, R.ASSISTING, HELPER),
        (A.ACCEPT, R.ASSIGNEE, LEAD),
        (A.RESOLVE, R.ASSIGNEE, LEAD),
    )
    out = apply(p, A.VERIFY_FAILED, R.SUPERVISOR, "street:S-1", parties=[HELPER])
    assert out.progress.owing == {HELPER}
    with pytest.raises(IllegalTransition, match="not assisting units"):
        apply(p, A.VERIFY_FAILED, R.SUPERVISOR, "street:S-1", parties=[DEPT])


def test_supervisor_reopens_a_closed_case() -> None:
    p = run(
        assigned(),
        (A.ACCEPT, R.ASSIGNEE, LEAD),
        (A.RESOLVE, R.ASSIGNEE, LEAD),
        (A.VERIFY_PASSED, R.SUPERVISOR, "s"),
        (A.CLOSE, R.SYSTEM, "dispatch"),
    )
    assert apply(p, A.REOPEN, R.SUPERVISOR, "district:D").progress.state is S.REOPENED
    with pytest.raises(IllegalTransition):
        apply(p, A.REOPEN, R.RESIDENT, "resident")


def test_escalation_waits_for_rerouting_and_top_rung_is_re_alerted() -> None:
    out = apply(assigned(), A.ESCALATE, R.SYSTEM, "escalation", note="accept-by missed")
    assert out.progress.state is S.ESCALATED
    assert out.facts[0].kind is FactKind.ESCALATION_NEEDED and out.facts[0].party == LEAD
    again = apply(out.progress, A.ESCALATE, R.SYSTEM, "escalation")
    assert again.progress.state is S.ESCALATED and again.progress.escalations == 2
    moved = apply(again.progress, A.ASSIGN, R.SYSTEM, "dispatch", lead="unit:G-1")
    assert moved.progress.state is S.ASSIGNED and moved.progress.lead == "unit:G-1"


def test_merge_needs_the_surviving_case() -> None:
    with pytest.raises(IllegalTransition, match="merged into"):
        apply(CaseProgress(), A.MERGE, R.SYSTEM, "dispatch")
    out = apply(CaseProgress(), A.MERGE, R.SYSTEM, "dispatch", into="case-1")
    assert out.progress.state is S.MERGED and out.progress.merged_into == "case-1"


def test_resident_may_cancel_only_before_acceptance() -> None:
    assert apply(assigned(), A.CANCEL, R.RESIDENT, "r").progress.state is S.CANCELLED
    accepted = run(assigned(), (A.ACCEPT, R.ASSIGNEE, LEAD))
    with pytest.raises(IllegalTransition):
        apply(accepted, A.CANCEL, R.RESIDENT, "r")
    assert apply(accepted, A.CANCEL, R.SUPERVISOR, "s").progress.state is S.CANCELLED


@pytest.mark.parametrize("terminal", [S.MERGED, S.CANCELLED])
def test_terminal_states_allow_nothing(terminal: State) -> None:
    for role in Role:
        assert allowed_actions(terminal, role) == ()


def test_comment_needs_text_and_emits_a_note() -> None:
    with pytest.raises(IllegalTransition, match="needs a text"):
        apply(assigned(), A.COMMENT, R.RESIDENT, "r", note="  ")
    out = apply(assigned(), A.COMMENT, R.RESIDENT, "r", note="any news?")
    assert out.progress == assigned()
    assert out.facts == (out.facts[0],) and out.facts[0].kind is FactKind.NOTE


def test_error_names_state_action_role_and_allowed_actions() -> None:
    with pytest.raises(IllegalTransition) as info:
        apply(assigned(), A.RESOLVE, R.ASSIGNEE, LEAD)
    err = info.value
    assert isinstance(err, Conflict)
    assert (err.state, err.action, err.role) == (S.ASSIGNED, A.RESOLVE, R.ASSIGNEE)
    allowed = (A.ACCEPT, A.RETURN, A.ESCALATE, A.COMMENT, A.CLAIM, A.HAND_OVER, A.REASSIGN, A.REPLY_ORDER)
    allowed = (*allowed, A.REPORT_UP)
    assert err.allowed == allowed
    body = err.as_dict()
    assert body["code"] == "illegal_transition"
    assert body["allowed"] == [a.value for a in allowed]
    assert "assignee may not resolve a case that is assigned" in str(err)


def test_live_deadlines_follow_the_state() -> None:
    up = {DueKind.REPORT_UP_DECISION}  # a report-up's decide-by lives while in handling
    up |= {DueKind.CONSULTATION_OPINION}  # so do a consultation's opinions-by (会商)
    assert live_deadlines(S.ASSIGNED) == {DueKind.ACCEPT, DueKind.RESOLVE, DueKind.ORDER_REPLY} | up
    assert live_deadlines(S.REOPENED) == {DueKind.RESOLVE, DueKind.ORDER_REPLY, DueKind.RESUME} | up
    assert live_deadlines(S.IN_PROGRESS) == {DueKind.RESOLVE, DueKind.ORDER_REPLY, DueKind.RESUME} | up
    assert live_deadlines(S.ACCEPTED) == {DueKind.RESOLVE, DueKind.ORDER_REPLY, DueKind.RESUME} | up
    assert live_deadlines(S.RESOLVED) == {DueKind.VERIFY}
    assert live_deadlines(S.VERIFIED) == {DueKind.FOLLOW_UP}
    assert live_deadlines(S.CLOSED) == frozenset()
    assert set(LIVE_DEADLINES) <= set(State)


# --- the table itself -------------------------------------------------------------------------------


def test_table_has_at_most_one_row_per_triple_and_every_state_is_reachable() -> None:
    seen: set[tuple[State, Action, Role]] = set()
    targets = {S.REPORTED}
    for row in TABLE:
        for state in row.sources:
            for role in row.roles:
                assert (state, row.action, role) not in seen
                seen.add((state, row.action, role))
        if row.target is not None:
            targets.add(row.target)
    assert targets == set(State)


def test_markdown_table_lists_every_row() -> None:
    text = table_markdown()
    assert "| assigned | accept | assignee | accepted |" in text
    assert "| resolved | verify_failed | supervisor | reopened |" in text
    assert "| escalated | escalate | system | (same) |" in text


def test_docs_carry_the_current_table() -> None:
    from pathlib import Path

    doc = Path(__file__).parents[3] / "docs" / "routing.md"
    assert table_markdown() in doc.read_text(encoding="utf-8"), "regenerate the table in docs/routing.md"


# --- properties over random runs --------------------------------------------------------------------

ACTORS = [LEAD, HELPER, DEPT, "unit:G-9"]
step = st.tuples(st.sampled_from(Action), st.sampled_from(Role), st.sampled_from(ACTORS))


def _try(p: CaseProgress, action: Action, role: Role, actor: str) -> CaseProgress:
    """Apply with plausible arguments; on refusal, check the refusal and return the value unchanged."""
    before = replace(p)
    kwargs = {"lead": actor, "parties": [HELPER, DEPT], "into": "case-0", "note": "why"}
    try:
        out = apply(p, action, role, actor, **kwargs)  # type: ignore[arg-type]
    except IllegalTransition as err:
        assert p == before  # nothing changed
        assert (err.state, err.action, err.role) == (p.state, action, role)
        assert err.allowed == allowed_actions(p.state, role)
        return p
    assert target_of(p.state, action, role) is out.progress.state  # the table said so
    return out.progress


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=40))
def test_no_sequence_leaves_the_table(steps: list[tuple[Action, Role, str]]) -> None:
    p = CaseProgress()
    for action, role, actor in steps:
        previous = p
        p = _try(p, action, role, actor)
        assert p.owing <= p.assisting
        if p.state in {S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.RESOLVED, S.REOPENED}:
            assert p.lead is not None
        if p.state is S.RESOLVED and previous.state is not S.RESOLVED:
            assert not previous.owing  # resolve only after every part is in
        assert p.returns == len(p.returned_by) >= previous.returns


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(State), st.sampled_from(Action), st.sampled_from(Role))
def test_every_triple_outside_the_table_raises(state: State, action: Action, role: Role) -> None:
    p = CaseProgress(state=state, lead=LEAD, assisting=frozenset({HELPER}), owing=frozenset())
    if target_of(state, action, role) is None:
        with pytest.raises(IllegalTransition):
            apply(p, action, role, LEAD, lead=LEAD, parties=[DEPT], into="c", note="x")
        assert action not in allowed_actions(state, role)
    else:
        assert action in allowed_actions(state, role)
