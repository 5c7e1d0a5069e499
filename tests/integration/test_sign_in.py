"""People signing in to intake on the real PostgreSQL and Kafka: passwords, lockout, refresh, sign-out, revocation,
and every refusal of a person's token with its own problem type."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import jwt
import pytest

from shared.people.passwords import hash_password
from shared.people.sessions import signing_key
from shared.people.tokens import issue
from tests.case_rows import insert_case
from tests.sign_in_fixtures import *  # noqa: F403
from tests.sign_in_fixtures import MICRO_GRID, OTHER_GRID, PASSWORD, SignInStack

pytestmark = pytest.mark.infra

GRID = "unit:610199004001"  # the micro-grid's grid


def _unsigned(claims: dict[str, object]) -> str:
    """A token with `alg: none`: its claims would be ours, but nothing signs them."""
    part = [jwt.utils.base64url_encode(json.dumps(x).encode()).decode() for x in ({"alg": "none"}, claims)]
    return f"{part[0]}.{part[1]}."


def _type(response: object) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]  # type: ignore[attr-defined]


async def _audit(stack: SignInStack, person_id: str) -> list[str]:
    rows = await stack.pool.fetch("SELECT event FROM people_audit WHERE person_id = $1 ORDER BY id", person_id)
    return [r["event"] for r in rows]


async def test_a_person_signs_in_with_username_or_phone_and_is_who_the_token_says(stack: SignInStack) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    person_id, username = await stack.person(name="李网格", phone=phone, roles=[("grid_worker", MICRO_GRID)])
    response = await stack.sign_in(username.upper())  # a username in any case
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["person"] == {"id": person_id, "name": "李网格", "roles": [{"role": "grid_worker", "unit": MICRO_GRID}]}
    by_phone = await stack.signed(phone)
    assert by_phone.body["person"]["id"] == person_id and by_phone.body["session_id"] != body["session_id"]

    me = (await stack.http.get("/v1/me", headers=by_phone.headers)).json()
    assert me["source"] == "person" and me["units"] == [MICRO_GRID]
    assert me["person"]["id"] == person_id and me["person"]["name"] == "李网格"
    (role,) = me["person"]["roles"]
    assert role["role"] == "grid_worker" and role["level"] == "micro_grid" and role["name"]  # the unit's name
    assert await _audit(stack, person_id) == ["sign_in", "sign_in"]


async def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(stack: SignInStack) -> None:
    _, username = await stack.person()
    wrong = await stack.sign_in(username, "Not-the-password-1")
    unknown = await stack.sign_in(f"nobody-{uuid.uuid4().hex[:8]}", "Not-the-password-1")
    no_password_set = await stack.sign_in((await stack.person(password=None))[1], "Not-the-password-1")
    assert wrong.status_code == unknown.status_code == no_password_set.status_code == 401
    assert wrong.json() == unknown.json() == no_password_set.json()
    assert _type(wrong) == "invalid_credentials"
    assert "www-authenticate" in wrong.headers


async def test_lockout_after_five_failures_then_it_expires(stack: SignInStack) -> None:
    person_id, username = await stack.person()
    for _ in range(stack.auth.lockout_after):
        assert (await stack.sign_in(username, "Not-the-password-1")).status_code == 401
    locked = await stack.sign_in(username)  # even the right password, while locked
    assert locked.status_code == 429 and _type(locked) == "account_locked"
    assert int(locked.headers["retry-after"]) == 15 * 60
    audit = await _audit(stack, person_id)
    assert audit == ["sign_in_failed"] * 5 + ["locked"]

    stack.clock.advance(minutes=14)
    assert _type(await stack.sign_in(username)) == "account_locked"
    stack.clock.advance(minutes=1, seconds=1)
    assert (await stack.sign_in(username)).status_code == 200
    row = await stack.pool.fetchrow("SELECT failed_sign_ins, locked_until FROM persons WHERE id = $1", person_id)
    assert (row["failed_sign_ins"], row["locked_until"]) == (0, None)


async def test_failures_short_of_the_limit_are_forgotten_after_a_good_sign_in(stack: SignInStack) -> None:
    _, username = await stack.person()
    for _ in range(stack.auth.lockout_after - 1):
        await stack.sign_in(username, "Not-the-password-1")
    assert (await stack.sign_in(username)).status_code == 200
    for _ in range(stack.auth.lockout_after - 1):
        await stack.sign_in(username, "Not-the-password-1")
    assert (await stack.sign_in(username)).status_code == 200  # not locked: the count started again


async def test_sign_in_attempts_are_rate_limited_per_login_and_address(stack: SignInStack) -> None:
    _, username = await stack.person()
    answers = [(await stack.sign_in(username, "Not-the-password-1")).status_code for _ in range(12)]
    assert answers[-1] == 429
    refused = await stack.sign_in(username)
    assert refused.status_code == 429 and _type(refused) == "rate_limited" and "retry-after" in refused.headers
    _, other = await stack.person()
    assert (await stack.sign_in(other)).status_code == 200  # another login name is not held up


async def test_a_refresh_rotates_and_a_reused_one_revokes_the_session(stack: SignInStack) -> None:
    person_id, username = await stack.person()
    first = await stack.signed(username)
    second = await stack.http.post("/v1/auth/refresh", json={"refresh_token": first.refresh})
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    renewed = second.json()
    assert renewed["session_id"] == first.body["session_id"] and renewed["refresh_token"] != first.refresh
    assert renewed["person"]["id"] == person_id
    ok = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await stack.http.get("/v1/me", headers=ok)).status_code == 200

    reused = await stack.http.post("/v1/auth/refresh", json={"refresh_token": first.refresh})
    assert reused.status_code == 401 and _type(reused) == "token_revoked"
    after = await stack.http.get("/v1/me", headers=ok)  # the whole session went: its access tokens too
    assert after.status_code == 401 and _type(after) == "token_revoked"
    assert "refresh_reuse" in await _audit(stack, person_id)
    unknown = await stack.http.post("/v1/auth/refresh", json={"refresh_token": "gdr_made-up"})
    assert unknown.status_code == 401 and _type(unknown) == "token_invalid"


async def test_after_sign_out_the_access_and_refresh_tokens_are_refused(stack: SignInStack) -> None:
    person_id, username = await stack.person()
    signed = await stack.signed(username)
    assert (await stack.http.post("/v1/auth/sign-out", headers=signed.headers)).status_code == 204
    me = await stack.http.get("/v1/me", headers=signed.headers)
    assert me.status_code == 401 and _type(me) == "token_revoked"
    again = await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})
    assert again.status_code == 401 and _type(again) == "token_revoked"
    assert (await _audit(stack, person_id))[-1] == "signed_out"


async def test_an_idle_session_cannot_be_refreshed(stack: SignInStack) -> None:
    _, username = await stack.person()
    signed = await stack.signed(username)
    stack.clock.advance(minutes=stack.auth.idle_minutes + 1)
    idle = await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})
    assert idle.status_code == 401 and _type(idle) == "token_revoked"


async def test_a_disabled_person_is_refused_at_sign_in_and_on_the_next_request(stack: SignInStack) -> None:
    person_id, username = await stack.person()
    signed = await stack.signed(username)
    await stack.pool.execute("UPDATE persons SET status = 'disabled' WHERE id = $1", person_id)
    refused = await stack.http.get("/v1/me", headers=signed.headers)
    assert refused.status_code == 401 and _type(refused) == "person_disabled"
    again = await stack.sign_in(username)
    assert again.status_code == 401 and _type(again) == "person_disabled"
    wrong = await stack.sign_in(username, "Not-the-password-1")  # without the password, nothing is told
    assert _type(wrong) == "invalid_credentials"
    refresh = await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})
    assert refresh.status_code == 401 and _type(refresh) == "person_disabled"


async def test_a_role_change_takes_effect_on_the_next_request(stack: SignInStack) -> None:
    person_id, username = await stack.person(roles=[("grid_worker", MICRO_GRID)])
    async with stack.pool.acquire() as conn:
        other = await insert_case(conn, lead=OTHER_GRID, scope_keys=[OTHER_GRID, "unit:610199004", "unit:610199"])
        mine = await insert_case(conn, lead=MICRO_GRID, scope_keys=[MICRO_GRID, GRID, "unit:610199004"])
    signed = await stack.signed(username)
    assert (await stack.http.get(f"/v1/cases/{mine}", headers=signed.headers)).status_code == 200
    elsewhere = await stack.http.get(f"/v1/cases/{other}", headers=signed.headers)
    assert elsewhere.status_code == 404  # another grid's case: as if it did not exist

    await stack.pool.execute(
        "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, 'grid_worker', $2, 'tests')",
        person_id,
        OTHER_GRID,
    )
    assert (await stack.http.get(f"/v1/cases/{other}", headers=signed.headers)).status_code == 200
    await stack.pool.execute("DELETE FROM person_roles WHERE person_id = $1", person_id)
    gone = await stack.http.get(f"/v1/cases/{mine}", headers=signed.headers)
    assert gone.status_code == 403  # no role left: no read scope at all


async def test_tampered_garbled_expired_and_foreign_tokens_are_refused_with_their_codes(stack: SignInStack) -> None:
    _, username = await stack.person()
    signed = await stack.signed(username)
    head, claims, signature = signed.access.split(".")
    tampered_claims = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(claims).replace(b'"sub":"', b'"sub":"x')
    ).decode()
    key = await signing_key(stack.pool, stack.auth)
    now = stack.clock()
    payload = {
        "aud": key.audience,
        "sub": signed.body["person"]["id"],
        "sid": signed.body["session_id"],
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 600,
        "jti": "x",
    }
    cases = {
        "token_invalid": [
            f"{head}.{tampered_claims}.{signature}",
            f"{head}.{claims}.{signature[:-4]}AAAA",
            "not-a-token-at-all",
            jwt.encode({**payload, "iss": key.issuer}, "another key of thirty-two characters!", algorithm="HS256"),
            _unsigned({**payload, "iss": key.issuer}),
            jwt.encode({"iss": key.issuer, "aud": key.audience}, key.secret, algorithm="HS256"),  # no sub, sid...
        ],
        "token_wrong_issuer": [
            jwt.encode({**payload, "iss": "https://elsewhere.example"}, key.secret, algorithm="HS256"),
            jwt.encode({**payload, "iss": key.issuer, "aud": "billing"}, key.secret, algorithm="HS256"),
        ],
    }
    for code, tokens in cases.items():
        for token in tokens:
            response = await stack.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401 and _type(response) == code, (code, response.text)
            assert token not in response.text
    unknown_session = issue(key, signed.body["person"]["id"], uuid.uuid4(), now=now, lifetime=timedelta(minutes=5))
    response = await stack.http.get("/v1/me", headers={"Authorization": f"Bearer {unknown_session}"})
    assert _type(response) == "token_revoked"

    assert (await stack.http.get("/v1/me", headers=signed.headers)).status_code == 200
    stack.clock.advance(minutes=15, seconds=1)
    expired = await stack.http.get("/v1/me", headers=signed.headers)
    assert expired.status_code == 401 and _type(expired) == "token_expired"
    renewed = await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})
    assert renewed.status_code == 200  # the session lives on: refreshing is what an expired token asks for


async def test_sessions_are_listed_and_ended_by_their_person_or_an_administrator(stack: SignInStack) -> None:
    person_id, username = await stack.person()
    phone_session = await stack.signed(username)
    stack.clock.advance(seconds=1)
    desk_session = await stack.signed(username)
    listed = (await stack.http.get("/v1/auth/sessions", headers=desk_session.headers)).json()["items"]
    assert [(s["id"], s["current"], s["state"]) for s in listed] == [
        (desk_session.body["session_id"], True, "live"),
        (phone_session.body["session_id"], False, "live"),
    ]
    end = await stack.http.delete(f"/v1/auth/sessions/{phone_session.body['session_id']}", headers=desk_session.headers)
    assert end.status_code == 204
    assert _type(await stack.http.get("/v1/me", headers=phone_session.headers)) == "token_revoked"
    assert (await stack.http.get("/v1/me", headers=desk_session.headers)).status_code == 200

    _, stranger = await stack.person()
    theirs = await stack.signed(stranger)
    not_mine = await stack.http.delete(f"/v1/auth/sessions/{theirs.body['session_id']}", headers=desk_session.headers)
    assert not_mine.status_code == 404

    system = await stack.key("read", "act")
    assert _type(await stack.http.get("/v1/auth/sessions", headers=system)) == "not_a_person"
    url = f"/v1/admin/people/{person_id}/sessions"
    assert (await stack.http.delete(url, headers=system)).status_code == 403
    assert (await stack.http.delete(url, headers=desk_session.headers)).status_code == 403
    admin = await stack.key("admin")
    revoked = await stack.http.delete(url, headers=admin)
    assert revoked.status_code == 200 and revoked.json() == {"person_id": person_id, "revoked": 1}
    assert _type(await stack.http.get("/v1/me", headers=desk_session.headers)) == "token_revoked"
    assert (await stack.http.delete("/v1/admin/people/nobody-here/sessions", headers=admin)).status_code == 404
    assert (await _audit(stack, person_id)).count("session_revoked") == 2


async def test_an_old_hash_is_replaced_at_sign_in(stack: SignInStack) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    person_id, username = await stack.person(password_hash=weak)
    assert (await stack.sign_in(username)).status_code == 200
    stored = await stack.pool.fetchval("SELECT password_hash FROM persons WHERE id = $1", person_id)
    assert stored != weak and stored.startswith(hash_password(PASSWORD)[:30])


async def test_bad_sign_in_bodies_are_422(stack: SignInStack) -> None:
    for body in ({}, {"login": "a"}, {"login": "", "password": "x"}):
        response = await stack.http.post("/v1/auth/sign-in", json=body)
        assert response.status_code == 422, (body, response.text)
    nul = await stack.http.post("/v1/auth/sign-in", json={"login": "a\x00b", "password": "x"})
    assert nul.status_code == 400 and nul.json()["field"] == "login", nul.text  # text PostgreSQL cannot store
    long = await stack.http.post("/v1/auth/sign-in", json={"login": "a", "password": "p" * 2000})
    assert long.status_code == 422 and "p" * 50 not in long.text
