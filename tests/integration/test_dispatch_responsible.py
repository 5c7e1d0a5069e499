"""Personal assignment (派单到人) on the real database and broker: dispatch names the responsible person of every
assigned case from its people snapshot (reloaded when persons, roles or rosters change), moves it with re-dispatch
and escalation, and applies claim, hand-over and reassignment; a unit nobody answers for is flagged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone

import pytest

from shared.domain.lifecycle import IN_HANDLING
from shared.people.model import HEAD_ROLES
from shared.queries import cases
from shared.queries.states import values
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import events_for
from tests.people_rows import People, until_snapshot

CST = timezone(timedelta(hours=8))
MG = "unit:610199004001001006"  # the micro-grid of tests.dispatch_fixtures.POINT
GRID = "unit:610199004001001"
COMMUNITY = "unit:610199004001"


@pytest.fixture
async def people(dispatch: DispatchUnderTest) -> AsyncIterator[People]:
    rows = People(dispatch.pool)
    try:
        yield rows
    finally:
        await rows.clean()


@contextmanager
def clock_at(dispatch: DispatchUnderTest, moment: datetime) -> Iterator[None]:
    """Dispatch's clock at `moment` (its commands read no other): a shift boundary on demand."""
    before = dispatch.runtime.clock
    dispatch.runtime.clock = lambda: moment
    try:
        yield
    finally:
        dispatch.runtime.clock = before


async def seen(dispatch: DispatchUnderTest, *persons: str, roster: str | None = None) -> None:
    def holds(s):  # type: ignore[no-untyped-def]
        return set(persons) <= s.active and (roster is None or roster in s.rosters)

    await until_snapshot(lambda: dispatch.runtime.people.snapshot, holds)


async def first_head(dispatch: DispatchUnderTest, unit: str) -> str | None:
    """The unit's head a case falls back to: the first by id of its active heads (the registry's and the test's)."""
    found: str | None = await dispatch.pool.fetchval(
        """SELECT min(r.person_id) FROM person_roles r JOIN persons p ON p.id = r.person_id
           WHERE r.unit = $1 AND r.role = ANY($2::text[]) AND p.status = 'active'""",
        unit,
        sorted(HEAD_ROLES),
    )
    return found


async def reported(dispatch: DispatchUnderTest, **fields: object) -> str:
    """A report (by default sanitation at the micro-grid, a micro-grid matter) applied by dispatch: its case id."""
    fields = {"matter_code": "sanitation", "title": "垃圾没人清运", "description": "楼下垃圾堆了三天", **fields}
    event = await dispatch.report(**fields)
    await dispatch.feed(event)
    return event.subject


async def act(dispatch: DispatchUnderTest, case_id: str, action: str, role: str, unit: str | None, **kw: object):  # type: ignore[no-untyped-def]
    event = dispatch.action(case_id, action, role, unit, **kw)
    await dispatch.feed(event, dispatch.runtime.topics.actions)
    return event


async def test_a_micro_grid_case_gets_that_micro_grids_grid_worker(dispatch: DispatchUnderTest, people: People) -> None:
    worker = await people.add("gw", ("grid_worker", MG))
    await seen(dispatch, worker)
    case_id = await reported(dispatch)
    row = await dispatch.case(case_id)
    workers = await dispatch.pool.fetchval(
        """SELECT min(r.person_id) FROM person_roles r JOIN persons p ON p.id = r.person_id
           WHERE r.unit = $1 AND r.role = 'grid_worker' AND p.status = 'active'""",
        MG,
    )
    assert (
        row["lead"] == MG
        and row["lead_person"] == workers
        and worker in await dispatch.pool.fetchval("SELECT array_agg(person_id) FROM person_roles WHERE unit = $1", MG)
    )
    assert row["lead_person"] in row["persons"]
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, case_id)
    lead = [e.data for e in assigned if e.data.role == "lead"]
    assert lead and lead[0].person == row["lead_person"]
    changes = await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, case_id)
    assert [e.data.responsible for e in changes if e.data.action == "assign"] == [row["lead_person"]]


