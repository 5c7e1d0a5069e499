"""Single sign-on against the real OpenID Connect provider (panva's oidc-provider, started by the tests): a person
signs in at the provider's form and lands in the console with the roles the token's claims name; every refusal."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from prometheus_client import REGISTRY

from services.intake.main import create_app
from shared.kafka import ensure_topics
from shared.people import oidc_store
from shared.people.oidc_claims import Identity, subject_key
from shared.people.oidc_client import OidcProviderUnavailable, OidcRefused, RelyingParty
from shared.registry_store import import_directory
from shared.settings import DatabaseSettings, IntakeSettings, KafkaSettings, OidcSettings, ServiceSettings
from shared.topics import Topics
from tests.intake_fixtures import SAMPLE
from tests.oidc_fixtures import CALLBACK, INTAKE_BASE, OidcProvider, free_port, sign_in

pytestmark = pytest.mark.infra

SIGNED_IN = "griddispatch_sign_ins_total"

GRID = "unit:610199001001001"
COMMUNITY = "unit:610199001001"
STREET = "unit:610199001"


async def _me(intake: Intake, tokens: dict[str, str]) -> dict[str, Any]:
    """GET /v1/me with the access token the console was handed."""
    async with intake.browser() as browser:
        me = await browser.get(f"{INTAKE_BASE}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    body: dict[str, Any] = me.json()
    return body


@dataclass
class Intake:
    app: FastAPI
    pool: asyncpg.Pool

    def browser(self) -> httpx.AsyncClient:
        """A browser of its own (its own cookies): intake through ASGI, the provider over real HTTP."""
        return httpx.AsyncClient(mounts={f"{INTAKE_BASE}": httpx.ASGITransport(app=self.app)}, timeout=30)


@pytest.fixture(scope="module")
async def intake_sso(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, oidc_provider: OidcProvider
) -> AsyncIterator[Intake]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-{uuid.uuid4().hex[:6]}"})
    await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    sso = OidcSettings(
        issuer=oidc_provider.issuer,
        client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret,
        redirect_uri=CALLBACK,
    )
    app = create_app(
        kafka, database_settings, ServiceSettings(), IntakeSettings(public_url=INTAKE_BASE), single_sign_on=sso
    )
    async with app.router.lifespan_context(app):
        pool = app.state.resources.pool
        async with pool.acquire() as conn:
            await import_directory(conn, SAMPLE, imported_by="tests")
        yield Intake(app, pool)


def _id() -> str:
    return uuid.uuid4().hex[:10]


async def _person(pool: asyncpg.Pool, username: str, *, status: str = "active") -> str:
    person_id = f"p-{_id()}"
    await pool.execute(
        "INSERT INTO persons (id, name, username, status) VALUES ($1, $2, $3, $4)",
        person_id,
        f"Person {username}",
        username,
        status,
    )
    return person_id


async def _roles(pool: asyncpg.Pool, person_id: str, source: str = "oidc") -> set[str]:
    rows = await pool.fetch(
        "SELECT role, unit FROM person_roles WHERE person_id = $1 AND source = $2", person_id, source
    )
    return {f"{r['role']}@{r['unit']}" for r in rows}


async def _audit(pool: asyncpg.Pool, person_id: str | None = None, reason: str | None = None) -> list[dict[str, Any]]:
    """The audit rows about a person, or the sign-in failures of a reason, oldest first, with detail decoded."""
    if reason is not None:
        rows = await pool.fetch(
            "SELECT * FROM people_audit WHERE event = 'sign_in_failed' AND detail->>'reason' = $1 ORDER BY id", reason
        )
    else:
        rows = await pool.fetch("SELECT * FROM people_audit WHERE person_id = $1 ORDER BY id", person_id)
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def _fragment(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    assert parts.path == "/console/" and parts.query == "", location  # tokens never in the query
    head, _, rest = parts.fragment.partition("&")
    assert head == "signed_in", location
    return {k: v[0] for k, v in parse_qs(rest).items()}


def _account(oidc_provider: OidcProvider, login: str, roles: list[str], **claims: str) -> str:
    password = f"pw-{_id()}"
    oidc_provider.put_account(
        login, password, sub=f"sub-{login}", name=f"Name {login}", griddispatch_roles=roles, **claims
    )
    return password


async def test_a_person_signs_in_at_the_provider_and_lands_in_the_console_with_the_roles_of_the_claims(
    intake_sso: Intake, oidc_provider: OidcProvider
) -> None:
    login = f"worker-{_id()}"
    person_id = await _person(intake_sso.pool, login)
    roles = [
        f"grid_worker@{GRID}",
        f"duty_officer@{COMMUNITY}",
        "wizard@unit:610199",  # an unknown role
        "grid_worker@nowhere",  # a malformed unit
        "administrator@*",  # not trusted from tokens by default
    ]
    password = _account(oidc_provider, login, roles, phone_number="13800138000")
    signed_in_before = REGISTRY.get_sample_value(SIGNED_IN, {"method": "oidc", "outcome": "ok"}) or 0
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password)
    assert trail.final.status_code == 303
    assert REGISTRY.get_sample_value(SIGNED_IN, {"method": "oidc", "outcome": "ok"}) == signed_in_before + 1
    tokens = _fragment(trail.final.headers["location"])
    assert tokens["access_token"] and tokens["refresh_token"] and int(tokens["expires_in"]) > 0
    assert trail.final.headers["cache-control"] == "no-store"

    linked = await intake_sso.pool.fetchval("SELECT oidc_subject FROM persons WHERE id = $1", person_id)
    assert linked == f"{oidc_provider.issuer}|sub-{login}"
    assert await _roles(intake_sso.pool, person_id) == {f"grid_worker@{GRID}", f"duty_officer@{COMMUNITY}"}
    audit = await _audit(intake_sso.pool, person_id)
    granted = sorted(f"{r['detail']['role']}@{r['detail']['unit']}" for r in audit if r["event"] == "role_granted")
    assert granted == [f"duty_officer@{COMMUNITY}", f"grid_worker@{GRID}"]
    assert all(r["actor"] == "oidc" for r in audit if r["event"] in ("role_granted", "oidc_linked"))
    assert "oidc_linked" in [r["event"] for r in audit]

    body = await _me(intake_sso, tokens)
    assert body["name"] == f"Person {login}"
    assert set(body["units"]) == {GRID, COMMUNITY}
    assert "supervise" in body["scopes"] and "admin" not in body["scopes"]
    sign_in_row = await intake_sso.pool.fetchrow(
        "SELECT * FROM people_audit WHERE person_id = $1 AND event = 'sign_in'", person_id
    )
    assert json.loads(sign_in_row["detail"])["method"] == "oidc"


async def test_a_second_sign_in_replaces_the_roles_the_first_brought_and_keeps_the_others(
    intake_sso: Intake, oidc_provider: OidcProvider
) -> None:
    login = f"officer-{_id()}"
    person_id = await _person(intake_sso.pool, login)
    await intake_sso.pool.execute(
        "INSERT INTO person_roles (person_id, role, unit, source, granted_by) VALUES ($1, 'grid_head', $2, 'manual', 't')",
        person_id,
        GRID,
    )
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}", f"duty_officer@{COMMUNITY}"])
    async with intake_sso.browser() as browser:
        assert (await sign_in(browser, login, password)).final.status_code == 303
    assert await _roles(intake_sso.pool, person_id) == {f"grid_worker@{GRID}", f"duty_officer@{COMMUNITY}"}

    password = _account(oidc_provider, login, [f"duty_officer@{STREET}", f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password)
    assert trail.final.status_code == 303
    assert await _roles(intake_sso.pool, person_id) == {f"grid_worker@{GRID}", f"duty_officer@{STREET}"}
    assert await _roles(intake_sso.pool, person_id, "manual") == {f"grid_head@{GRID}"}
    changes = [
        (r["event"], r["detail"]["role"], r["detail"]["unit"])
        for r in await _audit(intake_sso.pool, person_id)
        if r["event"] in ("role_granted", "role_revoked")
    ]
    assert changes == [
        ("role_granted", "duty_officer", COMMUNITY),
        ("role_granted", "grid_worker", GRID),
        ("role_revoked", "duty_officer", COMMUNITY),
        ("role_granted", "duty_officer", STREET),
    ]

    body = await _me(intake_sso, _fragment(trail.final.headers["location"]))
    assert set(body["units"]) == {GRID, STREET}


async def test_a_state_used_once_is_refused_the_second_time(intake_sso: Intake, oidc_provider: OidcProvider) -> None:
    login = f"replay-{_id()}"
    await _person(intake_sso.pool, login)
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True)
        assert trail.callback_url is not None
        first = await browser.get(trail.callback_url)
        assert first.status_code == 303 and "#signed_in&" in first.headers["location"]
        again = await browser.get(trail.callback_url)
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["type"].endswith("/oidc_state_unknown")
    failed = await _audit(intake_sso.pool, reason="oidc_state_unknown")
    assert failed and failed[-1]["detail"]["method"] == "oidc" and failed[-1]["actor"] == "oidc"


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())))


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({"code": "forged-code"}, "oidc_code_refused"),
        ({"state": "forged-state"}, "oidc_state_unknown"),
        ({"iss": "http://evil.example"}, "oidc_issuer_mismatch"),
    ],
)
async def test_a_tampered_callback_is_refused(
    intake_sso: Intake, oidc_provider: OidcProvider, tamper: dict[str, str], code: str
) -> None:
    login = f"tamper-{_id()}"
    person_id = await _person(intake_sso.pool, login)
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True)
        assert trail.callback_url is not None
        refused = await browser.get(_with(trail.callback_url, **tamper))
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"].endswith(f"/{code}")
    assert "forged-code" not in refused.text
    assert await _roles(intake_sso.pool, person_id) == set()
    assert await _audit(intake_sso.pool, reason=code)


async def test_a_callback_in_another_browser_is_refused(intake_sso: Intake, oidc_provider: OidcProvider) -> None:
    login = f"csrf-{_id()}"
    await _person(intake_sso.pool, login)
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as attacker:
        trail = await sign_in(attacker, login, password, stop_at_callback=True)
    assert trail.callback_url is not None
    async with intake_sso.browser() as victim:
        refused = await victim.get(trail.callback_url)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/oidc_browser_mismatch")


async def test_an_expired_sign_in_is_refused(intake_sso: Intake, oidc_provider: OidcProvider) -> None:
    login = f"slow-{_id()}"
    await _person(intake_sso.pool, login)
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True)
        assert trail.callback_url is not None
        state = parse_qs(urlsplit(trail.callback_url).query)["state"][0]
        await intake_sso.pool.execute(
            "UPDATE oidc_logins SET expires_at = now() - interval '1 s' WHERE state = $1", state
        )
        refused = await browser.get(trail.callback_url)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/oidc_state_expired")


async def test_an_id_token_with_another_sign_ins_nonce_is_refused(
    intake_sso: Intake, oidc_provider: OidcProvider
) -> None:
    """The provider's real ID token carries the nonce this sign-in sent; the one kept is made another's."""
    login = f"nonce-{_id()}"
    person_id = await _person(intake_sso.pool, login)
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True)
        assert trail.callback_url is not None
        state = parse_qs(urlsplit(trail.callback_url).query)["state"][0]
        await intake_sso.pool.execute("UPDATE oidc_logins SET nonce = 'another' WHERE state = $1", state)
        refused = await browser.get(trail.callback_url)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/oidc_nonce_mismatch")
    assert await _roles(intake_sso.pool, person_id) == set()


async def test_a_sign_in_cancelled_at_the_provider_is_refused(intake_sso: Intake, oidc_provider: OidcProvider) -> None:
    login = f"cancel-{_id()}"
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True, cancel=True)
        assert trail.callback_url is not None and "error=access_denied" in trail.callback_url
        refused = await browser.get(trail.callback_url)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/oidc_provider_error")


async def test_a_disabled_person_and_an_unknown_account_are_refused(
    intake_sso: Intake, oidc_provider: OidcProvider
) -> None:
    login = f"gone-{_id()}"
    person_id = await _person(intake_sso.pool, login, status="disabled")
    password = _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, password, stop_at_callback=True)
        assert trail.callback_url is not None
        refused = await browser.get(trail.callback_url)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/person_disabled")
    assert await _roles(intake_sso.pool, person_id) == set()
    failed = [r for r in await _audit(intake_sso.pool, person_id) if r["event"] == "sign_in_failed"]
    assert failed and failed[-1]["detail"]["reason"] == "person_disabled"

    stranger = f"stranger-{_id()}"  # no person of that username, and persons are not created from tokens
    password = _account(oidc_provider, stranger, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, stranger, password)
    assert trail.final.status_code == 403
    assert trail.final.json()["type"].endswith("/oidc_person_unknown")
    assert await intake_sso.pool.fetchval("SELECT count(*) FROM persons WHERE username = $1", stranger) == 0


async def test_a_wrong_password_at_the_provider_never_reaches_griddispatch(
    intake_sso: Intake, oidc_provider: OidcProvider
) -> None:
    login = f"typo-{_id()}"
    _account(oidc_provider, login, [f"grid_worker@{GRID}"])
    async with intake_sso.browser() as browser:
        trail = await sign_in(browser, login, "not-the-password")
    assert trail.final.status_code == 401 and trail.callback_url is None
    assert "wrong password" in trail.final.text


async def test_an_id_token_signed_by_another_key_is_refused(oidc_provider: OidcProvider) -> None:
    """The provider's real JWKS: a token with its issuer, audience and nonce but someone else's key fails."""
    settings = OidcSettings(
        issuer=oidc_provider.issuer, client_id=oidc_provider.client_id, client_secret=oidc_provider.client_secret
    )
    rp = RelyingParty(settings, CALLBACK)
    try:
        jwks = httpx.get(f"{oidc_provider.issuer}/jwks").json()
        now = int(time.time())
        claims = {
            "iss": oidc_provider.issuer,
            "aud": oidc_provider.client_id,
            "sub": "x",
            "nonce": "n",
            "iat": now,
            "exp": now + 300,
        }
        # a kid the provider never had, then the provider's own kid on someone else's key
        for kid in ("forged", jwks["keys"][0]["kid"]):
            key = RSAKey.generate_key(2048, parameters={"kid": kid})
            forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, key)
            with pytest.raises(OidcRefused) as refused:
                await rp.id_token_claims(forged, nonce="n")
            assert refused.value.code == "oidc_id_token_invalid"
        # and a token signed with the client secret (HS256), as if the secret could vouch for a person
        hs = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(oidc_provider.client_secret.encode()))
        with pytest.raises(OidcRefused):
            await rp.id_token_claims(hs, nonce="n")
    finally:
        await rp.aclose()


async def test_a_provider_that_does_not_answer_is_a_503_not_a_500() -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    rp = RelyingParty(OidcSettings(issuer=issuer, client_secret="s", http_timeout_s=2), CALLBACK)
    try:
        with pytest.raises(OidcProviderUnavailable):
            await rp.authorization_url(state="s", nonce="n", code_verifier="v" * 43)
    finally:
        await rp.aclose()


async def test_accounts_are_linked_by_subject_then_username_and_created_only_when_allowed(intake_sso: Intake) -> None:
    username = f"new-{_id()}"
    identity = Identity(subject_key("http://idp.test", f"s-{username}"), username, "新人", "13900139000")
    async with intake_sso.pool.acquire() as conn, conn.transaction():
        assert await oidc_store.find_or_link_person(conn, identity, create=False) is None
        created = await oidc_store.find_or_link_person(conn, identity, create=True)
        assert created is not None and created.how == "created"
        again = await oidc_store.find_or_link_person(conn, identity, create=True)
        assert again is not None and (again.id, again.how) == (created.id, "linked")
        row = await conn.fetchrow("SELECT source, name, username, phone FROM persons WHERE id = $1", created.id)
        assert dict(row) == {"source": "oidc", "name": "新人", "username": username, "phone": "13900139000"}
        # Another account with the same username does not take over the person already linked.
        other = Identity(subject_key("http://idp.test", f"other-{username}"), username, None, None)
        assert await oidc_store.find_or_link_person(conn, other, create=True) is None
