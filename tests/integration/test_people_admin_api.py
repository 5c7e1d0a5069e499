"""/v1/admin/people through intake's real app on the real PostgreSQL, with the sample district imported."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import schemathesis

from shared.people.passwords import verify
from tests.intake_fixtures import Caller, IntakeUnderTest
from tests.integration.test_intake_fuzz import BASE_URL, CONFIG, Fuzzer, _operations, _session

pytestmark = pytest.mark.infra

PEOPLE = "/v1/admin/people"
STREET = "unit:610199004"  # 西关街道
GRID = "unit:610199004001001"  # a grid in it
OTHER_GRID = "unit:610199001001001"  # a grid of another street
BRANCH = "branch:city_management-610199004"


def _id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def _admin(intake: IntakeUnderTest, *extra: str, units: tuple[str, ...] = ("*",)) -> Caller:
    return await intake.caller("admin", *extra, units=units, source=None, name="people admin")


async def _add(intake: IntakeUnderTest, caller: Caller, **body: Any) -> dict[str, Any]:
    response = await intake.http.post(PEOPLE, json={"id": _id(), "name": "测试人", **body}, headers=caller.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"/{code}"), response.json()


async def test_create_read_and_refuse_a_duplicate(intake: IntakeUnderTest) -> None:
    admin = await _admin(intake)
    pid, username = _id(), f"u{uuid.uuid4().hex[:8]}"
    created = await intake.http.post(
        PEOPLE,
        json={"id": pid, "name": "王芳", "username": username.upper(), "phone": "139 1234 5678",
              "roles": [{"role": "grid_worker", "unit": GRID}]},
        headers=admin.headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == pid and body["username"] == username and body["source"] == "manual"
    assert body["phone"] == "139****5678"  # no personal_data scope
    assert [(r["role"], r["unit"], r["granted_by"]) for r in body["roles"]] == [
        ("grid_worker", GRID, f"client:{admin.client.id}")
    ]
    assert body["scopes"] == ["act", "read", "submit"] and body["has_password"] is False

    fetched = await intake.http.get(f"{PEOPLE}/{pid}", headers=admin.headers)
    assert fetched.status_code == 200 and fetched.json() == body
    _problem(
        await intake.http.post(PEOPLE, json={"id": pid, "name": "又一个"}, headers=admin.headers), 409, "person_exists"
    )
    taken = await intake.http.post(PEOPLE, json={"name": "x", "username": username}, headers=admin.headers)
    _problem(taken, 409, "username_taken")
    _problem(await intake.http.get(f"{PEOPLE}/{_id()}", headers=admin.headers), 404, "not_found")


async def test_bad_roles_units_and_passwords_are_refused_with_their_codes(intake: IntakeUnderTest) -> None:
    admin = await _admin(intake)
    bad_role = await intake.http.post(
        PEOPLE, json={"name": "x", "roles": [{"role": "mayor", "unit": GRID}]}, headers=admin.headers
    )
    _problem(bad_role, 422, "unknown_role")
    unknown_unit = await intake.http.post(
        PEOPLE, json={"name": "x", "roles": [{"role": "grid_worker", "unit": "unit:999"}]}, headers=admin.headers
    )
    _problem(unknown_unit, 422, "unknown_unit")
    bad_form = await intake.http.post(
        PEOPLE, json={"name": "x", "roles": [{"role": "grid_worker", "unit": "610199"}]}, headers=admin.headers
    )
    assert bad_form.status_code == 422 and bad_form.json()["field"] == "roles.0.unit"
    _problem(await intake.http.get(PEOPLE, params={"role": "mayor"}, headers=admin.headers), 422, "unknown_role")

    person = await _add(intake, admin, username=f"u{uuid.uuid4().hex[:8]}")
    url = f"{PEOPLE}/{person['id']}/password"
    for weak in ("short1", "onlyletterslong", person["username"] + "-12345"):
        response = await intake.http.post(url, json={"password": weak}, headers=admin.headers)
        _problem(response, 422, "weak_password")
        assert weak not in response.text
    assert (
        await intake.http.post(url, json={"password": "violet-Harbour-42"}, headers=admin.headers)
    ).status_code == 204
    async with intake.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM persons WHERE id = $1", person["id"])
    assert verify(stored, "violet-Harbour-42") and not verify(stored, "violet-Harbour-42 ")
    spaced = await intake.http.post(url, json={"password": "  spaces kept 7 "}, headers=admin.headers)
    assert spaced.status_code == 204
    async with intake.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM persons WHERE id = $1", person["id"])
    assert verify(stored, "  spaces kept 7 ")  # taken as typed, never stripped
    after = (await intake.http.get(f"{PEOPLE}/{person['id']}", headers=admin.headers)).json()
    assert after["has_password"] is True and after["password_changed_at"] is not None
    audit = await intake.http.get(f"{PEOPLE}/{person['id']}/audit", headers=admin.headers)
    assert [a["event"] for a in audit.json()["items"]] == ["password_set", "password_set", "created"]
    assert "violet" not in audit.text


async def test_grants_and_revocations_are_audited(intake: IntakeUnderTest) -> None:
    admin = await _admin(intake)
    person = await _add(intake, admin, roles=[{"role": "grid_worker", "unit": GRID}])
    roles = f"{PEOPLE}/{person['id']}/roles"
    granted = await intake.http.post(roles, json={"role": "grid_head", "unit": GRID}, headers=admin.headers)
    assert granted.status_code == 200 and {r["role"] for r in granted.json()["roles"]} == {"grid_head", "grid_worker"}
    revoked = await intake.http.delete(roles, params={"role": "grid_worker", "unit": GRID}, headers=admin.headers)
    assert revoked.status_code == 200 and [r["role"] for r in revoked.json()["roles"]] == ["grid_head"]
    put = await intake.http.put(
        roles, json={"roles": [{"role": "department_handler", "unit": BRANCH}]}, headers=admin.headers
    )
    assert [(r["role"], r["unit"]) for r in put.json()["roles"]] == [("department_handler", BRANCH)]

    items = (await intake.http.get(f"{PEOPLE}/{person['id']}/audit", headers=admin.headers)).json()["items"]
    trail = [(a["event"], a["detail"].get("role"), a["actor"]) for a in items]
    me = f"client:{admin.client.id}"
    assert trail == [
        ("role_granted", "department_handler", me),
        ("role_revoked", "grid_head", me),
        ("role_revoked", "grid_worker", me),
        ("role_granted", "grid_head", me),
        ("role_granted", "grid_worker", me),
        ("created", None, me),
    ]

    registry_person = f"{GRID.removeprefix('unit:')}-p1"  # the sample's grid head, from the registry
    from_registry = await intake.http.delete(
        f"{PEOPLE}/{registry_person}/roles", params={"role": "grid_head", "unit": GRID}, headers=admin.headers
    )
    _problem(from_registry, 409, "registry_role")


async def test_phones_are_masked_without_personal_data(intake: IntakeUnderTest) -> None:
    plain, trusted = await _admin(intake), await _admin(intake, "personal_data")
    person = await _add(intake, plain, phone="13912345678")
    url = f"{PEOPLE}/{person['id']}"
    assert (await intake.http.get(url, headers=plain.headers)).json()["phone"] == "139****5678"
    assert (await intake.http.get(url, headers=trusted.headers)).json()["phone"] == "13912345678"
    listed = await intake.http.get(PEOPLE, params={"q": "13912345678"}, headers=plain.headers)
    assert person["id"] in [p["id"] for p in listed.json()["items"]]
    assert "13912345678" not in listed.text


async def test_patch_disables_and_listing_filters_and_pages(intake: IntakeUnderTest) -> None:
    admin = await _admin(intake)
    person = await _add(intake, admin, phone="13700001111", roles=[{"role": "grid_worker", "unit": GRID}])
    url = f"{PEOPLE}/{person['id']}"
    patched = await intake.http.patch(
        url, json={"status": "disabled", "name": "改名", "phone": None}, headers=admin.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["name"], patched.json()["phone"]) == ("disabled", "改名", None)
    disabled = await intake.http.get(PEOPLE, params={"status": "disabled", "limit": 500}, headers=admin.headers)
    assert person["id"] in [p["id"] for p in disabled.json()["items"]]
    events = [a["event"] for a in (await intake.http.get(f"{url}/audit", headers=admin.headers)).json()["items"]]
    assert events[:2] == ["disabled", "updated"]
    assert (await intake.http.patch(url, json={"status": "gone"}, headers=admin.headers)).status_code == 422
    cleared = await intake.http.patch(url, json={"name": None}, headers=admin.headers)
    assert cleared.status_code == 422 and cleared.json()["field"] == "name"
    other = await _add(intake, admin, username=f"u{uuid.uuid4().hex[:8]}")
    taken = await intake.http.patch(url, json={"username": other["username"].upper()}, headers=admin.headers)
    _problem(taken, 409, "username_taken")

    seen: list[str] = []
    cursor = None
    while True:
        params = {"role": "grid_head", "limit": 20, **({"cursor": cursor} if cursor else {})}
        page = (await intake.http.get(PEOPLE, params=params, headers=admin.headers)).json()
        seen += [p["id"] for p in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) >= 48 and seen == sorted(seen)


async def test_a_street_administrator_manages_only_its_own_people(intake: IntakeUnderTest) -> None:
    everything = await _admin(intake)
    street = await _admin(intake, units=(STREET,))
    inside = await _add(intake, everything, roles=[{"role": "grid_worker", "unit": GRID}])
    outside = await _add(intake, everything, roles=[{"role": "grid_worker", "unit": OTHER_GRID}])
    both = await _add(
        intake, everything, roles=[{"role": "grid_worker", "unit": GRID}, {"role": "duty_officer", "unit": "*"}]
    )

    assert (await intake.http.get(f"{PEOPLE}/{inside['id']}", headers=street.headers)).status_code == 200
    for unseen in (
        intake.http.get(f"{PEOPLE}/{outside['id']}", headers=street.headers),
        intake.http.get(f"{PEOPLE}/{outside['id']}/audit", headers=street.headers),
        intake.http.patch(f"{PEOPLE}/{outside['id']}", json={"status": "disabled"}, headers=street.headers),
        intake.http.post(f"{PEOPLE}/{outside['id']}/password", json={"password": "violet-Harbour-42"},
                         headers=street.headers),
    ):  # fmt: skip
        _problem(await unseen, 404, "not_found")
    listed = (await intake.http.get(PEOPLE, params={"limit": 500}, headers=street.headers)).json()["items"]
    ids = {p["id"] for p in listed}
    assert inside["id"] in ids and both["id"] in ids and outside["id"] not in ids
    assert all(any(r["unit"].startswith(STREET) for r in p["roles"]) for p in listed)

    seen_not_managed = await intake.http.patch(f"{PEOPLE}/{both['id']}", json={"name": "x"}, headers=street.headers)
    _problem(seen_not_managed, 403, "outside_area")
    outside_grant = await intake.http.post(
        f"{PEOPLE}/{inside['id']}/roles", json={"role": "grid_head", "unit": OTHER_GRID}, headers=street.headers
    )
    _problem(outside_grant, 403, "outside_area")
    whole = await intake.http.post(
        f"{PEOPLE}/{inside['id']}/roles", json={"role": "grid_head", "unit": "*"}, headers=street.headers
    )
    _problem(whole, 403, "outside_area")
    _problem(await intake.http.post(PEOPLE, json={"name": "无角色"}, headers=street.headers), 403, "outside_area")

    branch = await intake.http.post(
        f"{PEOPLE}/{inside['id']}/roles", json={"role": "department_handler", "unit": BRANCH}, headers=street.headers
    )
    _problem(branch, 403, "outside_area")  # a branch belongs to its department, not to the street it covers
    community = "unit:610199004001"
    ok = await intake.http.post(
        f"{PEOPLE}/{inside['id']}/roles", json={"role": "duty_officer", "unit": community}, headers=street.headers
    )
    assert ok.status_code == 200, ok.text
    created = await intake.http.post(
        PEOPLE, json={"name": "新网格员", "roles": [{"role": "grid_worker", "unit": GRID}]}, headers=street.headers
    )
    assert created.status_code == 201, created.text


async def test_without_the_admin_scope_or_a_key(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read", "act", units=("*",))
    _problem(await intake.http.get(PEOPLE, headers=reader.headers), 403, "forbidden")
    _problem(await intake.http.post(PEOPLE, json={"name": "x"}, headers=reader.headers), 403, "forbidden")
    _problem(await intake.http.get(PEOPLE), 401, "unauthenticated")


ADMIN_OPERATIONS = [label for label in _operations() if " /v1/admin/people" in label]


@pytest.mark.parametrize("label", ADMIN_OPERATIONS)
async def test_schemathesis_as_an_administrator(intake: IntakeUnderTest, label: str) -> None:
    """The fuzzer of test_intake_fuzz.py, with a key that has the admin scope, so requests reach the store."""
    admin = await intake.caller("admin", "personal_data", rate_per_min=1_000_000, name="fuzzing admin")
    transport = httpx.ASGITransport(app=intake.app, raise_app_exceptions=False)  # a crash is the 500 it sends
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60) as http:
        session = _session(http, asyncio.get_running_loop())
        fuzzer = Fuzzer(schemathesis.openapi.from_dict(intake.app.openapi(), config=CONFIG), session, admin.headers)
        try:
            failures = await asyncio.to_thread(fuzzer.run, label)
        finally:
            session.close()
    assert fuzzer.sent > 0
    assert not failures, f"{len(failures)} failure(s) after {fuzzer.sent} requests:\n\n" + "\n\n".join(failures)
