"""A case led by the district command centre misses its deadlines: it stays, uncounted, and is re-alerted.

Through the dispatch runtime on the real broker and database: the district has no rung above it, so each missed
accept-by leaves the case where it is, with the same escalation count, a `realert` in its history and on the
case-events topic (which notify streams to the district), and a fresh accept-by of the same length.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import CloudEvent, new_event
from shared.events.types import DeadlineFired
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import events_for

pytestmark = pytest.mark.infra

DISTRICT = "unit:610199"


async def _district_led(dispatch: DispatchUnderTest) -> str:
    """A fresh case whose missed accept-by deadlines climbed it rung by rung to the district command centre."""
    event = await dispatch.report()
    await dispatch.feed(event)
    for _ in range(6):
        lead = (await dispatch.case(event.subject))["lead"]
        if lead == DISTRICT:
            return event.subject
        await dispatch.feed(await _missed(dispatch, event.subject, lead), dispatch.runtime.topics.deadlines)
    raise AssertionError(f"the case did not reach the district: {lead}")


async def _missed(dispatch: DispatchUnderTest, case_id: str, party: str) -> CloudEvent[DeadlineFired]:
    """The escalate tier of the party's open accept-by deadline, as escalation fires it."""
    row = await dispatch.pool.fetchrow(
        "SELECT deadline_id, due_at FROM deadlines WHERE case_id = $1 AND kind = 'accept' AND party = $2"
        " AND status = 'open'",
        uuid.UUID(case_id),
        party,
    )
    assert row is not None, f"no open accept-by deadline for {party}"
    event = dispatch.fired(case_id, party)
    data = event.data.model_copy(update={"deadline_id": str(row["deadline_id"]), "due_at": row["due_at"]})
    return new_event(data, source="/tests", subject=case_id)


async def _accept_deadlines(dispatch: DispatchUnderTest, case_id: str) -> list[dict[str, object]]:
    rows = await dispatch.pool.fetch(
        "SELECT status, starts_at, due_at FROM deadlines WHERE case_id = $1 AND kind = 'accept' AND party = $2"
        " ORDER BY created_at",
        uuid.UUID(case_id),
        DISTRICT,
    )
    return [dict(r) for r in rows]


async def test_a_district_missing_accept_by_twice_keeps_the_case_and_is_re_alerted(
    dispatch: DispatchUnderTest,
) -> None:
    case_id = await _district_led(dispatch)
    topics = dispatch.runtime.topics
    before = await dispatch.case(case_id)
    climbed = json.loads(before["progress"])["escalations"]
    assert climbed >= 1 and before["state"] == "assigned"
    (first,) = await _accept_deadlines(dispatch, case_id)
    allowance = first["due_at"] - first["starts_at"]  # type: ignore[operator]

    for missed_times in (1, 2):
        fired = await _missed(dispatch, case_id, DISTRICT)
        await dispatch.feed(fired, topics.deadlines)
        await dispatch.feed(fired, topics.deadlines)  # redelivered: re-alerted once
        case = await dispatch.case(case_id)
        assert case["lead"] == DISTRICT and case["state"] == "assigned"
        assert json.loads(case["progress"])["escalations"] == climbed  # nowhere to climb: not counted
        history = await dispatch.history(case_id)
        assert history.count("realert") == missed_times and history[-1] == "realert"
        deadlines = await _accept_deadlines(dispatch, case_id)
        assert [d["status"] for d in deadlines] == ["void"] * missed_times + ["open"]
        fresh = deadlines[-1]
        assert fresh["due_at"] - fresh["starts_at"] == allowance  # type: ignore[operator]
        assert fresh["due_at"] > datetime.now(UTC)  # type: ignore[operator]
        assert case["accept_by"] == fresh["due_at"]

    published = await events_for(dispatch.kafka, topics.case_events, case_id)
    realerts = [e for e in published if e.data.action == "realert"]
    assert len(realerts) == 2  # one notice per miss, to the district's stream through notify
    assert all(e.data.lead == DISTRICT and e.data.from_state == e.data.to_state == "assigned" for e in realerts)
    assert realerts[0].data.detail["rules"] == ["escalate.at_top", "escalate.realert"]
    assert realerts[-1].data.detail["escalations"] == climbed
