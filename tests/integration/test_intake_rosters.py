"""The roster API on the real database: set a unit's weekly shifts, swap a person, read who is on duty; only a
command centre (or an administrator) of the unit's area changes it; bad input is a 4xx problem, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.intake_fixtures import IntakeUnderTest
from tests.people_rows import People

STREET = "unit:610199004"
COMMUNITY = "unit:610199004001"
OTHER_COMMUNITY = "unit:610199001001"


@pytest.fixture
async def people(intake: IntakeUnderTest) -> AsyncIterator[People]:
    rows = People(intake.pool)
    try:
        yield rows
    finally:
        await rows.clean()


def day_and_night(day: str, night: str) -> dict[str, object]:
    return {
        "shifts": [
            {"name": "day", "start": "08:00", "end": "20:00", "persons": [day]},
            {"name": "night", "start": "20:00", "end": "08:00", "days": "every", "persons": [night]},
        ]
    }


async def test_a_command_centre_sets_a_roster_and_reads_who_is_on_duty(intake: IntakeUnderTest, people: People) -> None:
    day = await people.add("day", ("duty_officer", COMMUNITY))
    night = await people.add("night", ("duty_officer", COMMUNITY))
    spare = await people.add("spare", ("duty_officer", COMMUNITY))
    people.units.add(COMMUNITY)
    centre = await intake.caller("read", "supervise", units=(STREET,))
    put = await intake.http.put(f"/v1/units/{COMMUNITY}/roster", json=day_and_night(day, night), headers=centre.headers)
    assert put.status_code == 200, put.text
    shifts = put.json()["shifts"]
    assert [(s["name"], s["start"], s["end"], s["crosses_midnight"]) for s in shifts] == [
        ("day", "08:00", "20:00", False),
        ("night", "20:00", "08:00", True),
    ]
    got = await intake.http.get(f"/v1/units/{COMMUNITY}/roster", headers=centre.headers)
    assert got.json() == put.json()

    async def on_duty(at: str) -> dict[str, object]:
        r = await intake.http.get(f"/v1/units/{COMMUNITY}/on-duty", params={"at": at}, headers=centre.headers)
        assert r.status_code == 200, r.text
        return r.json()

    three = await on_duty("2026-03-04T03:00:00+08:00")
    assert [p["id"] for p in three["on_duty"]] == [night] and three["responsible"]["id"] == night
    assert three["why"] == "on_duty" and three["responsible"]["name"] == "测试night"
    assert [p["id"] for p in (await on_duty("2026-03-04T10:00:00+08:00"))["on_duty"]] == [day]
    assert [p["id"] for p in (await on_duty("2026-03-04T02:00:00Z"))["on_duty"]] == [day]  # 10:00 in Xi'an

    swap = {"first": "2026-03-04", "replaced": night, "by": spare, "reason": "病假"}
    posted = await intake.http.post(f"/v1/units/{COMMUNITY}/roster/swaps", json=swap, headers=centre.headers)
    assert posted.status_code == 201, posted.text
    assert posted.json()["swaps"] == [
        {"first": "2026-03-04", "last": "2026-03-04", "replaced": night, "by": spare, "reason": "病假"}
    ]
    assert [p["id"] for p in (await on_duty("2026-03-05T03:00:00+08:00"))["on_duty"]] == [spare]  # 4th's night
    assert [p["id"] for p in (await on_duty("2026-03-04T03:00:00+08:00"))["on_duty"]] == [night]  # 3rd's night
    stored = await intake.pool.fetchval("SELECT created_by FROM roster_swaps WHERE unit = $1", COMMUNITY)
    assert stored == f"client:{centre.client.id}"
    await intake.pool.execute("DELETE FROM roster_swaps WHERE unit = $1", COMMUNITY)


async def test_nobody_on_duty_says_so(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read", units=(STREET,))
    unit = "unit:610199004002"
    r = await intake.http.get(f"/v1/units/{unit}/on-duty", headers=reader.headers)
    assert r.status_code == 200 and r.json()["on_duty"] == [] and r.json()["responsible"] is None
    assert r.json()["why"] == "nobody"


async def test_roster_changes_need_supervise_within_the_area(intake: IntakeUnderTest, people: People) -> None:
    day = await people.add("day", ("duty_officer", COMMUNITY))
    body = day_and_night(day, day)
    reader = await intake.caller("read", units=(STREET,))
    r = await intake.http.put(f"/v1/units/{COMMUNITY}/roster", json=body, headers=reader.headers)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    elsewhere = await intake.caller("read", "supervise", units=("unit:610199001",))
    for method, path in (("put", "roster"), ("get", "roster"), ("get", "on-duty")):
        kwargs = {"json": body} if method == "put" else {}
        r = await getattr(intake.http, method)(f"/v1/units/{COMMUNITY}/{path}", headers=elsewhere.headers, **kwargs)
        assert r.status_code == 404, (method, path, r.text)  # outside its area: as if it did not exist


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"shifts": [{"start": "08:00", "end": "20:00", "persons": []}]}, 422, None),
        ({"shifts": [{"start": "25:00", "end": "20:00", "persons": ["x"]}]}, 422, None),
        ({"shifts": [{"start": "08:00", "end": "20:00", "persons": ["x"], "weekdays": [7]}]}, 422, None),
        ({"shifts": [{"start": "08:00", "end": "20:00", "persons": ["x"], "days": "sometimes"}]}, 422, None),
        ({"shifts": [{"start": "08:00", "end": "20:00", "persons": ["nobody-by-this-id"]}]}, 422, "unknown_person"),
        ({"shifts": [], "extra": 1}, 422, None),
    ],
)
async def test_bad_rosters_are_refused_with_a_reason(
    intake: IntakeUnderTest, body: dict[str, object], status: int, code: str | None
) -> None:
    centre = await intake.caller("read", "supervise", units=(STREET,))
    r = await intake.http.put(f"/v1/units/{COMMUNITY}/roster", json=body, headers=centre.headers)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["type"].endswith(f"/{code}")


async def test_persons_must_belong_to_the_unit_and_units_must_exist(intake: IntakeUnderTest, people: People) -> None:
    outsider = await people.add("x", ("duty_officer", OTHER_COMMUNITY))
    admin = await intake.caller("read", "admin", units=("*",))
    r = await intake.http.put(
        f"/v1/units/{COMMUNITY}/roster", json=day_and_night(outsider, outsider), headers=admin.headers
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/not_in_unit") and r.json()["persons"] == [outsider]
    swap = {"first": "2026-03-04", "replaced": outsider, "by": outsider}
    r = await intake.http.post(f"/v1/units/{COMMUNITY}/roster/swaps", json=swap, headers=admin.headers)
    assert r.status_code == 422
    r = await intake.http.get(f"/v1/units/unit:9{uuid.uuid4().hex[:8]}/roster", headers=admin.headers)
    assert r.status_code == 404
    r = await intake.http.get("/v1/units/nonsense/roster", headers=admin.headers)
    assert r.status_code == 422
    r = await intake.http.get(
        f"/v1/units/{COMMUNITY}/on-duty", params={"at": "2026-03-04T03:00"}, headers=admin.headers
    )
    assert r.status_code == 422 and r.json()["field"] == "at"


async def test_the_units_with_nobody_on_duty_are_listed_with_who_answers_instead(
    intake: IntakeUnderTest, people: People
) -> None:
    street = "unit:610199003"  # a street no other test gives rosters
    below = await intake.pool.fetch(
        """WITH RECURSIVE below (code, level) AS (
               SELECT code, level FROM registry_units WHERE version_id = (SELECT version_id FROM registry_active)
               AND code = '610199003'
               UNION SELECT u.code, u.level FROM registry_units u JOIN below b ON u.parent = b.code
               WHERE u.version_id = (SELECT version_id FROM registry_active))
           SELECT 'unit:' || code AS unit FROM below WHERE level <> 'micro_grid'"""
    )
    expected = {r["unit"] for r in below}
    assert len(expected) == 17  # the street, its 4 communities and 12 grids; the micro-grids never
    centre = await intake.caller("read", "supervise", units=(street,))

    async def uncovered() -> dict[str, dict[str, object]]:
        r = await intake.http.get(
            "/v1/duty/uncovered", params={"at": "2026-03-04T10:00:00+08:00"}, headers=centre.headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == len(body["items"])
        return {i["unit"]: i for i in body["items"]}

    before = await uncovered()
    assert set(before) == expected  # no roster anywhere here yet: nobody on duty, outside the area never listed
    grid = sorted(u for u in expected if len(u) == len("unit:610199003001001"))[0]
    head = await intake.pool.fetchval(
        "SELECT person_id FROM person_roles WHERE unit = $1 AND role = 'grid_head' ORDER BY person_id LIMIT 1", grid
    )
    assert before[grid]["why"] == "head" and before[grid]["answered_by"]["id"] == head  # the registry's grid head
    community = sorted(u for u in expected if len(u) == len("unit:610199003001"))[0]
    assert before[community]["why"] == "nobody" and before[community]["answered_by"] is None

    officer = await people.add("officer", ("duty_officer", community))
    put = await intake.http.put(
        f"/v1/units/{community}/roster",
        json={"shifts": [{"name": "day", "start": "08:00", "end": "20:00", "persons": [officer]}]},
        headers=centre.headers,
    )
    assert put.status_code == 200, put.text
    people.units.add(community)
    after = await uncovered()
    assert set(after) == expected - {community}  # on duty at 10:00
    r = await intake.http.get("/v1/duty/uncovered", params={"at": "2026-03-04T22:00:00+08:00"}, headers=centre.headers)
    assert community in {i["unit"] for i in r.json()["items"]}  # nobody on the night


async def test_uncovered_needs_a_time_zone(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read", units=(STREET,))
    r = await intake.http.get("/v1/duty/uncovered", params={"at": "2026-03-04T10:00:00"}, headers=reader.headers)
    assert r.status_code == 422 and r.json()["field"] == "at"
