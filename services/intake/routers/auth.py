"""People signing in: POST /v1/auth/sign-in, /refresh, /sign-out; their sessions (GET, DELETE); and for an
administrator, ending all of a person's sessions (DELETE /v1/admin/people/{id}/sessions).

Tokens are in response bodies only, with Cache-Control: no-store; never in a log line, an audit row or an error.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.deps import Caller, Identity, Res, Resources
from services.intake.schemas import no_nul, problems
from shared.errors import Forbidden, NotFound, RateLimited, Unauthenticated
from shared.logging import get_logger
from shared.people import credentials, passwords, sessions
from shared.people.access import person_of_token
from shared.people.metrics import REFRESHES, SIGN_INS
from shared.people.model import Person
from shared.people.tokens import PersonDisabled

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["sign-in"], responses=problems(401, 403, 422, 429))

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"


class AccountLocked(RateLimited):
    code = "account_locked"


class NotAPerson(Forbidden):
    code = "not_a_person"


class SignInIn(BaseModel):
    """A login name (username, or the full phone number) and the password. Nothing is trimmed from a password."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=200, examples=["zhang.wei"])
    password: str = Field(min_length=1, max_length=1024, examples=["Correct-horse-42"])

    _no_nul = field_validator("login", "password", mode="after")(no_nul)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class RoleOut(BaseModel):
    role: str
    unit: str


class PersonOut(BaseModel):
    id: str
    name: str
    roles: list[RoleOut]


class TokensOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="seconds the access token lives")
    refresh_token: str = Field(description="exchange at POST /v1/auth/refresh; each one works once")
    session_id: str
    person: PersonOut


def _person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id, name=person.name, roles=[RoleOut(role=g.role.value, unit=g.unit) for g in sorted(person.roles)]
    )


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _tokens_out(res: Resources, pair: sessions.TokenPair, now: datetime, response: Response) -> TokensOut:
    assert res.token_key is not None
    rate = res.auth.person_rate_per_min
    signed_in = await person_of_token(res.pool, res.token_key, pair.access_token, now=now, rate_per_min=rate)
    response.headers.update(NO_STORE)
    return TokensOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        session_id=pair.session_id,
        person=_person_out(signed_in.person),
    )


def _take_attempt(res: Resources, login: str, ip: str | None) -> None:
    try:
        res.limiter.take(f"sign-in:{credentials.normalise_login(login)}:{ip}", res.auth.sign_in_rate_per_min)
    except RateLimited:
        SIGN_INS.labels("password", "rate_limited").inc()
        log.warning("sign_in_rate_limited", ip=ip)
        raise


async def _refuse_wrong_password(res: Resources, found: credentials.Credentials | None, now: datetime) -> None:
    async with res.pool.acquire() as conn:
        if found is None:
            await credentials.audit_record(conn, "sign_in_failed", None, "system", {"reason": "unknown_login"})
        else:
            outcome = await credentials.record_failure(
                conn,
                found.person_id,
                now,
                lock_after=res.auth.lockout_after,
                lock_for=timedelta(minutes=res.auth.lockout_minutes),
            )
            actor = f"person:{found.person_id}"
            detail = {"reason": "wrong_password", "failed_sign_ins": outcome.failed_sign_ins}
            await credentials.audit_record(conn, "sign_in_failed", found.person_id, actor, detail)
            if outcome.locked_until is not None:
                until = {"until": outcome.locked_until.isoformat(), "after": res.auth.lockout_after}
                await credentials.audit_record(conn, "locked", found.person_id, "system", until)
                log.warning("sign_in_locked", person_id=found.person_id, minutes=res.auth.lockout_minutes)
    SIGN_INS.labels("password", "invalid_credentials").inc()
    log.info("sign_in_failed", person_id=found.person_id if found else None)
    raise InvalidCredentials("wrong login name or password")


@router.post(
    "/auth/sign-in",
    response_model=TokensOut,
    summary="Sign in as a person with a login name (username or phone) and password: access and refresh tokens",
    description=(
        "401 `invalid_credentials` for an unknown login name and a wrong password alike; after "
        "GRIDDISPATCH_AUTH_LOCKOUT_AFTER failures in a row the account is locked for "
        "GRIDDISPATCH_AUTH_LOCKOUT_MINUTES: 429 `account_locked` with Retry-After. Too many attempts for one "
        "login name from one address: 429 `rate_limited`. 401 `person_disabled` for a disabled person."
    ),
    responses=problems(400, 413, 415),
)
async def sign_in(body: SignInIn, request: Request, response: Response, res: Res) -> TokensOut:
    ip = _ip(request)
    _take_attempt(res, body.login, ip)
    now = res.clock()
    async with res.pool.acquire() as conn:
        found = await credentials.find_login(conn, body.login)
    if found is not None and found.locked_at(now):
        assert found.locked_until is not None
        SIGN_INS.labels("password", "locked").inc()
        wait = max(1, math.ceil((found.locked_until - now).total_seconds()))
        log.info("sign_in_refused_locked", person_id=found.person_id)
        raise AccountLocked(
            "too many failed sign-ins: this account is locked for now",
            retry_after=wait,
            locked_until=found.locked_until.isoformat(),
        )
    # Argon2 takes tens of milliseconds of CPU: off the event loop. An unknown login is checked against a
    # dummy hash, so it takes as long as a known one.
    matched = await asyncio.to_thread(passwords.verify, found.password_hash if found else None, body.password)
    if not matched or found is None:
        await _refuse_wrong_password(res, found, now)
    assert found is not None and found.password_hash is not None
    if not found.active:
        async with res.pool.acquire() as conn:
            actor = f"person:{found.person_id}"
            await credentials.audit_record(conn, "sign_in_failed", found.person_id, actor, {"reason": "disabled"})
        SIGN_INS.labels("password", "disabled").inc()
        raise PersonDisabled("this person is disabled: ask an administrator")
    rehash = None
    if passwords.needs_rehash(found.password_hash):
        rehash = await asyncio.to_thread(passwords.hash_password, body.password)
    async with res.pool.acquire() as conn, conn.transaction():
        await credentials.record_success(conn, found.person_id, rehash)
        pair = await sessions.start_session(
            conn,
            found.person_id,
            method="password",
            settings=res.auth,
            user_agent=request.headers.get("user-agent"),
            ip=ip,
            now=now,
        )
    log.info(
        "signed_in", person_id=found.person_id, session_id=pair.session_id, method="password", rehashed=bool(rehash)
    )
    return await _tokens_out(res, pair, now, response)


