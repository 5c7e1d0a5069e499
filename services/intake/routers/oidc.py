"""Single sign-on: GET /v1/auth/oidc/login sends the browser to the OpenID Connect provider; the provider sends it
back to GET /v1/auth/oidc/callback, which checks everything, maps the token's claims to the person and their roles,
starts a session and lands the browser in the console with the tokens in the URL fragment (docs/people.md).

Registered by intake's main.py only when GRIDDISPATCH_OIDC_ISSUER is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from prometheus_client import Counter

from services.intake.deps import Res
from services.intake.schemas import problems
from shared.errors import GridDispatchError
from shared.logging import get_logger
from shared.people import oidc_store
from shared.people.metrics import SIGN_INS
from shared.people.model import PersonStatus
from shared.people.oidc_claims import identity_of, roles_of
from shared.people.oidc_client import OidcForbidden, OidcRefused, RelyingParty, new_code_verifier, new_secret
from shared.people.sessions import TokenPair
from shared.settings import AuthSettings, OidcSettings

log = get_logger(__name__)

ROLES_IGNORED = Counter(
    "griddispatch_oidc_roles_ignored_total", "Role entries of ID tokens left out (unknown, untrusted, malformed)"
)
BROWSER_COOKIE = "griddispatch_oidc"
RATE_PER_MIN = 120  # sign-in steps a minute from one address: unauthenticated, and each writes a row
COOKIE_PATH = "/v1/auth/oidc"


StartSession = Callable[..., Awaitable[TokenPair]]
"""shared.people.sessions.start_session(conn, person_id, *, method, settings, user_agent, ip)."""


@dataclass(frozen=True, slots=True)
class SingleSignOn:
    """What main.py builds once: the relying party, its settings, and how a session is started."""

    rp: RelyingParty
    settings: OidcSettings
    start_session: StartSession
    session_settings: AuthSettings


def single_sign_on(request: Request) -> SingleSignOn:
    sso: SingleSignOn = request.app.state.oidc
    return sso


Sso = Annotated[SingleSignOn, Depends(single_sign_on)]

router = APIRouter(prefix="/v1/auth/oidc", tags=["sign-in"], responses=problems(401, 403, 429, 503))


@dataclass
class Attempt:
    """What the failure audit needs to know of a sign-in that got some way."""

    person_id: str | None = None


def _limit(request: Request, res: Res) -> None:
    res.limiter.take(f"oidc:{request.client.host if request.client else '-'}", RATE_PER_MIN)


@router.get(
    "/login",
    summary="Sign in through the district's single sign-on: a redirect to the OpenID Connect provider",
    status_code=303,
    response_class=RedirectResponse,
)
async def login(request: Request, res: Res, sso: Sso) -> RedirectResponse:
    _limit(request, res)
    state, nonce, verifier, binding = new_secret(), new_secret(), new_code_verifier(), new_secret()
    url = await sso.rp.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    async with res.pool.acquire() as conn:
        await oidc_store.save_login(
            conn,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            binding=binding,
            issuer=sso.rp.issuer,
            ttl_s=sso.settings.login_ttl_s,
        )
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    # Binds the callback to the browser that started the sign-in (no login CSRF): only its hash is stored.
    response.set_cookie(
        BROWSER_COOKIE,
        binding,
        max_age=int(sso.settings.login_ttl_s),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=sso.rp.redirect_uri.startswith("https://"),
    )
    log.info("oidc_login_started")
    return response


@router.get(
    "/callback",
    summary="Where the provider sends the browser back: checks, maps the claims, lands in the console",
    status_code=303,
    response_class=RedirectResponse,
)
async def callback(
    request: Request,
    res: Res,
    sso: Sso,
    state: Annotated[str | None, Query(max_length=512)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    iss: Annotated[str | None, Query(max_length=2048)] = None,
) -> RedirectResponse:
    _limit(request, res)
    attempt = Attempt()
    try:
        redirect = await _sign_in(request, res, sso, attempt, state=state, code=code, error=error, iss=iss)
    except GridDispatchError as exc:
        SIGN_INS.labels("oidc", exc.code).inc()  # a success is counted by start_session (outcome ok)
        log.warning("oidc_sign_in_failed", reason=exc.code, person_id=attempt.person_id)
        detail = {"method": "oidc", "reason": exc.code}
        await oidc_store.audit(res.pool, attempt.person_id, "sign_in_failed", detail)
        raise
    return redirect


async def _sign_in(
    request: Request,
    res: Res,
    sso: SingleSignOn,
    attempt: Attempt,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    iss: str | None,
) -> RedirectResponse:
    if not state:
        raise OidcRefused("oidc_state_missing", "the callback carries no state")
    # Taken first, whatever follows: a state is good for one callback only.
    async with res.pool.acquire() as conn:
        pending, in_time = await oidc_store.take_login(conn, state)
    if error:
        raise OidcRefused("oidc_provider_error", f"the sign-on provider ended the sign-in: {error[:64]}")
    if pending is None:
        raise OidcRefused("oidc_state_unknown", "unknown or already used sign-in state; start again")
    if not in_time:
        raise OidcRefused("oidc_state_expired", "the sign-in took too long; start again")
    binding = request.cookies.get(BROWSER_COOKIE, "")
    if not secrets.compare_digest(oidc_store.browser_hash(binding), pending.browser_hash):
        raise OidcRefused("oidc_browser_mismatch", "this sign-in was started in another browser")
    if pending.issuer != sso.rp.issuer or (iss is not None and iss != sso.rp.issuer):  # RFC 9207
        raise OidcRefused("oidc_issuer_mismatch", "the callback comes from another issuer")
    if not code:
        raise OidcRefused("oidc_code_missing", "the callback carries no authorization code")

    tokens = await sso.rp.exchange_code(code, pending.code_verifier)
    claims = await sso.rp.id_token_claims(str(tokens["id_token"]), nonce=pending.nonce)
    settings = sso.settings
    identity = identity_of(
        claims,
        issuer=sso.rp.issuer,
        username_claim=settings.username_claim,
        name_claim=settings.name_claim,
        phone_claim=settings.phone_claim,
    )
    roles = roles_of(claims, roles_claim=settings.roles_claim, trusted=settings.trusted_role_list)
    for entry, why in roles.ignored:
        ROLES_IGNORED.inc()
        log.warning("oidc_role_ignored", subject=identity.subject, entry=entry, why=why)

    async with res.pool.acquire() as conn, conn.transaction():
        person = await oidc_store.find_or_link_person(conn, identity, create=settings.create_persons)
        if person is None:
            raise OidcForbidden("oidc_person_unknown", "this single sign-on account is not linked to any person")
        attempt.person_id = person.id
        if person.status is not PersonStatus.ACTIVE:
            raise OidcForbidden("person_disabled", "this person is disabled")
        granted, revoked = await oidc_store.replace_oidc_roles(conn, person.id, roles.granted)
        pair = await sso.start_session(
            conn,
            person.id,
            method="oidc",
            settings=sso.session_settings,
            user_agent=request.headers.get("user-agent"),
            ip=request.client.host if request.client else None,
        )
    log.info(
        "oidc_signed_in",
        person_id=person.id,
        linked=person.how,
        roles_granted=[str(g) for g in granted],
        roles_revoked=[str(g) for g in revoked],
    )
    return landing(sso.settings.console_path, pair)


def landing(console_path: str, pair: TokenPair) -> RedirectResponse:
    """The console, with the tokens in the fragment: a browser never sends a fragment to a server, so they stay out
    of access logs and Referer headers. The contract (docs/people.md):
    <console>#signed_in&access_token=...&refresh_token=...&expires_in=..."""
    fragment = "signed_in&" + urlencode(
        {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "expires_in": pair.expires_in}
    )
    response = RedirectResponse(
        f"{console_path}#{fragment}",
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    response.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
    return response
