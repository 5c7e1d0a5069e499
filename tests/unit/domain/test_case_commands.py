"""Every command of the case aggregate, one at a time, on the sample district (what a user of the case would check).

Each test walks a case to where the command applies, applies it once, and checks what the case now shows: its
state, lead and assisting parties, its deadlines (open, met or void, for whom, due when), the history entries the
command appended (action, from/to state, sequence number, an event id derived from the cause), who was told
(notices) and, for a refusal, its code (with nothing changed but the `rejected` entry).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.domain.calendar import deadline
from shared.domain.case import (
    SYSTEM,
    Case,
    Changed,
    DeadlineStatus,
    Fired,
    Request,
    Rules,
    Who,
    act,
    derived_id,
    fire,
    merge_report,
    open_case,
    refuse_unknown,
)
from shared.domain.lifecycle import DueKind, State, Tier
from shared.domain.model import ClockKind
from shared.registry_files.load import load_directory
from tests.unit.domain.case_helpers import entries, notices, open_deadlines, refusals, report_case, statuses

SAMPLE = Path(__file__).parents[3] / "data" / "sample-district"
LOADED = load_directory(SAMPLE)
REG = LOADED.registry
RULES = Rules(REG, LOADED.catalog, LOADED.version)
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=CST)  # a Wednesday morning in Xi'an
BUILDING = sorted(REG.buildings.values(), key=lambda b: b.code)[0]
MG, GRID, COMMUNITY, STREET, DISTRICT = (f"unit:{u.code}" for u in REG.chain(BUILDING.micro_grid))
CENTRE = f"unit:{REG.command_centre_for(BUILDING.micro_grid).code}"  # the street's command centre
CM_BRANCH = "branch:city_management-610199001"  # sanitation's assisting party at the building
CM_DEPARTMENT = "department:city_management"
SUPERVISOR = Who("cc-7", "supervisor", CENTRE)
RESIDENT = Who("app-client", "resident")
ACCEPT, RESOLVE, REPORT_IN, VERIFY, FOLLOW_UP = (
    DueKind.ACCEPT,
    DueKind.RESOLVE,
    DueKind.REPORT_IN,
    DueKind.VERIFY,
    DueKind.FOLLOW_UP,
)
OPEN, MET, VOID = DeadlineStatus.OPEN, DeadlineStatus.MET, DeadlineStatus.VOID


def h(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def opened(matter: str = "sanitation", *, rules: Rules = RULES, number: int = 1) -> Changed:
    case, decision = report_case(rules, BUILDING, matter=matter, at=NOW, number=number)
    return open_case(case, decision, RESIDENT, rules, NOW, cause=f"report-{number}")


def lead(case: Case) -> Who:
    assert case.lead is not None
    return Who("worker-1", "assignee", case.lead)


def helper(party: str) -> Who:
    return Who("helper-1", "assisting", party)


def run(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Changed:
    """One action at NOW + `hours`, checked to leave the case it was given alone."""
    before = copy.deepcopy(case)
    changed = act(case, Request(action, who, **request), RULES, h(hours), cause=cause)  # type: ignore[arg-type]
    assert case == before
    return changed


def step(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Case:
    """An action that must be accepted: the case it leads to."""
    changed = run(case, action, who, hours, cause, **request)
    assert not refusals(changed), refusals(changed)
    return changed.case


def accepted(matter: str = "sanitation") -> Case:
    case = opened(matter).case
    return step(case, "accept", lead(case), 1, "accept-1")


def parts_in(case: Case, hours: float = 2) -> Case:
    for party in sorted(case.progress.owing):
        case = step(case, "report_in", helper(party), hours, f"report-in/{party}", text="到场")
    return case


def resolved() -> Case:
    case = parts_in(accepted())
    return step(case, "resolve", lead(case), 3, "resolve-1", text="清运完毕")


def verified() -> Case:
    return step(resolved(), "verify_passed", SUPERVISOR, 4, "verify-1")


def closed() -> Case:
    return step(verified(), "rate_satisfied", RESIDENT, 5, "rate-1")


def assert_refused(before: Case, changed: Changed, code: str, cause: str) -> None:
    """A refusal: the `rejected` entry (not announced) and the refusal, the case otherwise as it was."""
    (entry,) = entries(changed)
    (refusal,) = refusals(changed)
    assert changed.facts == (entry, refusal)
    assert (entry.action, entry.from_state, entry.to_state) == ("rejected", before.state, before.state)
    assert (entry.seq, entry.event_id, entry.announced) == (before.seq + 1, cause, False)
    assert entry.detail["code"] == code
    assert (refusal.code, refusal.state, refusal.action_event_id) == (code, before.state, cause)
    assert changed.case == replace(before, seq=before.seq + 1)


# ---- a new report ----------------------------------------------------------------------------------------------


def test_a_new_report_is_assigned_to_its_lead_with_accept_resolve_and_report_in_deadlines() -> None:
    case, decision = report_case(RULES, BUILDING, matter="sanitation", at=NOW)
    changed = open_case(case, decision, RESIDENT, RULES, NOW, cause="report-1")
    c = changed.case
    assert c.state is State.ASSIGNED
    assert (c.lead, c.assisting) == (MG, (CM_BRANCH,))  # the micro-grid handles it, city management assists
    assert c.progress.owing == {CM_BRANCH}
    due = open_deadlines(c)
    assert set(due) == {(ACCEPT, MG), (RESOLVE, MG), (REPORT_IN, CM_BRANCH)}
    assert due[(ACCEPT, MG)].due_at == decision.accept_by == c.accept_by == datetime(2026, 3, 4, 12, 0, tzinfo=CST)
    assert due[(RESOLVE, MG)].due_at == decision.resolve_by == c.resolve_by == datetime(2026, 3, 5, 10, 0, tzinfo=CST)
    assert due[(REPORT_IN, CM_BRANCH)].due_at == decision.resolve_by  # its part is owed by the resolve-by
    assert due[(ACCEPT, MG)].warn_times == (
        datetime(2026, 3, 4, 11, 0, tzinfo=CST),
        datetime(2026, 3, 4, 11, 36, tzinfo=CST),
    )
    assert all(d.starts_at == NOW for d in c.deadlines)
    assert {STREET, DISTRICT, "client:app-client", "department:city_management"} <= set(c.scope_keys)


def test_a_new_report_is_recorded_then_assigned_and_its_parties_are_told() -> None:
    changed = opened()
    report, assign = entries(changed)
    assert (report.seq, report.action, report.from_state, report.to_state) == (1, "report", None, State.REPORTED)
    assert (report.event_id, report.actor) == ("report-1", RESIDENT)
    assert (assign.seq, assign.action, assign.from_state, assign.to_state) == (
        2,
        "assign",
        State.REPORTED,
        State.ASSIGNED,
    )
    assert assign.event_id == derived_id("report-1", "assign") and assign.actor == SYSTEM
    assert (assign.lead, assign.assisting) == (MG, (CM_BRANCH,))
    assert assign.detail["lead"] == MG and assign.detail["matter"] == "sanitation"
    assert [(n.assignee, n.role) for n in notices(changed)] == [(MG, "lead"), (CM_BRANCH, "assisting")]
    assert all(n.accept_by == changed.case.accept_by and n.cause == "report-1" for n in notices(changed))
    assert changed.case.seq == 2


def test_a_deadline_scale_shortens_what_is_left_of_every_allowance() -> None:
    fast = replace(RULES, deadline_scale=0.5)
    case, decision = report_case(fast, BUILDING, matter="sanitation", at=NOW)
    c = open_case(case, decision, RESIDENT, fast, NOW, cause="report-1").case
    due = open_deadlines(c)
    assert due[(ACCEPT, MG)].due_at == NOW + (decision.accept_by - NOW) / 2 == c.accept_by
    assert due[(RESOLVE, MG)].due_at == NOW + (decision.resolve_by - NOW) / 2 == c.resolve_by
    assert due[(REPORT_IN, CM_BRANCH)].due_at == c.resolve_by


def test_a_further_report_of_an_open_problem_is_merged_and_counted_on_it() -> None:
    into = accepted()
    again, _ = report_case(RULES, BUILDING, matter="sanitation", at=h(2), number=2)
    merged, linked = merge_report(again, into, 12.34, RESIDENT, RULES, h(2), cause="report-2")
    m = merged.case
    assert (m.state, m.merged_into, m.progress.merged_into) == (State.MERGED, into.case_id, str(into.case_id))
    assert (m.lead, m.assisting) == (into.lead, into.assisting)  # the row shows who handles the problem
    assert m.deadlines == () and notices(merged) == []
    report, merge = entries(merged)
    assert (report.seq, report.action, report.event_id) == (1, "report", "report-2")
    assert (merge.seq, merge.action, merge.from_state, merge.to_state) == (2, "merge", State.REPORTED, State.MERGED)
    assert merge.event_id == derived_id("report-2", "merge") and merge.detail["distance_m"] == 12.3
    assert set(into.scope_keys) <= set(m.scope_keys)
    (link,) = entries(linked)
    assert (link.seq, link.action, link.from_state, link.to_state) == (
        into.seq + 1,
        "link",
        State.ACCEPTED,
        State.ACCEPTED,
    )
    assert link.event_id == derived_id("report-2", "link")
    assert linked.case == replace(into, duplicates=1, seq=into.seq + 1)  # counted, nothing else touched


# ---- the lead's actions ----------------------------------------------------------------------------------------


def test_accept_meets_the_accept_deadline_and_keeps_the_resolve_by() -> None:
    case = opened().case
    changed = run(case, "accept", lead(case), 1, "accept-1")
    c = changed.case
    assert c.state is State.ACCEPTED and c.lead == MG
    before = open_deadlines(case)
    assert statuses(c, [before[(ACCEPT, MG)].deadline_id]) == ["met"]
    assert set(open_deadlines(c)) == {(RESOLVE, MG), (REPORT_IN, CM_BRANCH)}
    (entry,) = entries(changed)
    assert (entry.seq, entry.action, entry.from_state, entry.to_state) == (3, "accept", State.ASSIGNED, State.ACCEPTED)
    assert entry.event_id == "accept-1" and entry.actor == lead(case)
    assert notices(changed) == []


def test_accept_by_a_unit_that_is_not_the_lead_is_refused() -> None:
    case = opened().case
    changed = run(case, "accept", Who("w-9", "assignee", GRID), 1, "accept-1")
    assert_refused(case, changed, "illegal_transition", "accept-1")
    assert "is not the lead" in refusals(changed)[0].reason


def test_accept_twice_is_refused() -> None:
    case = accepted()
    assert_refused(case, run(case, "accept", lead(case), 2, "accept-2"), "illegal_transition", "accept-2")


def test_return_routes_the_case_again_without_the_unit_that_returned_it() -> None:
    case = accepted()
    old = open_deadlines(case)
    changed = run(case, "return", lead(case), 2, "return-1", text="不属于本网格", reason_code="not_ours")
    c = changed.case
    assert c.state is State.ASSIGNED
    assert (c.lead, c.assisting) == (GRID, (CM_BRANCH,))  # the grid above the micro-grid that returned it
    assert c.progress.returned_by == (MG,)
    assert statuses(c, [d.deadline_id for d in old.values()]) == ["void", "void"]  # its resolve-by, the part
    due = open_deadlines(c)
    assert set(due) == {(ACCEPT, GRID), (RESOLVE, GRID), (REPORT_IN, CM_BRANCH)}
    assert due[(ACCEPT, GRID)].starts_at == h(2) and c.accept_by == due[(ACCEPT, GRID)].due_at > h(2)
    ret, assign = entries(changed)
    assert (ret.action, ret.from_state, ret.to_state, ret.event_id) == (
        "return",
        State.ACCEPTED,
        State.RETURNED,
        "return-1",
    )
    assert ret.detail == {"text": "不属于本网格", "reason_code": "not_ours"}
    assert (assign.action, assign.from_state, assign.to_state) == ("assign", State.RETURNED, State.ASSIGNED)
    assert assign.event_id == derived_id("return-1/reroute", "assign") and assign.detail["excluded"] == [MG]
    assert (ret.seq, assign.seq) == (case.seq + 1, case.seq + 2)
    assert [(n.assignee, n.role) for n in notices(changed)] == [(GRID, "lead"), (CM_BRANCH, "assisting")]
    assert {n.cause for n in notices(changed)} == {"return-1/reroute"}


def test_return_needs_a_reason() -> None:
    case = accepted()
    assert_refused(case, run(case, "return", lead(case), 2, "return-1"), "illegal_transition", "return-1")


def test_return_of_a_matter_the_lead_s_level_may_not_return_is_refused() -> None:
    case = opened("gas_leak").case  # safety: handled or escalated, never returned
    changed = run(case, "return", lead(case), 1, "return-1", text="不归我们")
    assert_refused(case, changed, "return_not_allowed", "return-1")


def test_start_puts_an_accepted_case_in_progress() -> None:
    case = accepted()
    changed = run(case, "start", lead(case), 2, "start-1")
    assert changed.case.state is State.IN_PROGRESS
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.seq) == (
        "start",
        State.ACCEPTED,
        State.IN_PROGRESS,
        case.seq + 1,
    )
    assert open_deadlines(changed.case) == open_deadlines(case)


def test_start_before_accepting_is_refused() -> None:
    case = opened().case
    assert_refused(case, run(case, "start", lead(case), 1, "start-1"), "illegal_transition", "start-1")


def test_a_progress_note_keeps_the_state_and_the_deadlines() -> None:
    case = step(accepted(), "start", lead(accepted()), 2, "start-1")
    changed = run(case, "progress", lead(case), 3, "progress-1", text="已联系环卫")
    assert changed.case == replace(case, seq=case.seq + 1)
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("progress", State.IN_PROGRESS, State.IN_PROGRESS)
    assert entry.detail == {"text": "已联系环卫"}


def test_an_assisting_party_may_note_progress_on_an_accepted_case() -> None:
    case = accepted()
    changed = run(case, "progress", helper(CM_BRANCH), 2, "progress-1", text="车辆已派出")
    assert not refusals(changed) and changed.case.state is State.ACCEPTED


def test_a_progress_note_without_a_text_is_refused() -> None:
    case = step(accepted(), "start", lead(accepted()), 2, "start-1")
    assert_refused(case, run(case, "progress", lead(case), 3, "progress-1"), "illegal_transition", "progress-1")


def test_resolve_waits_for_every_owed_part() -> None:
    case = accepted()
    changed = run(case, "resolve", lead(case), 3, "resolve-1", text="done")
    assert_refused(case, changed, "illegal_transition", "resolve-1")
    assert "waiting for the parts of: " + CM_BRANCH in refusals(changed)[0].reason


def test_resolve_meets_the_resolve_by_and_owes_the_command_centre_a_verification() -> None:
    case = parts_in(accepted())
    resolve_by = open_deadlines(case)[(RESOLVE, MG)]
    changed = run(case, "resolve", lead(case), 3, "resolve-1", text="清运完毕")
    c = changed.case
    assert c.state is State.RESOLVED and c.lead == MG
    assert statuses(c, [resolve_by.deadline_id]) == ["met"]
    (verify,) = open_deadlines(c).values()
    assert (verify.kind, verify.party, verify.starts_at) == (VERIFY, CENTRE, h(3))
    policy = RULES.policy
    expected = deadline(h(3), 2.0, ClockKind.WORKING_DAYS, policy.tz, policy.local_days, policy.office).due
    assert verify.due_at == expected and verify.due_at >= h(3) + timedelta(days=2)  # two working days
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.event_id) == (
        "resolve",
        State.ACCEPTED,
        State.RESOLVED,
        "resolve-1",
    )


# ---- assisting parties and summons -----------------------------------------------------------------------------


def test_report_in_settles_the_party_s_part_and_meets_its_deadline() -> None:
    case = accepted()
    part = open_deadlines(case)[(REPORT_IN, CM_BRANCH)]
    changed = run(case, "report_in", helper(CM_BRANCH), 2, "report-in-1", text="到场")
    c = changed.case
    assert c.state is State.ACCEPTED and c.progress.owing == frozenset()
    assert c.assisting == (CM_BRANCH,)  # it still assists; it owes nothing any more
    assert statuses(c, [part.deadline_id]) == ["met"]
    assert set(open_deadlines(c)) == {(RESOLVE, MG)}
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.event_id) == (
        "report_in",
        State.ACCEPTED,
        State.ACCEPTED,
        "report-in-1",
    )


def test_report_in_twice_is_refused() -> None:
    case = parts_in(accepted())
    changed = run(case, "report_in", helper(CM_BRANCH), 3, "report-in-2")
    assert_refused(case, changed, "illegal_transition", "report-in-2")


def test_report_in_by_a_party_not_on_the_case_is_refused() -> None:
    case = accepted()
    changed = run(case, "report_in", helper("branch:police-610199001"), 2, "report-in-1")
    assert_refused(case, changed, "illegal_transition", "report-in-1")


def test_the_community_summons_a_department_which_must_report_in() -> None:
    case = opened("neighbour_dispute").case  # a community matter: the community leads
    assert case.lead == COMMUNITY
    case = step(case, "accept", lead(case), 1, "accept-1")
    changed = run(case, "summon", lead(case), 2, "summon-1", text="请派出所到场", payload={"departments": ["police"]})
    c = changed.case
    police = "branch:police-610199001"
    assert c.state is State.ACCEPTED and c.lead == COMMUNITY
    assert police in c.assisting and police in c.progress.owing and c.lead not in c.assisting
    summoned = open_deadlines(c)[(REPORT_IN, police)]
    assert (summoned.starts_at, summoned.due_at) == (h(2), h(2 + 24))  # a normal summons: 24 hours
    assert [(n.assignee, n.role, n.cause) for n in notices(changed)] == [(police, "summoned", "summon-1")]
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.event_id) == (
        "summon",
        State.ACCEPTED,
        State.ACCEPTED,
        "summon-1",
    )
    assert entry.detail["departments"] == ["police"] and police in entry.assisting
    assert police in c.scope_keys


def test_a_summons_by_a_grid_is_refused() -> None:
    case = accepted()  # the micro-grid leads it: only a street or a community may summon
    changed = run(case, "summon", lead(case), 2, "summon-1", payload={"departments": ["police"]})
    assert_refused(case, changed, "routing_error", "summon-1")


def test_the_district_summons_on_behalf_of_the_case_s_street() -> None:
    case = opened("neighbour_dispute").case
    case = step(case, "accept", lead(case), 1, "accept-1")
    district = Who("duty-1", "supervisor", DISTRICT)
    changed = run(case, "summon", district, 2, "summon-1", payload={"departments": ["police"]})
    c = changed.case
    police = "branch:police-610199001"
    assert police in c.progress.owing and open_deadlines(c)[(REPORT_IN, police)].due_at == h(2 + 24)
    (entry,) = entries(changed)
    assert entry.action == "summon" and entry.actor == district
    assert entry.detail["on_behalf_of"] == STREET  # the history says for whom the district summoned


def test_a_street_s_own_summons_names_nobody_it_acts_for() -> None:
    case = opened("neighbour_dispute").case
    case = step(case, "accept", lead(case), 1, "accept-1")
    changed = run(case, "summon", Who("cc-1", "supervisor", STREET), 2, "summon-1", payload={"departments": ["police"]})
    (entry,) = entries(changed)
    assert "on_behalf_of" not in entry.detail


def test_a_summons_of_an_unknown_department_is_refused() -> None:
    case = opened("neighbour_dispute").case
    case = step(case, "accept", lead(case), 1, "accept-1")
    changed = run(case, "summon", lead(case), 2, "summon-1", payload={"departments": ["ministry_of_magic"]})
    assert_refused(case, changed, "routing_error", "summon-1")


def test_a_summons_of_nobody_new_is_refused() -> None:
    case = opened("neighbour_dispute").case
    case = step(case, "accept", lead(case), 1, "accept-1")
    case = step(case, "summon", lead(case), 2, "summon-1", payload={"departments": ["police"]})
    changed = run(case, "summon", lead(case), 3, "summon-2", payload={"departments": ["police"]})
    assert_refused(case, changed, "illegal_transition", "summon-2")


# ---- after care ------------------------------------------------------------------------------------------------


def test_verify_passed_meets_the_verification_and_gives_the_resident_a_follow_up_window() -> None:
    case = resolved()
    verify = open_deadlines(case)[(VERIFY, CENTRE)]
    changed = run(case, "verify_passed", SUPERVISOR, 4, "verify-1")
    c = changed.case
    assert c.state is State.VERIFIED
    assert statuses(c, [verify.deadline_id]) == ["met"]
    (follow_up,) = open_deadlines(c).values()
    assert (follow_up.kind, follow_up.party, follow_up.due_at) == (FOLLOW_UP, "resident", h(4 + 72))
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.actor) == (
        "verify_passed",
        State.RESOLVED,
        State.VERIFIED,
        SUPERVISOR,
    )


def test_verify_by_the_lead_is_refused() -> None:
    case = resolved()
    assert_refused(case, run(case, "verify_passed", lead(case), 4, "verify-1"), "illegal_transition", "verify-1")


def test_verify_failed_reopens_with_a_fresh_resolve_by_for_the_same_lead() -> None:
    case = resolved()
    verify = open_deadlines(case)[(VERIFY, CENTRE)]
    changed = run(case, "verify_failed", SUPERVISOR, 4, "verify-1", text="垃圾仍在")
    c = changed.case
    assert (c.state, c.lead, c.progress.reopens) == (State.REOPENED, MG, 1)
    assert statuses(c, [verify.deadline_id]) == ["met"]
    (resolve_by,) = open_deadlines(c).values()
    assert (resolve_by.kind, resolve_by.party, resolve_by.starts_at) == (RESOLVE, MG, h(4))
    assert resolve_by.due_at == h(4 + 24) == c.resolve_by  # sanitation: 24 calendar hours
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("verify_failed", State.RESOLVED, State.REOPENED)
    assert notices(changed) == []


def test_a_reopened_case_is_accepted_again_by_its_lead() -> None:
    case = step(resolved(), "verify_failed", SUPERVISOR, 4, "verify-1", text="垃圾仍在")
    c = step(case, "accept", lead(case), 5, "accept-2")
    assert c.state is State.ACCEPTED and set(open_deadlines(c)) == {(RESOLVE, MG)}


def test_a_satisfied_rating_closes_the_case() -> None:
    case = verified()
    follow_up = open_deadlines(case)[(FOLLOW_UP, "resident")]
    changed = run(case, "rate_satisfied", RESIDENT, 5, "rate-1", text="满意")
    c = changed.case
    assert c.state is State.CLOSED and c.lead == MG
    assert statuses(c, [follow_up.deadline_id]) == ["met"] and c.open_deadlines() == ()
    rate, close = entries(changed)
    assert (rate.action, rate.from_state, rate.to_state, rate.event_id) == (
        "rate_satisfied",
        State.VERIFIED,
        State.RATED,
        "rate-1",
    )
    assert (close.action, close.from_state, close.to_state, close.actor) == ("close", State.RATED, State.CLOSED, SYSTEM)
    assert close.event_id == derived_id("rate-1", "close") and close.seq == rate.seq + 1 == case.seq + 2


def test_an_unsatisfied_rating_reopens_the_case() -> None:
    case = verified()
    changed = run(case, "rate_unsatisfied", RESIDENT, 5, "rate-1", text="没有清理干净")
    c = changed.case
    assert (c.state, c.lead, c.progress.reopens) == (State.REOPENED, MG, 1)
    assert [d.kind for d in c.open_deadlines()] == [RESOLVE]
    assert c.latest_deadline(FOLLOW_UP, "resident").status is MET  # type: ignore[union-attr]


def test_a_rating_by_anyone_but_the_resident_is_refused() -> None:
    case = verified()
    assert_refused(case, run(case, "rate_satisfied", SUPERVISOR, 5, "rate-1"), "illegal_transition", "rate-1")


def test_a_spot_check_reopens_a_closed_case() -> None:
    case = closed()
    changed = run(case, "reopen", SUPERVISOR, 30, "reopen-1", text="督查发现反弹")
    c = changed.case
    assert (c.state, c.lead, c.progress.reopens) == (State.REOPENED, MG, 1)
    (resolve_by,) = c.open_deadlines()
    assert (resolve_by.kind, resolve_by.party, resolve_by.due_at) == (RESOLVE, MG, h(30 + 24))
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("reopen", State.CLOSED, State.REOPENED)


def test_reopening_a_case_still_being_handled_is_refused() -> None:
    case = accepted()
    assert_refused(case, run(case, "reopen", SUPERVISOR, 2, "reopen-1"), "illegal_transition", "reopen-1")


# ---- escalation, merging, cancelling, comments, assignment by hand ------------------------------------------


def test_the_lead_escalates_the_case_one_rung_up_and_keeps_helping() -> None:
    case = accepted()
    old = case.open_deadlines()
    changed = run(case, "escalate", lead(case), 2, "escalate-1", text="需要网格长协调")
    c = changed.case
    assert (c.state, c.lead, c.progress.escalations) == (State.ASSIGNED, GRID, 1)
    assert c.assisting == tuple(sorted({MG, CM_BRANCH})) and c.progress.owing == {MG, CM_BRANCH}
    assert statuses(c, [d.deadline_id for d in old]) == ["void"] * len(old)
    due = open_deadlines(c)
    assert set(due) == {(ACCEPT, GRID), (RESOLVE, GRID), (REPORT_IN, MG), (REPORT_IN, CM_BRANCH)}
    assert due[(ACCEPT, GRID)].starts_at == h(2) and c.accept_by == due[(ACCEPT, GRID)].due_at
    esc, assign = entries(changed)
    assert (esc.action, esc.from_state, esc.to_state, esc.actor) == (
        "escalate",
        State.ACCEPTED,
        State.ESCALATED,
        lead(case),
    )
    assert esc.event_id == derived_id("escalate-1", "escalate") and (esc.detail["from"], esc.detail["to"]) == (MG, GRID)
    assert (assign.action, assign.from_state, assign.to_state) == ("assign", State.ESCALATED, State.ASSIGNED)
    assert assign.event_id == derived_id("escalate-1/reassign", "assign") and assign.lead == GRID
    assert [(n.assignee, n.role) for n in notices(changed)] == [
        (GRID, "lead"),
        (CM_BRANCH, "assisting"),
        (MG, "assisting"),
    ]


def test_a_merge_by_hand_is_refused_since_it_names_no_case_to_merge_into() -> None:
    case = accepted()
    changed = run(case, "merge", SUPERVISOR, 2, "merge-1", payload={"into": str(uuid.uuid4())})
    assert_refused(case, changed, "illegal_transition", "merge-1")


def test_the_resident_cancels_a_case_not_yet_accepted() -> None:
    case = opened().case
    changed = run(case, "cancel", RESIDENT, 1, "cancel-1", text="已自行解决")
    c = changed.case
    assert c.state is State.CANCELLED and c.open_deadlines() == ()
    assert statuses(c, [d.deadline_id for d in case.deadlines]) == ["void"] * 3
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("cancel", State.ASSIGNED, State.CANCELLED)


def test_the_resident_may_not_cancel_an_accepted_case_but_a_supervisor_may() -> None:
    case = accepted()
    assert_refused(case, run(case, "cancel", RESIDENT, 2, "cancel-1"), "illegal_transition", "cancel-1")
    c = step(case, "cancel", SUPERVISOR, 2, "cancel-2", text="重复受理")
    assert c.state is State.CANCELLED and c.open_deadlines() == ()


def test_anyone_may_comment_and_nothing_else_changes() -> None:
    case = accepted()
    changed = run(case, "comment", RESIDENT, 2, "comment-1", text="还没人来")
    assert changed.case == replace(case, seq=case.seq + 1)
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.announced) == (
        "comment",
        State.ACCEPTED,
        State.ACCEPTED,
        True,
    )


def test_a_comment_on_a_cancelled_case_is_refused() -> None:
    case = step(opened().case, "cancel", RESIDENT, 1, "cancel-1")
    assert_refused(case, run(case, "comment", SUPERVISOR, 2, "comment-1", text="?"), "illegal_transition", "comment-1")


def test_a_command_centre_assigns_a_new_lead_by_hand_with_fresh_deadlines() -> None:
    case = accepted()
    old = case.open_deadlines()
    changed = run(case, "assign", SUPERVISOR, 2, "assign-1", text="改派社区", payload={"lead": COMMUNITY})
    c = changed.case
    assert (c.state, c.lead, c.assisting) == (State.ASSIGNED, COMMUNITY, (CM_BRANCH,))
    assert statuses(c, [d.deadline_id for d in old]) == ["void"] * len(old)
    due = open_deadlines(c)
    assert set(due) == {(ACCEPT, COMMUNITY), (RESOLVE, COMMUNITY), (REPORT_IN, CM_BRANCH)}
    assert due[(ACCEPT, COMMUNITY)].starts_at == h(2) and due[(RESOLVE, COMMUNITY)].due_at == c.resolve_by == h(2 + 24)
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.actor) == (
        "assign",
        State.ACCEPTED,
        State.ASSIGNED,
        SUPERVISOR,
    )
    assert entry.event_id == derived_id("assign-1", "assign")
    assert entry.detail == {"from": MG, "to": COMMUNITY, "reason": "改派社区", "by_hand": True}
    assert [(n.assignee, n.role) for n in notices(changed)] == [(COMMUNITY, "lead"), (CM_BRANCH, "assisting")]


def test_assigning_the_assisting_party_by_hand_makes_it_the_lead_only() -> None:
    case = accepted()
    c = step(case, "assign", SUPERVISOR, 2, "assign-1", payload={"lead": CM_BRANCH})
    assert (c.lead, c.assisting, c.progress.owing) == (CM_BRANCH, (), frozenset())


def test_assigning_by_hand_to_a_unit_the_registry_does_not_know_is_refused() -> None:
    case = accepted()
    changed = run(case, "assign", SUPERVISOR, 2, "assign-1", payload={"lead": "unit:999999"})
    assert_refused(case, changed, "unknown_unit", "assign-1")


def test_assigning_by_hand_is_for_a_command_centre_not_the_lead() -> None:
    case = accepted()
    changed = run(case, "assign", lead(case), 2, "assign-1", payload={"lead": COMMUNITY})
    assert_refused(case, changed, "illegal_transition", "assign-1")


def test_assigning_a_closed_case_by_hand_is_refused() -> None:
    case = closed()
    changed = run(case, "assign", SUPERVISOR, 30, "assign-1", payload={"lead": COMMUNITY})
    assert_refused(case, changed, "illegal_transition", "assign-1")


@pytest.mark.parametrize(("action", "role"), [("fly", "assignee"), ("accept", "mayor")])
def test_an_unknown_action_or_role_is_refused_as_invalid(action: str, role: str) -> None:
    case = opened().case
    changed = run(case, action, Who("x", role, MG), 1, "odd-1")
    assert_refused(case, changed, "invalid_action", "odd-1")


def test_an_action_on_a_case_nobody_reported_is_refused_without_a_history() -> None:
    request = Request("accept", Who("w", "assignee", MG))
    refusal = refuse_unknown("5d1e0a4e-0000-4000-8000-000000000000", request, cause="accept-1")
    assert (refusal.code, refusal.state, refusal.action, refusal.action_event_id) == (
        "unknown_case",
        None,
        "accept",
        "accept-1",
    )


# ---- fired deadlines -------------------------------------------------------------------------------------------


def fired(case: Case, kind: DueKind, party: str, tier: Tier = Tier.ESCALATE) -> Fired:
    d = case.latest_deadline(kind, party)
    assert d is not None
    return Fired(str(d.deadline_id), kind, tier, d.due_at, party)


def test_a_missed_accept_by_moves_the_case_one_rung_up() -> None:
    case = opened().case
    changed = fire(case, fired(case, ACCEPT, MG), RULES, h(2.5), cause="fired-1")
    assert changed is not None
    c = changed.case
    assert (c.state, c.lead, c.progress.escalations) == (State.ASSIGNED, GRID, 1)
    assert MG in c.assisting and GRID not in c.assisting
    assert statuses(c, [d.deadline_id for d in case.deadlines]) == ["void"] * 3
    assert {k for k, p in open_deadlines(c)} == {ACCEPT, RESOLVE, REPORT_IN}
    esc, assign = entries(changed)
    assert (esc.action, esc.actor, esc.event_id) == ("escalate", SYSTEM, derived_id("fired-1", "escalate"))
    assert esc.detail["reason"].startswith("accept deadline") and esc.detail["reason"].endswith(f"missed by {MG}")
    assert assign.event_id == derived_id("fired-1/reassign", "assign") and assign.detail["supervised_by"] == GRID
    assert notices(changed)[0].assignee == GRID and notices(changed)[0].role == "lead"


def test_a_fired_deadline_the_lead_met_meanwhile_moves_nothing() -> None:
    case = opened().case
    missed = fired(case, ACCEPT, MG)
    case = step(case, "accept", lead(case), 2.5, "accept-1")  # applied before the escalation event
    assert fire(case, missed, RULES, h(2.6), cause="fired-1") is None


def test_a_fired_deadline_of_a_lead_that_moved_on_moves_nothing() -> None:
    case = opened().case
    missed = fired(case, ACCEPT, MG)
    case = step(case, "assign", SUPERVISOR, 2, "assign-1", payload={"lead": COMMUNITY})
    assert fire(case, missed, RULES, h(2.5), cause="fired-1") is None


@pytest.mark.parametrize("tier", [Tier.WARNING, Tier.OVERDUE, Tier.REALERT])
def test_only_the_escalate_tier_moves_a_case(tier: Tier) -> None:
    case = opened().case
    assert fire(case, fired(case, ACCEPT, MG, tier), RULES, h(2.5), cause="fired-1") is None


def test_a_fired_deadline_of_a_resolved_case_moves_nothing() -> None:
    case = resolved()
    assert fire(case, fired(case, RESOLVE, MG), RULES, h(30), cause="fired-1") is None
    assert fire(case, fired(case, VERIFY, CENTRE), RULES, h(80), cause="fired-2") is None  # notify chases it


def test_the_district_missing_its_deadline_keeps_the_case_with_a_fresh_deadline() -> None:
    case = opened("collective_dispute").case  # the district command centre leads it: nowhere to climb
    assert case.lead == DISTRICT
    missed = case.latest_deadline(ACCEPT, DISTRICT)
    assert missed is not None
    allowance = missed.due_at - missed.starts_at
    late = missed.due_at + timedelta(minutes=10)
    changed = fire(case, fired(case, ACCEPT, DISTRICT), RULES, late, cause="fired-1")
    assert changed is not None
    c = changed.case
    assert (c.state, c.lead, c.progress.escalations) == (State.ASSIGNED, DISTRICT, 0)
    assert statuses(c, [missed.deadline_id]) == ["void"]
    again = open_deadlines(c)[(ACCEPT, DISTRICT)]
    assert (again.starts_at, again.due_at) == (late, late + allowance) and c.accept_by == again.due_at
    assert open_deadlines(c)[(RESOLVE, DISTRICT)] == open_deadlines(case)[(RESOLVE, DISTRICT)]  # untouched
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("realert", State.ASSIGNED, State.ASSIGNED)
    assert entry.event_id == derived_id("fired-1", "realert") and entry.detail["next_due"] == again.due_at.isoformat()
    assert notices(changed) == []


def test_a_missed_report_in_goes_to_the_rung_above_the_party() -> None:
    case = accepted()
    missed = open_deadlines(case)[(REPORT_IN, CM_BRANCH)]
    changed = fire(case, fired(case, REPORT_IN, CM_BRANCH), RULES, h(17), cause="fired-1")
    assert changed is not None
    c = changed.case
    assert (c.state, c.lead) == (State.ACCEPTED, MG)  # the case stays; only the part moves up
    assert c.assisting == tuple(sorted({CM_BRANCH, CM_DEPARTMENT})) and c.progress.owing == {CM_BRANCH, CM_DEPARTMENT}
    assert statuses(c, [missed.deadline_id]) == ["void"]
    answer = open_deadlines(c)[(REPORT_IN, CM_DEPARTMENT)]
    assert (answer.starts_at, answer.due_at) == (h(17), h(17 + 24))
    assert (REPORT_IN, CM_BRANCH) not in open_deadlines(c)  # it still owes its part, with no deadline of its own
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state) == ("escalate_part", State.ACCEPTED, State.ACCEPTED)
    assert entry.event_id == derived_id("fired-1", "escalate_part")
    assert (entry.detail["party"], entry.detail["to"]) == (CM_BRANCH, CM_DEPARTMENT)
    assert [(n.assignee, n.role) for n in notices(changed)] == [(CM_DEPARTMENT, "summoned")]
    assert CM_DEPARTMENT in c.scope_keys


@pytest.mark.parametrize("reporter", [CM_BRANCH, CM_DEPARTMENT])
def test_a_report_in_by_the_party_or_the_rung_above_settles_the_part_for_both(reporter: str) -> None:
    case = accepted()
    changed = fire(case, fired(case, REPORT_IN, CM_BRANCH), RULES, h(17), cause="fired-1")
    assert changed is not None
    c = step(changed.case, "report_in", helper(reporter), 18, "report-in-1")
    assert c.progress.owing == frozenset()
    assert c.latest_deadline(REPORT_IN, CM_DEPARTMENT).status is MET  # type: ignore[union-attr]
    assert set(open_deadlines(c)) == {(RESOLVE, MG)}
    assert step(c, "resolve", lead(c), 19, "resolve-1").state is State.RESOLVED


def test_a_missed_report_in_of_a_part_already_reported_moves_nothing() -> None:
    case = accepted()
    missed = fired(case, REPORT_IN, CM_BRANCH)
    case = parts_in(case)
    assert fire(case, missed, RULES, h(17), cause="fired-1") is None


def test_a_passed_follow_up_window_closes_an_unrated_case() -> None:
    case = verified()
    follow_up = open_deadlines(case)[(FOLLOW_UP, "resident")]
    changed = fire(case, fired(case, FOLLOW_UP, "resident", Tier.OVERDUE), RULES, h(77), cause="fired-1")
    assert changed is not None
    c = changed.case
    assert c.state is State.CLOSED and c.open_deadlines() == ()
    assert statuses(c, [follow_up.deadline_id]) == ["void"]
    (entry,) = entries(changed)
    assert (entry.action, entry.from_state, entry.to_state, entry.actor) == (
        "close",
        State.VERIFIED,
        State.CLOSED,
        SYSTEM,
    )
    assert entry.event_id == derived_id("fired-1", "close")
    assert entry.detail == {"reason": "the follow-up window passed without a rating"}


def test_a_follow_up_window_passing_on_a_rated_case_changes_nothing() -> None:
    case = verified()
    late = fired(case, FOLLOW_UP, "resident", Tier.OVERDUE)
    case = step(case, "rate_unsatisfied", RESIDENT, 5, "rate-1", text="no")
    assert fire(case, late, RULES, h(77), cause="fired-1") is None


# ---- determinism and immutability ------------------------------------------------------------------------------


def without_ids(case: Case) -> Case:
    return replace(case, deadlines=tuple(replace(d, deadline_id=uuid.UUID(int=0)) for d in case.deadlines))


@pytest.mark.parametrize(
    ("action", "who", "asked"),
    [
        ("return", "lead", {"text": "不属于本网格"}),
        ("escalate", "lead", {"text": "协调"}),
        ("assign", "supervisor", {"payload": {"lead": STREET}}),
        ("comment", "supervisor", {"text": "ok"}),
        ("start", "supervisor", {}),
    ],
)
def test_the_same_action_from_the_same_case_gives_the_same_facts(
    action: str, who: str, asked: dict[str, object]
) -> None:
    case = accepted()
    actor = lead(case) if who == "lead" else SUPERVISOR
    first = run(case, action, actor, 2, "same-1", **asked)
    second = run(case, action, actor, 2, "same-1", **asked)
    assert first.facts == second.facts
    assert without_ids(first.case) == without_ids(second.case)


def test_the_district_is_not_chased_for_an_accept_by_it_met_when_the_fired_id_is_unknown() -> None:
    case = accepted("collective_dispute")  # the district command centre leads it and has accepted it
    missed = Fired(str(uuid.uuid4()), ACCEPT, Tier.ESCALATE, h(0.5), DISTRICT)  # its latest accept-by stands in
    assert fire(case, missed, RULES, h(3), cause="fired-1") is None  # no fresh accept-by on an accepted case
