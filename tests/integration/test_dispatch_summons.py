"""A summoned department that does not report in, through the dispatch runtime on the real broker and database.

The part climbs the ladder one deadline at a time (branch → department → district command centre), each rung
with a report-in deadline of its own; a redelivered deadline changes nothing; whoever reports in settles it.
"""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest

pytestmark = pytest.mark.infra

BRANCH, DEPARTMENT = "branch:market_supervision-610199004", "department:market_supervision"
DISTRICT = "unit:610199"


async def _summoned(dispatch: DispatchUnderTest) -> tuple[str, str]:
    event = await dispatch.report()
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    topics = dispatch.runtime.topics
    await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", case["lead"]), topics.actions)
    street = "unit:" + case["place"][:9]
    summon = dispatch.action(
        event.subject, "summon", "supervisor", street, payload={"departments": ["market_supervision"]}
    )
    await dispatch.feed(summon, topics.actions)
    return event.subject, case["lead"]


async def _missed(dispatch: DispatchUnderTest, case_id: str, party: str) -> CloudEvent[DeadlineFired]:
    """The escalate tier of the party's open report-in deadline, as escalation fires it."""
    row = await dispatch.pool.fetchrow(
        "SELECT deadline_id, due_at FROM deadlines WHERE case_id = $1 AND kind = 'report_in' AND party = $2"
        " AND status = 'open'",
        uuid.UUID(case_id),
        party,
    )
    assert row is not None, f"no open report-in deadline for {party}"
    event = dispatch.fired(case_id, party, kind="report_in")
    data = event.data.model_copy(update={"deadline_id": str(row["deadline_id"]), "due_at": row["due_at"]})
    return new_event(data, source="/tests", subject=case_id)


async def _owing(dispatch: DispatchUnderTest, case_id: str) -> set[str]:
    return set(json.loads((await dispatch.case(case_id))["progress"])["owing"])


async def test_a_missed_part_climbs_the_ladder_and_stops_at_the_district(dispatch: DispatchUnderTest) -> None:
    case_id, lead = await _summoned(dispatch)
    assert (await dispatch.case(case_id))["place"].startswith("610199004")
    assert BRANCH in await _owing(dispatch, case_id)
    topics = dispatch.runtime.topics
    missed = await _missed(dispatch, case_id, BRANCH)
    await dispatch.feed(missed, topics.deadlines)
    await dispatch.feed(missed, topics.deadlines)  # redelivered: the same step, once
    assert (await dispatch.history(case_id)).count("escalate_part") == 1
    case = await dispatch.case(case_id)
    assert case["state"] == "accepted" and case["lead"] == lead and DEPARTMENT in case["assisting"]
    assert {BRANCH, DEPARTMENT} <= await _owing(dispatch, case_id)
    assert "department:market_supervision" in case["scope_keys"]
    deadlines = await dispatch.deadlines(case_id)
    assert deadlines[("report_in", BRANCH)] == "void" and deadlines[("report_in", DEPARTMENT)] == "open"
    due = await dispatch.pool.fetchval(
        "SELECT due_at - starts_at FROM deadlines WHERE case_id = $1 AND party = $2", uuid.UUID(case_id), DEPARTMENT
    )
    assert due.total_seconds() == 24 * 3600  # a normal case: a summons' 24 hours

    await dispatch.feed(await _missed(dispatch, case_id, DEPARTMENT), topics.deadlines)
    assert {BRANCH, DEPARTMENT, DISTRICT} <= await _owing(dispatch, case_id)
    await dispatch.feed(await _missed(dispatch, case_id, DISTRICT), topics.deadlines)
    assert (await dispatch.history(case_id)).count("escalate_part") == 2  # the district cannot go higher
    assert (await dispatch.deadlines(case_id))[("report_in", DISTRICT)] == "open"  # it stays open: re-alerted

    late = dispatch.action(case_id, "report_in", "assisting", BRANCH, text="迟到报到，已处置")
    await dispatch.feed(late, topics.actions)  # the branch's late report settles the part all the way up
    assert not {BRANCH, DEPARTMENT, DISTRICT} & await _owing(dispatch, case_id)
    deadlines = await dispatch.deadlines(case_id)
    assert deadlines[("report_in", DISTRICT)] == "met"  # the last rung's deadline is met; the missed ones stay void
    assert deadlines[("report_in", BRANCH)] == deadlines[("report_in", DEPARTMENT)] == "void"


async def test_a_part_reported_before_its_deadline_fires_is_not_escalated(dispatch: DispatchUnderTest) -> None:
    case_id, _ = await _summoned(dispatch)
    topics = dispatch.runtime.topics
    missed = await _missed(dispatch, case_id, BRANCH)
    await dispatch.feed(dispatch.action(case_id, "report_in", "assisting", BRANCH, text="已到场"), topics.actions)
    await dispatch.feed(missed, topics.deadlines)  # fired just before the report landed: nothing to escalate
    assert "escalate_part" not in await dispatch.history(case_id)
    assert DEPARTMENT not in (await dispatch.case(case_id))["assisting"]


async def test_a_deadline_voided_by_a_new_assignment_escalates_nothing(dispatch: DispatchUnderTest) -> None:
    case_id, lead = await _summoned(dispatch)
    topics = dispatch.runtime.topics
    stale = await _missed(dispatch, case_id, BRANCH)
    await dispatch.feed(dispatch.fired(case_id, lead, kind="resolve"), topics.deadlines)  # the lead escalates
    case = await dispatch.case(case_id)
    assert case["lead"] != lead and BRANCH in await _owing(dispatch, case_id)  # owed again, under a new deadline
    await dispatch.feed(stale, topics.deadlines)  # the old report-in deadline's tier, delivered late
    assert "escalate_part" not in await dispatch.history(case_id)


async def test_the_district_summons_on_behalf_of_the_case_s_street(dispatch: DispatchUnderTest) -> None:
    event = await dispatch.report()
    await dispatch.feed(event)
    case = await dispatch.case(event.subject)
    topics = dispatch.runtime.topics
    await dispatch.feed(dispatch.action(event.subject, "accept", "assignee", case["lead"]), topics.actions)
    street = "unit:" + case["place"][:9]
    summon = dispatch.action(
        event.subject,
        "summon",
        "supervisor",
        DISTRICT,
        actor_id="duty-1",
        payload={"departments": ["market_supervision"]},
    )
    await dispatch.feed(summon, topics.actions)
    assert (await dispatch.history(event.subject))[-1] == "summon"  # applied, not rejected
    entry = await dispatch.pool.fetchrow(
        "SELECT actor, detail FROM case_events WHERE case_id = $1 AND action = 'summon'", uuid.UUID(event.subject)
    )
    assert json.loads(entry["actor"])["unit"] == DISTRICT
    assert json.loads(entry["detail"])["on_behalf_of"] == street  # the history says for whom
    assert BRANCH in await _owing(dispatch, event.subject)
    assert (await dispatch.deadlines(event.subject))[("report_in", BRANCH)] == "open"