async def test_a_community_case_goes_to_the_night_shift_at_three_and_the_day_shift_at_ten(
    dispatch: DispatchUnderTest, people: People
) -> None:
    day = await people.add("day", ("duty_officer", COMMUNITY))
    night = await people.add("night", ("duty_officer", COMMUNITY))
    await people.roster(COMMUNITY, (time(8), time(20), [day]), (time(20), time(8), [night]))
    await seen(dispatch, day, night, roster=COMMUNITY)
    leads = {}
    for hour in (3, 7, 8, 10):
        moment = datetime(2026, 3, 4, hour, 0, tzinfo=CST)
        with clock_at(dispatch, moment):
            case_id = await reported(dispatch, matter_code="hardship_help", title="困难群众帮扶", received_at=moment)
        row = await dispatch.case(case_id)
        assert row["lead"] == COMMUNITY
        leads[hour] = row["lead_person"]
    assert leads == {3: night, 7: night, 8: day, 10: day}  # the hand-over at 08:00 sharp


async def test_a_redispatch_moves_the_responsible_person_to_the_new_leads(
    dispatch: DispatchUnderTest, people: People
) -> None:
    worker = await people.add("gw", ("grid_worker", MG))
    officer = await people.add("cc", ("duty_officer", COMMUNITY))
    await people.roster(COMMUNITY, (time(0), time(0), [officer]))
    await seen(dispatch, worker, officer, roster=COMMUNITY)
    case_id = await reported(dispatch)
    assert (await dispatch.case(case_id))["lead"] == MG
    await act(dispatch, case_id, "assign", "supervisor", "unit:610199004", text="改派社区", payload={"lead": COMMUNITY})
    row = await dispatch.case(case_id)
    assert (row["lead"], row["lead_person"]) == (COMMUNITY, officer)
    assert officer in row["persons"]


async def test_escalation_hands_the_case_to_the_grids_person_and_the_micro_grid_keeps_its_part(
    dispatch: DispatchUnderTest, people: People
) -> None:
    worker = await people.add("gw", ("grid_worker", MG))
    head = await people.add("gh", ("grid_head", GRID))
    await seen(dispatch, worker, head)
    case_id = await reported(dispatch)
    before = await dispatch.case(case_id)
    await act(dispatch, case_id, "escalate", "assignee", MG, actor_id=before["lead_person"], text="需要网格长协调")
    row = await dispatch.case(case_id)
    assert head in (await dispatch.pool.fetchval("SELECT array_agg(person_id) FROM person_roles WHERE unit = $1", GRID))
    assert (row["lead"], row["lead_person"]) == (GRID, await first_head(dispatch, GRID))  # no roster: its head
    assert json.loads(row["part_persons"])[MG] == before["lead_person"]


async def test_claim_hand_over_and_reassign_by_the_head(dispatch: DispatchUnderTest, people: People) -> None:
    first = await people.add("a", ("grid_worker", GRID))
    second = await people.add("b", ("grid_worker", GRID))
    head = await people.add("h", ("grid_head", GRID))
    outsider = await people.add("x", ("grid_worker", "unit:610199001001001"))
    await people.roster(GRID, (time(0), time(0), [first]))
    await seen(dispatch, first, second, head, outsider, roster=GRID)
    case_id = await reported(dispatch)
    mg_person = (await dispatch.case(case_id))["lead_person"]
    await act(dispatch, case_id, "escalate", "assignee", MG, actor_id=mg_person or "t", text="协调")
    assert (await dispatch.case(case_id))["lead_person"] == first

    await act(dispatch, case_id, "claim", "assignee", GRID, actor_id=second)
    assert (await dispatch.case(case_id))["lead_person"] == second
    refused = await act(
        dispatch, case_id, "hand_over", "assignee", GRID, actor_id=second, text="休假", payload={"person": outsider}
    )
    assert (await dispatch.case(case_id))["lead_person"] == second
    await act(dispatch, case_id, "hand_over", "assignee", GRID, actor_id=second, text="休假", payload={"person": first})
    assert (await dispatch.case(case_id))["lead_person"] == first
    await act(dispatch, case_id, "reassign", "assignee", GRID, actor_id=first, payload={"person": second})
    assert (await dispatch.case(case_id))["lead_person"] == first  # a worker may not reassign
    await act(dispatch, case_id, "reassign", "assignee", GRID, actor_id=head, payload={"person": second})
    row = await dispatch.case(case_id)
    assert row["lead_person"] == second and row["state"] == "assigned"  # no state change

    history = await dispatch.pool.fetch(
        "SELECT action, actor, detail FROM case_events WHERE case_id = $1 AND seq > 4 ORDER BY seq",
        uuid.UUID(case_id),
    )
    shown = [(h["action"], json.loads(h["actor"])["id"], json.loads(h["detail"]).get("person")) for h in history]
    assert shown[-5:] == [  # the trail names who did it, refusals included
        ("claim", second, second),
        ("rejected", second, None),
        ("hand_over", second, first),
        ("rejected", first, None),
        ("reassign", head, second),
    ]
    codes = [json.loads(h["detail"]).get("code") for h in history if h["action"] == "rejected"]
    assert codes == ["not_in_unit", "not_unit_head"]
    rejected = [
        e
        for e in await events_for(dispatch.kafka, dispatch.runtime.topics.case_events, case_id)
        if e.type.value.endswith("action.rejected.v1")
    ]
    assert {e.data.action_event_id for e in rejected} >= {refused.id}


