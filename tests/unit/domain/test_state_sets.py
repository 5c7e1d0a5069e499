"""The named sets of states mean what their names say, in terms of the lifecycle table itself."""

from __future__ import annotations

from shared.domain.lifecycle import (
    AWAITING_ACCEPT,
    AWAITING_DISPATCH,
    ENDED,
    IN_HANDLING,
    MERGE_TARGETS,
    NOT_ENDED,
    NOT_TERMINAL,
    TERMINAL,
    UNRESOLVED,
    Action,
    Role,
    State,
    allowed_actions,
    live_deadlines,
    target_of,
)
from shared.queries.states import sql_list, values


def test_terminal_states_have_no_way_out_and_closed_only_a_spot_check() -> None:
    for state in State:
        leaves = {target_of(state, a, r) for a in Action for r in Role} - {None, state}
        assert (not leaves) is (state in TERMINAL), state
    assert {a for r in Role for a in allowed_actions(State.CLOSED, r)} == {Action.REOPEN, Action.COMMENT}
    assert TERMINAL | {State.CLOSED} == ENDED and frozenset(State) - ENDED == NOT_ENDED
    assert frozenset(State) - TERMINAL == NOT_TERMINAL


def test_awaiting_dispatch_is_where_the_dispatcher_assigns() -> None:
    assert {
        s for s in State if target_of(s, Action.ASSIGN, Role.SYSTEM) and s is not State.REOPENED
    } == AWAITING_DISPATCH


def test_in_handling_is_where_a_lead_can_be_escalated() -> None:
    assert {s for s in State if target_of(s, Action.ESCALATE, Role.ASSIGNEE) is State.ESCALATED} == IN_HANDLING


def test_open_sets_nest_as_documented() -> None:
    assert UNRESOLVED == AWAITING_DISPATCH | IN_HANDLING and not UNRESOLVED & ENDED
    assert UNRESOLVED - {State.REPORTED} == MERGE_TARGETS
    assert AWAITING_DISPATCH | {State.ASSIGNED} == AWAITING_ACCEPT and AWAITING_ACCEPT < UNRESOLVED
    # resolved, verified and rated are still "open" to Open311 and the open-cases gauge, not on the map
    assert {State.RESOLVED, State.VERIFIED, State.RATED} == NOT_ENDED - UNRESOLVED


def test_no_deadline_lives_in_an_ended_state() -> None:
    assert all(not live_deadlines(s) for s in ENDED)


def test_sets_render_for_sql_sorted_and_from_values_only() -> None:
    assert values(TERMINAL) == ["cancelled", "merged"]
    assert sql_list(ENDED) == "('cancelled', 'closed', 'merged')"