@router.post(
    "/auth/refresh",
    response_model=TokensOut,
    summary="New access and refresh tokens for a live session; the refresh token sent is spent",
    description=(
        "Each refresh token works once. One already spent that comes back revokes its whole session "
        "(401 `token_revoked`): somebody holds a copy. 401 `token_invalid` for an unknown one."
    ),
    responses=problems(400, 413, 415),
)
async def refresh(body: RefreshIn, request: Request, response: Response, res: Res) -> TokensOut:
    res.limiter.take(f"refresh:{_ip(request)}", max(60, res.auth.sign_in_rate_per_min))
    now = res.clock()
    try:
        async with res.pool.acquire() as conn:
            refreshed = await sessions.refresh(conn, body.refresh_token, settings=res.auth, now=now)
    except Unauthenticated as refused:
        REFRESHES.labels(refused.code).inc()
        log.info("refresh_refused", code=refused.code)
        raise
    REFRESHES.labels("ok").inc()
    log.info("refreshed", person_id=refreshed.person_id, session_id=refreshed.tokens.session_id)
    return await _tokens_out(res, refreshed.tokens, now, response)


def _signed_in(identity: Identity) -> tuple[Person, uuid.UUID]:
    person = identity.client.person
    if person is None or identity.session_id is None:
        raise NotAPerson("only a signed-in person has sessions; an API key is revoked with `griddispatch clients`")
    return person, identity.session_id


@router.post(
    "/auth/sign-out",
    status_code=204,
    summary="End the session of this access token (its refresh token stops working too)",
    responses=problems(400, 413, 415),
)
async def sign_out(identity: Caller, res: Res) -> Response:
    person, session_id = _signed_in(identity)
    now = res.clock()
    async with res.pool.acquire() as conn, conn.transaction():
        await sessions.revoke(conn, session_id, reason="signed_out", now=now)
        detail = {"session_id": str(session_id)}
        await credentials.audit_record(conn, "signed_out", person.id, f"person:{person.id}", detail)
    log.info("signed_out", person_id=person.id, session_id=str(session_id))
    return Response(status_code=204)


def _session_view(view: sessions.SessionView, current: uuid.UUID, now: datetime, idle: timedelta) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "method": view.method,
        "state": view.state(now, idle),
        "current": view.id == current,
        "created_at": view.created_at.isoformat(),
        "last_used_at": view.last_used_at.isoformat(),
        "expires_at": view.expires_at.isoformat(),
        "revoked_at": view.revoked_at.isoformat() if view.revoked_at else None,
        "revoke_reason": view.revoke_reason,
        "user_agent": view.user_agent,
        "ip": view.ip,
    }


@router.get(
    "/auth/sessions",
    summary="My sessions, newest first (at most 50): live, expired or revoked, and which one is this",
)
async def my_sessions(identity: Caller, res: Res) -> dict[str, Any]:
    person, session_id = _signed_in(identity)
    now, idle = res.clock(), timedelta(minutes=res.auth.idle_minutes)
    found = await sessions.sessions_of(res.pool, person.id)
    return {"items": [_session_view(v, session_id, now, idle) for v in found]}


@router.delete(
    "/auth/sessions/{session_id}",
    status_code=204,
    summary="End one of my sessions (a phone left behind)",
    responses=problems(404),
)
async def end_my_session(session_id: uuid.UUID, identity: Caller, res: Res) -> Response:
    person, current = _signed_in(identity)
    now = res.clock()
    async with res.pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchval("SELECT person_id FROM person_sessions WHERE id = $1", session_id)
        if owner != person.id:
            raise NotFound(f"no session {session_id} of yours", session_id=str(session_id))
        await sessions.revoke(conn, session_id, reason="revoked", now=now)
        detail = {"session_id": str(session_id), "own": True}
        await credentials.audit_record(conn, "session_revoked", person.id, f"person:{person.id}", detail)
    log.info("session_revoked", person_id=person.id, session_id=str(session_id), current=session_id == current)
    return Response(status_code=204)
