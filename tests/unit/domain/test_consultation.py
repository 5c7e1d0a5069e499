"""Consultation (会商) on the sample district: a street or community convenes units and departments with a deadline
for their opinions, each answers by it, the convener records the outcome and the case is re-dispatched as decided
(shared/domain/case/consultation_commands.py)."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.case import Case, Changed, Fired, Request, Who, act, fire
from shared.domain.lifecycle import DueKind, State, Tier
from tests.unit.domain.case_helpers import entries, notices, open_deadlines, refusals
from tests.unit.domain.test_case_commands import (
    CM_BRANCH,
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

MATTER = "dog_nuisance"  # led by the grid
POLICE = "department:police"
BY_STREET = Who("s-1", "supervisor", STREET)
BY_COMMUNITY = Who("c-1", "supervisor", COMMUNITY)
BY_DISTRICT = Who("d-1", "supervisor", DISTRICT)


def ask(case: Case, action: str, who: Who, hours: float, cause: str, **request: object) -> Changed:
    return act(case, Request(action, who, **request), RULES, h(hours), cause=cause)  # type: ignore[arg-type]


def invitee(party: str) -> Who:
    return Who("i-1", "invitee", party)


def convened(hours_for_opinions: float = 4) -> Changed:
    case = ask(opened(MATTER).case, "accept", lead(opened(MATTER).case), 0.5, "accept-1").case
    payload = {"invited": [CM_DEPARTMENT, POLICE, COMMUNITY], "opinions_by": h(hours_for_opinions).isoformat()}
    return ask(case, "convene", BY_STREET, 1, "convene-1", text="犬只伤人纠纷, 需多部门会商", payload=payload)


def codes(changed: Changed) -> list[str]:
    return [r.code for r in refusals(changed)]


def test_a_street_convenes_each_invited_party_owes_an_opinion_by_the_deadline_and_is_told() -> None:
    changed = convened()
    case = changed.case
    held = case.consultation
    assert held.is_open and held.convener == STREET and held.invited == (CM_DEPARTMENT, POLICE, COMMUNITY)
    assert held.opinions_by == h(4) and case.state is State.ACCEPTED and case.lead == GRID
    owed = open_deadlines(case)
    for party in held.invited:
        assert owed[(DueKind.CONSULTATION_OPINION, party)].due_at == h(4)
    (entry,) = entries(changed)
    assert entry.action == "convene" and entry.detail["invited"] == list(held.invited)
    assert {(n.assignee, n.role) for n in notices(changed)} == {(p, "consultation_invited") for p in held.invited}
    assert CM_DEPARTMENT not in opened(MATTER).case.scope_keys  # the invited may read the case from now on
    assert {CM_DEPARTMENT, POLICE} <= set(case.scope_keys)


def test_who_may_convene_and_whom() -> None:
    case = ask(opened(MATTER).case, "accept", lead(opened(MATTER).case), 0.5, "accept-1").case
    payload = {"invited": [POLICE]}
    assert codes(ask(case, "convene", Who("g", "supervisor", GRID), 1, "c1", text="x", payload=payload)) == [
        "convener_not_allowed"  # a grid is not a street or community
    ]
    assert codes(
        ask(case, "convene", Who("x", "supervisor", "unit:610199002"), 1, "c2", text="x", payload=payload)
    ) == [
        "convener_not_allowed"  # a street the case does not lie in
    ]
    assert codes(ask(case, "convene", BY_STREET, 1, "c3", text="x", payload={"invited": ["unit:nope"]})) == [
        "unknown_unit"
    ]
    assert codes(ask(case, "convene", BY_STREET, 1, "c4", text="x", payload={"invited": [STREET]})) == [
        "invited_needed"  # the convener alone
    ]
    past = {"invited": [POLICE], "opinions_by": h(0.5).isoformat()}
    assert codes(ask(case, "convene", BY_STREET, 1, "c5", text="x", payload=past)) == ["bad_opinions_by"]
    community = ask(case, "convene", BY_COMMUNITY, 1, "c6", text="社区会商", payload=payload)
    assert not refusals(community)  # the default deadline: the catalog's reply_within_hours
    assert community.case.consultation.opinions_by == h(1) + timedelta(hours=24)
    again = ask(community.case, "convene", BY_STREET, 2, "c7", text="再次会商", payload=payload)
    assert codes(again) == ["consultation_open"]


def test_an_invited_party_answers_once_by_the_deadline_and_the_convener_is_told() -> None:
    case = convened().case
    answered = ask(case, "give_opinion", invitee(POLICE), 2, "o1", text="建议由公安牵头处置伤人行为")
    assert not refusals(answered)
    (opinion,) = answered.case.consultation.opinions
    assert (opinion.party, opinion.person, opinion.text) == (POLICE, "i-1", "建议由公安牵头处置伤人行为")
    assert {(n.assignee, n.role) for n in notices(answered)} == {(STREET, "consultation_opinion")}
    assert open_deadlines(answered.case).get((DueKind.CONSULTATION_OPINION, POLICE)) is None  # met
    twice = ask(answered.case, "give_opinion", invitee(POLICE), 2.5, "o2", text="补充")
    assert codes(twice) == ["opinion_given"]
    stranger = ask(answered.case, "give_opinion", invitee(CM_BRANCH), 2.5, "o3", text="我们也有意见")
    assert codes(stranger) == ["not_invited"]
    late = ask(answered.case, "give_opinion", invitee(CM_DEPARTMENT), 5, "o4", text="迟到的意见")
    assert codes(late) == ["consultation_closed"]
    assert codes(ask(opened(MATTER).case, "give_opinion", invitee(POLICE), 1, "o5", text="x")) == ["no_consultation"]


def test_the_opinions_by_passing_closes_the_consultation_to_answers_and_tells_the_convener() -> None:
    case = convened().case
    case = ask(case, "give_opinion", invitee(POLICE), 2, "o1", text="公安牵头").case
    owed = open_deadlines(case)[(DueKind.CONSULTATION_OPINION, COMMUNITY)]
    fired = Fired(str(owed.deadline_id), DueKind.CONSULTATION_OPINION, Tier.ESCALATE, owed.due_at, COMMUNITY)
    closed = fire(case, fired, RULES, h(4), cause="fired-1")
    assert closed is not None
    (entry,) = entries(closed)
    assert entry.action == "consultation_unanswered" and entry.detail["unanswered"] == [CM_DEPARTMENT, COMMUNITY]
    assert {(n.assignee, n.role) for n in notices(closed)} == {(STREET, "consultation_due")}
    assert closed.case.consultation.closed
    assert not [k for k in open_deadlines(closed.case) if k[0] is DueKind.CONSULTATION_OPINION]
    assert fire(closed.case, fired, RULES, h(4), cause="fired-2") is None  # the other parties' fire: nothing more
    # closed, even when an early clock would still take it
    refused = act(closed.case, Request("give_opinion", invitee(COMMUNITY), "迟到"), RULES, h(3.9), cause="o9")
    assert codes(refused) == ["consultation_closed"]


def test_the_convener_records_the_outcome_and_the_case_is_re_dispatched_as_decided() -> None:
    case = convened().case
    case = ask(case, "give_opinion", invitee(POLICE), 2, "o1", text="公安牵头").case
    other = ask(case, "record_outcome", BY_COMMUNITY, 3, "r0", text="x", payload={"lead": POLICE})
    assert codes(other) == ["not_convener"]  # invited, below the convener: not its to record
    unknown = ask(case, "record_outcome", BY_STREET, 3, "r1", text="x", payload={"lead": "department:nope"})
    assert codes(unknown) == ["unknown_unit"]
    payload = {"lead": POLICE, "assisting": [CM_DEPARTMENT, GRID]}
    decided = ask(
        case, "record_outcome", BY_STREET, 3, "r2", text="会商决定: 公安牵头, 城管与网格协助", payload=payload
    )
    assert not refusals(decided)
    after = decided.case
    assert after.lead == POLICE and set(after.assisting) == {CM_DEPARTMENT, GRID}
    assert after.state is State.ASSIGNED and not after.consultation.is_open
    assert [e.action for e in entries(decided)] == ["record_outcome", "assign"]
    outcome = entries(decided)[0].detail
    assert outcome["answered"] == [POLICE] and outcome["unanswered"] == [CM_DEPARTMENT, COMMUNITY]
    owed = open_deadlines(after)
    assert (DueKind.ACCEPT, POLICE) in owed and (DueKind.REPORT_IN, CM_DEPARTMENT) in owed
    assert not [k for k in owed if k[0] is DueKind.CONSULTATION_OPINION]
    told = {(n.assignee, n.role) for n in notices(decided)}
    assert {(POLICE, "lead"), (CM_DEPARTMENT, "assisting"), (GRID, "assisting")} <= told
    assert codes(ask(after, "record_outcome", BY_STREET, 4, "r3", text="x", payload=payload)) == ["no_consultation"]


def test_a_new_lead_ends_a_consultation_with_its_deadlines() -> None:
    case = convened().case
    moved = ask(case, "assign", Who("cc", "supervisor", STREET), 2, "redo", text="改派", payload={"lead": COMMUNITY})
    assert moved.case.lead == COMMUNITY and not moved.case.consultation.is_open
    assert not [k for k in open_deadlines(moved.case) if k[0] is DueKind.CONSULTATION_OPINION]


def test_the_district_convenes_on_behalf_of_the_cases_street_and_the_history_says_so() -> None:
    case = ask(opened(MATTER).case, "accept", lead(opened(MATTER).case), 0.5, "accept-1").case
    payload = {"invited": [POLICE, STREET, CM_DEPARTMENT], "opinions_by": h(4).isoformat()}
    changed = ask(case, "convene", BY_DISTRICT, 1, "convene-d", text="区指挥中心代街道会商", payload=payload)
    assert not refusals(changed)
    held = changed.case.consultation
    assert held.convener == STREET and held.convened_by == "d-1"  # the street's consultation, the district asked
    assert held.invited == (POLICE, CM_DEPARTMENT)  # not the street it convenes for
    (entry,) = entries(changed)
    assert entry.action == "convene" and entry.actor == BY_DISTRICT
    assert entry.detail["convener"] == STREET and entry.detail["on_behalf_of"] == STREET
    assert {(n.assignee, n.role) for n in notices(changed)} == {(p, "consultation_invited") for p in held.invited}
    by_street = ask(case, "convene", BY_STREET, 1, "convene-s", text="街道会商", payload=payload)
    assert "on_behalf_of" not in entries(by_street)[0].detail  # a street convening itself acts for nobody

    answered = ask(changed.case, "give_opinion", invitee(POLICE), 2, "o1", text="公安牵头")
    assert {(n.assignee, n.role) for n in notices(answered)} == {(STREET, "consultation_opinion")}
    decided = ask(answered.case, "record_outcome", BY_DISTRICT, 3, "r1", text="公安牵头", payload={"lead": POLICE})
    assert not refusals(decided) and decided.case.lead == POLICE
    outcome = entries(decided)[0]
    assert outcome.action == "record_outcome" and outcome.actor == BY_DISTRICT
    assert outcome.detail["convener"] == STREET and outcome.detail["on_behalf_of"] == STREET
    street_decides = ask(answered.case, "record_outcome", BY_STREET, 3, "r2", text="x", payload={"lead": POLICE})
    assert not refusals(street_decides) and "on_behalf_of" not in entries(street_decides)[0].detail


def test_the_district_records_no_outcome_of_a_communitys_consultation() -> None:
    case = ask(opened(MATTER).case, "accept", lead(opened(MATTER).case), 0.5, "accept-1").case
    held = ask(case, "convene", BY_COMMUNITY, 1, "c1", text="社区会商", payload={"invited": [POLICE]}).case
    refused = ask(held, "record_outcome", BY_DISTRICT, 2, "r1", text="x", payload={"lead": POLICE})
    assert codes(refused) == ["not_convener"]  # it acts for the case's street only
