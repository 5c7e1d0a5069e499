"""The clock (延期, 挂起) on the sample district (shared/domain/case/clock_commands.py): extensions asked by the lead and
decided by the supervising level within the catalog's limits, suspensions that stop the resolve-by and resume with
what was left of it on the working-day calendar, and the refusals, each with its code.

A neighbour dispute is led by the community at the building (5 working days, 2 extensions of at most 10 allowed),
supervised by its street; NOW is Wednesday 2026-03-04 10:00 in Xi'an (no holidays that month).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.case import Case, Changed, Fired, Request, Who, act, fire
from shared.domain.lifecycle import DueKind, State, Tier
from tests.unit.domain.case_helpers import entries, notices, open_deadlines, refusals
from tests.unit.domain.test_case_commands import COMMUNITY, CST, GRID, RULES, STREET, h, helper, opened

DISPUTE = "neighbour_dispute"
LEAD = Who("c-1", "assignee", COMMUNITY)
BY_STREET = Who("s-1", "supervisor", STREET)


def ask(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Changed:
    return act(case, Request(action, who, **request), RULES, h(hours), cause=cause)  # type: ignore[arg-type]


def accepted() -> Case:
    case = opened(DISPUTE).case
    assert case.lead == COMMUNITY
    return ask(case, "accept", LEAD, 1, "accept-1").case


def code_of(changed: Changed) -> str:
    (refusal,) = refusals(changed)
    return refusal.code


def suspended(case: Case, hours: float = 2) -> Case:
    case = ask(case, "request_suspension", LEAD, hours, "ask-s", text="当事人外出", reason_code="waiting_resident").case
    return ask(case, "decide_suspension", BY_STREET, hours, "decide-s", payload={"approved": True}).case


def test_an_approved_extension_moves_the_resolve_by_and_its_warnings_and_is_counted() -> None:
    case = accepted()
    before = case.resolve_by
    assert before == datetime(2026, 3, 11, 17, 0, tzinfo=CST)  # close of the 5th working day
    wanted = datetime(2026, 3, 13, 17, 0, tzinfo=CST)
    asked = ask(
        case, "request_extension", LEAD, 2, "ask-1", text="需等待鉴定", payload={"resolve_by": wanted.isoformat()}
    )
    assert [e.action for e in entries(asked)] == ["request_extension"]
    assert [(n.assignee, n.role) for n in notices(asked)] == [(STREET, "extension_requested")]
    assert asked.case.resolve_by == before and asked.case.clock.extension_asked is not None
    decided = ask(asked.case, "decide_extension", BY_STREET, 3, "decide-1", payload={"approved": True})
    after = decided.case
    assert after.resolve_by == wanted and after.clock.extensions == 1 and after.clock.extension_asked is None
    deadline = open_deadlines(after)[(DueKind.RESOLVE, COMMUNITY)]
    assert deadline.due_at == wanted and all(h(3) < w < wanted for w in deadline.warn_times)
    assert len(deadline.warn_times) == 2
    (entry,) = entries(decided)
    assert entry.detail["approved"] is True and entry.detail["asked_person"] == "c-1"
    assert [(n.assignee, n.role) for n in notices(decided)] == [(COMMUNITY, "extension_approved")]


def test_an_extension_is_refused_outside_the_lead_or_the_supervising_level_and_beyond_the_limits() -> None:
    case = accepted()
    assert case.resolve_by is not None
    later = {"resolve_by": (case.resolve_by + timedelta(days=1)).isoformat()}
    assisting = helper(case.assisting[0])  # the justice branch: a party of the case, not its lead
    assert code_of(ask(case, "request_extension", assisting, 2, "x1", text="r", payload=later)) == "not_lead"
    other = Who("g", "assignee", GRID)  # no party at all: the lifecycle refuses it as the lead it is not
    assert code_of(ask(case, "request_extension", other, 2, "x2", text="r", payload=later)) == "illegal_transition"
    earlier = {"resolve_by": (case.resolve_by - timedelta(hours=1)).isoformat()}
    assert code_of(ask(case, "request_extension", LEAD, 2, "x3", text="r", payload=earlier)) == "resolve_by_not_later"
    far = {"resolve_by": (case.resolve_by + timedelta(days=30)).isoformat()}
    assert code_of(ask(case, "request_extension", LEAD, 2, "x4", text="r", payload=far)) == "extension_too_long"
    asked = ask(case, "request_extension", LEAD, 2, "x5", text="r", payload=later).case
    assert code_of(ask(asked, "request_extension", LEAD, 2, "x6", text="r", payload=later)) == "extension_pending"
    by_grid = Who("g-1", "supervisor", GRID)
    assert code_of(ask(asked, "decide_extension", by_grid, 3, "x7", payload={"approved": True})) == "not_supervising"
    assert code_of(ask(case, "decide_extension", BY_STREET, 3, "x8", payload={"approved": True})) == "nothing_to_decide"
    once = ask(asked, "decide_extension", BY_STREET, 3, "x9", payload={"approved": True}).case
    assert once.resolve_by is not None
    again = {"resolve_by": (once.resolve_by + timedelta(days=1)).isoformat()}
    twice = ask(ask(once, "request_extension", LEAD, 4, "y1", text="r", payload=again).case, "decide_extension",
                BY_STREET, 4, "y2", payload={"approved": True}).case  # fmt: skip
    assert twice.clock.extensions == 2  # neighbour disputes allow two
    third = {"resolve_by": (twice.resolve_by + timedelta(days=1)).isoformat()} if twice.resolve_by else {}
    assert code_of(ask(twice, "request_extension", LEAD, 5, "y3", text="r", payload=third)) == "extension_limit"


def test_a_suspension_stops_the_resolve_by_and_a_resume_restarts_what_was_left_in_working_time() -> None:
    case = accepted()
    running = open_deadlines(case)[(DueKind.RESOLVE, COMMUNITY)]
    stopped = suspended(case)  # Wednesday 12:00: 5 office hours that day and 5 more days were left
    assert stopped.resolve_by is None and (DueKind.RESOLVE, COMMUNITY) not in open_deadlines(stopped)
    fired = Fired(str(running.deadline_id), DueKind.RESOLVE, Tier.ESCALATE, running.due_at, COMMUNITY)
    assert fire(stopped, fired, RULES, running.due_at + timedelta(minutes=1), cause="fired-1") is None
    (left,) = stopped.clock.suspended.stopped if stopped.clock.suspended else ()
    assert left.left_s == 45 * 3600
    resumed = ask(stopped, "resume", LEAD, 120, "resume-1", text="当事人已返回")  # Monday 10:00
    after = resumed.case
    assert after.resolve_by == datetime(2026, 3, 16, 15, 0, tzinfo=CST)  # 45 office hours after Monday 10:00
    assert open_deadlines(after)[(DueKind.RESOLVE, COMMUNITY)].due_at == after.resolve_by
    (entry,) = entries(resumed)
    assert entry.action == "resume" and entry.detail["suspended_s"] == 118 * 3600
    assert entry.detail["suspended_working_s"] == (5 + 8 + 8 + 1) * 3600  # Wed 12-17, Thu, Fri, Mon 9-10
    assert [(n.assignee, n.role) for n in notices(resumed)] == [(COMMUNITY, "resumed")]


def test_suspension_refusals_and_a_case_resolved_while_suspended_ends_it() -> None:
    case = accepted()
    assert code_of(ask(case, "resume", LEAD, 2, "r0")) == "not_suspended"
    asked = ask(case, "request_suspension", LEAD, 2, "r1", text="等待法院判决").case
    assert code_of(ask(asked, "request_suspension", LEAD, 2, "r2", text="again")) == "suspension_pending"
    by_grid = Who("g-1", "supervisor", GRID)
    assert code_of(ask(asked, "decide_suspension", by_grid, 2, "r3", payload={"approved": True})) == "not_supervising"
    stopped = suspended(case)
    assert code_of(ask(stopped, "request_suspension", LEAD, 3, "r4", text="again")) == "already_suspended"
    later = {"resolve_by": h(200).isoformat()}
    assert code_of(ask(stopped, "request_extension", LEAD, 3, "r5", text="r", payload=later)) == "already_suspended"
    assert code_of(ask(stopped, "resume", Who("g-1", "supervisor", GRID), 3, "r6")) == "not_supervising"
    refused = ask(asked, "decide_suspension", BY_STREET, 2, "r7", payload={"approved": False}).case
    assert refused.clock.suspended is None and refused.resolve_by == case.resolve_by
    reported = ask(stopped, "report_in", helper(stopped.assisting[0]), 4, "r8", text="已配合调解").case
    done = ask(reported, "resolve", LEAD, 4, "r9", text="调解成功")
    assert done.case.state is State.RESOLVED and done.case.clock.suspended is None
    assert [e.action for e in entries(done)][-1] == "resume" and entries(done)[-1].detail["automatic"] is True


def test_a_suspension_with_a_resume_at_resumes_by_itself_when_it_fires() -> None:
    case = accepted()
    at = h(120)  # Monday 10:00
    case = ask(
        case, "request_suspension", LEAD, 2, "ask-s", text="等待判决", payload={"resume_at": at.isoformat()}
    ).case
    stopped = ask(case, "decide_suspension", BY_STREET, 2, "decide-s", payload={"approved": True}).case
    waiting = open_deadlines(stopped)[(DueKind.RESUME, COMMUNITY)]
    assert waiting.due_at == at
    commented = ask(stopped, "comment", LEAD, 3, "c-1", text="仍在等待").case  # what the state owes stays owed
    assert (DueKind.RESUME, COMMUNITY) in open_deadlines(commented)
    fired = Fired(str(waiting.deadline_id), DueKind.RESUME, Tier.ESCALATE, at, COMMUNITY)
    resumed = fire(commented, fired, RULES, at, cause="fired-r")
    assert resumed is not None
    after = resumed.case
    assert after.clock.suspended is None and after.resolve_by == datetime(2026, 3, 16, 15, 0, tzinfo=CST)
    assert (DueKind.RESUME, COMMUNITY) not in open_deadlines(after)
    (entry,) = entries(resumed)
    assert entry.action == "resume" and entry.detail["automatic"] is True
    assert fire(after, fired, RULES, at, cause="fired-r2") is None  # fired twice (overdue, escalate): once only
    by_hand = ask(stopped, "resume", LEAD, 4, "r-1").case  # resumed by hand first: the resume-at is void
    assert (DueKind.RESUME, COMMUNITY) not in open_deadlines(by_hand)
    assert fire(by_hand, fired, RULES, at, cause="fired-r3") is None