async def test_nobody_on_duty_falls_back_to_the_head_and_without_a_head_the_case_is_flagged(
    dispatch: DispatchUnderTest, people: People
) -> None:
    officer = await people.add("cc", ("duty_officer", COMMUNITY))
    await people.roster(COMMUNITY, (time(9), time(17), [officer]))
    await seen(dispatch, officer, roster=COMMUNITY)
    night = datetime(2026, 3, 4, 22, 0, tzinfo=CST)
    with clock_at(dispatch, night):
        nobody = await reported(dispatch, matter_code="hardship_help", title="困难群众帮扶", received_at=night)
    row = await dispatch.case(nobody)
    assert (row["lead"], row["lead_person"], row["persons"]) == (COMMUNITY, None, [])  # no head in a community
    flagged = await cases.unstaffed(dispatch.pool, None, values(IN_HANDLING), 10_000)
    assert uuid.UUID(nobody) in {r["case_id"] for r in flagged}
    assigned = await events_for(dispatch.kafka, dispatch.runtime.topics.assignments, nobody)
    assert [e.data.person for e in assigned if e.data.role == "lead"] == [None]

    head = await people.add("gh", ("grid_head", GRID))
    await seen(dispatch, head)
    with clock_at(dispatch, night):
        grid_case = await reported(dispatch, matter_code="hardship_help", title="困难群众帮扶", received_at=night)
        await act(
            dispatch, grid_case, "assign", "supervisor", "unit:610199004", text="改派网格", payload={"lead": GRID}
        )
    assert head and (await dispatch.case(grid_case))["lead_person"] == await first_head(dispatch, GRID)  # its head


async def test_a_disabled_person_stops_getting_cases_once_dispatch_hears_of_it(
    dispatch: DispatchUnderTest, people: People
) -> None:
    worker = await people.add("gw", ("grid_worker", MG))
    await seen(dispatch, worker)
    first = await dispatch.case(await reported(dispatch))
    assert first["lead_person"] is not None
    leaving = first["lead_person"]
    await dispatch.pool.execute("UPDATE persons SET status = 'disabled' WHERE id = $1", leaving)
    try:
        await until_snapshot(lambda: dispatch.runtime.people.snapshot, lambda s: leaving not in s.active)
        second = await dispatch.case(await reported(dispatch))
        assert second["lead"] == MG and second["lead_person"] != leaving
    finally:  # it may be the registry's person: as it was for the other tests
        await dispatch.pool.execute("UPDATE persons SET status = 'active' WHERE id = $1", leaving)


async def test_a_swap_puts_the_substitute_on_the_night_shift(dispatch: DispatchUnderTest, people: People) -> None:
    day = await people.add("day", ("duty_officer", COMMUNITY))
    night = await people.add("night", ("duty_officer", COMMUNITY))
    spare = await people.add("spare", ("duty_officer", COMMUNITY))
    await people.roster(COMMUNITY, (time(8), time(20), [day]), (time(20), time(8), [night]))
    await dispatch.pool.execute(
        """INSERT INTO roster_swaps (unit, first_day, last_day, replaced, by_person, reason, created_by)
           VALUES ($1, '2026-03-04', '2026-03-04', $2, $3, '病假', 'tests')""",
        COMMUNITY,
        night,
        spare,
    )
    await seen(dispatch, day, night, spare, roster=COMMUNITY)
    await until_snapshot(lambda: dispatch.runtime.people.snapshot, lambda s: bool(s.rosters[COMMUNITY].swaps))
    got = {}
    for label, moment in (
        ("night of the 3rd", datetime(2026, 3, 4, 3, 0, tzinfo=CST)),
        ("night of the 4th", datetime(2026, 3, 5, 3, 0, tzinfo=CST)),
    ):
        with clock_at(dispatch, moment):
            case_id = await reported(dispatch, matter_code="hardship_help", title="困难群众帮扶", received_at=moment)
        got[label] = (await dispatch.case(case_id))["lead_person"]
    assert got == {"night of the 3rd": night, "night of the 4th": spare}
