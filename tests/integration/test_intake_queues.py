"""My queue (我的待办) and my units' queue on the real database and broker, and claiming a case through the actions
API into dispatch. Until sign-in lands, the signed-in person is built with `principal_of` in a dependency override
of these routes' tests only; a system's API key has no queue (403 `no_person`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.deps import current_client
from shared.people.model import Person, RoleGrant, RoleName
from shared.people.principal import principal_of
from tests.case_rows import insert_case
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import IntakeUnderTest, events_for
from tests.people_rows import People, until_snapshot

MG = "unit:610199004001001006"
GRID = "unit:610199004001001"
KEYS = [MG, GRID, "unit:610199004001", "unit:610199004", "unit:610199"]


@pytest.fixture
async def people(intake: IntakeUnderTest) -> AsyncIterator[People]:
    rows = People(intake.pool)
    try:
        yield rows
    finally:
        await rows.clean()


@contextmanager
def signed_in(intake: IntakeUnderTest, person: Person) -> Iterator[dict[str, str]]:
    """Requests made as this person (the principal sign-in will build from a token), for this test only."""
    principal = principal_of(person, signed_in_at=datetime.now(UTC), rate_per_min=10_000)
    intake.app.dependency_overrides[current_client] = lambda: principal
    try:
        yield {}
    finally:
        intake.app.dependency_overrides.pop(current_client, None)


async def test_my_queue_lists_my_open_cases_due_soonest_first_with_colours(intake: IntakeUnderTest) -> None:
    me, colleague = f"gw-{uuid.uuid4().hex[:8]}", f"gw-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    async with intake.pool.acquire() as conn:
        later = await insert_case(
            conn, lead=GRID, lead_person=me, persons=[me], accept_by=now + timedelta(hours=5), scope_keys=KEYS
        )
        sooner = await insert_case(
            conn, lead=GRID, lead_person=me, persons=[me], accept_by=now + timedelta(minutes=30),
            received_at=now - timedelta(hours=2), scope_keys=KEYS,
        )  # fmt: skip
        overdue = await insert_case(
            conn, state="accepted", lead=GRID, lead_person=colleague, persons=[colleague, me],
            part_persons=json.dumps({MG: me}), resolve_by=now - timedelta(minutes=1), scope_keys=KEYS,
        )  # fmt: skip
        await insert_case(conn, state="resolved", lead=GRID, lead_person=me, persons=[me], scope_keys=KEYS)  # done
        await insert_case(conn, lead=GRID, lead_person=colleague, persons=[colleague], scope_keys=KEYS)  # not mine
        await insert_case(conn, lead="unit:610199001001", lead_person=me, persons=[me])  # outside my units: hidden
    person = Person(me, "测试网格员", roles=(RoleGrant(RoleName.GRID_WORKER, GRID),))
    with signed_in(intake, person):
        r = await intake.http.get("/v1/me/queue")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person"] == me
    assert [i["case_id"] for i in body["items"]] == [str(overdue), str(sooner), str(later)]
    first = body["items"][0]
    assert first["deadlines"]["overdue"] is True and first["responsible"]["parts"] == {MG: me}
    assert body["items"][2]["deadlines"]["warning"] in ("blue", "none")  # no deadline rows: nothing running
    assert body["items"][1]["responsible"] == {
        "lead": me,
        "lead_name": None,
        "parts": {},
        "part_names": {},
        "unstaffed": False,
    }  # fmt: skip  (no person rows here: no names)


async def test_my_units_queue_lists_what_my_units_lead_or_assist(intake: IntakeUnderTest) -> None:
    unit = f"unit:Q{uuid.uuid4().hex[:6]}"
    async with intake.pool.acquire() as conn:
        led = await insert_case(conn, lead=unit, scope_keys=[unit])
        helped = await insert_case(conn, lead=GRID, assisting=[unit], scope_keys=[GRID, unit])
        await insert_case(conn, lead=GRID, scope_keys=[GRID])
    person = Person("head-" + uuid.uuid4().hex[:6], "测试", roles=(RoleGrant(RoleName.GRID_HEAD, unit),))
    with signed_in(intake, person):
        r = await intake.http.get("/v1/me/unit-queue")
    assert r.status_code == 200, r.text
    assert {i["case_id"] for i in r.json()["items"]} == {str(led), str(helped)} and r.json()["units"] == [unit]
    assert all(i["responsible"]["unstaffed"] for i in r.json()["items"] if i["assignment"]["lead"] == unit)


async def test_an_api_key_without_a_person_has_no_queue(intake: IntakeUnderTest) -> None:
    system = await intake.caller("read", units=("*",))
    for path in ("/v1/me/queue", "/v1/me/unit-queue"):
        r = await intake.http.get(path, headers=system.headers)
        assert r.status_code == 403 and r.json()["type"].endswith("/no_person"), r.text


async def test_unstaffed_cases_are_listed_for_the_console(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        nobody = await insert_case(conn, lead=GRID)
        staffed = await insert_case(conn, lead=GRID, lead_person="p", persons=["p"])
    centre = await intake.caller("read", "supervise", units=("unit:610199004",))
    r = await intake.http.get("/v1/cases/unstaffed", params={"limit": 500}, headers=centre.headers)
    ids = {i["case_id"] for i in r.json()["items"]}
    assert str(nobody) in ids and str(staffed) not in ids


async def test_a_person_claims_a_case_through_the_actions_api_and_dispatch_applies_it(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest, people: People
) -> None:
    first = await people.add("a", ("grid_worker", MG))
    second = await people.add("b", ("grid_worker", MG))
    await until_snapshot(lambda: dispatch.runtime.people.snapshot, lambda s: {first, second} <= s.active)
    event = await dispatch.report(matter_code="sanitation", title="垃圾没人清运", description="楼下垃圾堆了三天")
    await dispatch.feed(event)
    case_id = event.subject
    assert (await dispatch.case(case_id))["lead"] == MG

    person = Person(second, "测试b", roles=(RoleGrant(RoleName.GRID_WORKER, MG),))
    principal = principal_of(person, signed_in_at=datetime.now(UTC), rate_per_min=1)
    async with intake.pool.acquire() as conn:  # action_requests names its client: the person's row until sign-in lands
        await conn.execute(
            """INSERT INTO api_clients (id, name, key_prefix, key_hash, scopes, units)
               VALUES ($1, $2, 'person', $3, '{}', '{}') ON CONFLICT DO NOTHING""",
            principal.id, person.name, f"no-key-{principal.id}",
        )  # fmt: skip
    with signed_in(intake, person):
        no_person = await intake.http.post(
            f"/v1/cases/{case_id}/actions", json={"action": "hand_over", "actor": {"id": second, "unit": MG}}
        )
        r = await intake.http.post(
            f"/v1/cases/{case_id}/actions", json={"action": "claim", "actor": {"id": second, "unit": MG}}
        )
    assert no_person.status_code == 422  # hand_over needs the person and a reason
    assert r.status_code == 202, r.text
    (requested,) = [e for e in await events_for(intake.kafka, intake.topics.actions, case_id)]
    assert requested.data.action == "claim" and requested.data.actor.role == "assignee"
    await dispatch.feed(requested, dispatch.runtime.topics.actions)  # the action topic, relayed to this dispatch
    row = await dispatch.case(case_id)
    assert row["lead_person"] == second and second in row["persons"]
    detail = await intake.http.get(f"/v1/cases/{case_id}", headers=(await intake.caller("read", units=("*",))).headers)
    assert detail.json()["responsible"]["lead"] == second
    assert detail.json()["history"][-1]["action"] == "claim"
