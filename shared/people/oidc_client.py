"""The relying party's side of OpenID Connect's authorization code flow (with PKCE S256, state and nonce):
the provider's discovery document and keys, the authorization URL, the code exchange, the ID token's checks.

httpx talks to the provider; joserfc (authlib's JOSE library) verifies the ID token. authlib's own httpx client
is not used: 1.9 deprecates it in favour of httpx2 with a warning at import, and the project runs on httpx.
Nothing here logs or raises with a code, a token or a secret in it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from prometheus_client import Histogram

from shared.errors import Forbidden, InfrastructureUnavailable, Unauthenticated
from shared.logging import get_logger
from shared.settings import OidcSettings

log = get_logger(__name__)

PROVIDER_SECONDS = Histogram(
    "griddispatch_oidc_provider_seconds", "Calls to the OpenID Connect provider", ["call", "outcome"]
)
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]  # asymmetric only: a token signed with the client secret is refused
DISCOVERY_TTL_S = 3600.0


class OidcProviderUnavailable(InfrastructureUnavailable):
    code = "oidc_provider_unavailable"


class OidcRefused(Unauthenticated):
    """A sign-in through the provider that is refused (401); `code` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class OidcForbidden(Forbidden):
    """The provider vouched for the account, but griddispatch does not let it in (403): unknown, disabled."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_secret() -> str:
    """43+ URL-safe characters from the OS's random source: state, nonce, browser binding."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43-128


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class RelyingParty:
    """One per intake process: an HTTP client to the provider, and its discovery document and keys, cached."""

    def __init__(self, settings: OidcSettings, redirect_uri: str, transport: httpx.AsyncBaseTransport | None = None):
        if not settings.issuer or not settings.client_secret:
            raise ValueError("OIDC is not configured")
        self.settings = settings
        self.issuer = settings.issuer  # compared exactly with iss, as the specification asks
        self.redirect_uri = redirect_uri
        self._http = httpx.AsyncClient(timeout=settings.http_timeout_s, transport=transport, follow_redirects=False)
        self._provider: Provider | None = None
        self._provider_at = 0.0
        self._keys: KeySet | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, call: str, url: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            PROVIDER_SECONDS.labels(call, "error").observe(time.perf_counter() - started)
            log.warning("oidc_provider_unavailable", call=call, error=type(exc).__name__)
            raise OidcProviderUnavailable(f"the sign-on provider did not answer its {call}") from None
        PROVIDER_SECONDS.labels(call, "ok").observe(time.perf_counter() - started)
        if not isinstance(body, dict):
            raise OidcProviderUnavailable(f"the sign-on provider's {call} is not a JSON object")
        return body

    async def provider(self) -> Provider:
        if self._provider is not None and time.monotonic() - self._provider_at < DISCOVERY_TTL_S:
            return self._provider
        doc = await self._get_json("discovery", f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        if doc.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0, 4.3: exactly the configured issuer
            log.error("oidc_discovery_issuer_mismatch", configured=self.issuer, announced=str(doc.get("issuer"))[:200])
            raise OidcProviderUnavailable("the sign-on provider announces another issuer than the configured one")
        try:
            self._provider = Provider(
                self.issuer, doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"]
            )
        except KeyError as exc:
            raise OidcProviderUnavailable(f"the sign-on provider's discovery document lacks {exc.args[0]}") from None
        self._provider_at = time.monotonic()
        return self._provider

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            provider = await self.provider()
            keys = (await self._get_json("jwks", provider.jwks_uri)).get("keys")
            if not isinstance(keys, list):
                raise OidcProviderUnavailable("the sign-on provider's JWKS has no list of keys")
            try:
                self._keys = KeySet.import_key_set({"keys": keys})
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                log.error("oidc_jwks_unreadable", error=type(exc).__name__)
                raise OidcProviderUnavailable("the sign-on provider's JWKS holds a key that cannot be read") from None
        return self._keys

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        provider = await self.provider()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge(code_verifier),
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{sep}{query}"

    async def exchange_code(self, code: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer to the code (client_secret_basic). A refusal is the caller's 401."""
        provider = await self.provider()
        started = time.perf_counter()
        try:
            response = await self._http.post(
                provider.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": code_verifier,
                },
                auth=(self.settings.client_id, self.settings.client_secret or ""),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            PROVIDER_SECONDS.labels("token", "error").observe(time.perf_counter() - started)
            log.warning("oidc_provider_unavailable", call="token", error=type(exc).__name__)
            raise OidcProviderUnavailable("the sign-on provider did not answer its token endpoint") from None
        PROVIDER_SECONDS.labels("token", str(response.status_code)).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            raise OidcProviderUnavailable(f"the sign-on provider's token endpoint answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("id_token"):
            error = str(body.get("error", "")) if isinstance(body, dict) else ""
            log.warning("oidc_code_refused", status=response.status_code, error=error[:64])
            raise OidcRefused("oidc_code_refused", "the sign-on provider refused the authorization code")
        return body

    async def id_token_claims(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature (the provider's JWKS), iss, aud, azp, exp, iat and nonce hold."""
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:
                # The provider may have rotated its keys since they were fetched: once more with fresh ones.
                token = jwt.decode(id_token, await self._key_set(refresh=True), algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            log.warning("oidc_id_token_invalid", error=type(exc).__name__)
            raise OidcRefused("oidc_id_token_invalid", "the ID token's signature does not verify") from None
        claims: dict[str, Any] = dict(token.claims)
        check_claims(
            claims,
            issuer=self.issuer,
            client_id=self.settings.client_id,
            nonce=nonce,
            leeway=self.settings.clock_skew_s,
        )
        return claims


def check_claims(claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str, leeway: int) -> None:
    """OpenID Connect Core 3.1.3.7 on a verified token's claims; each failure has its own problem code."""
    if claims.get("iss") != issuer:
        raise OidcRefused("oidc_issuer_mismatch", "the ID token comes from another issuer")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise OidcRefused("oidc_audience_mismatch", "the ID token is meant for another client")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise OidcRefused("oidc_audience_mismatch", "the ID token names other audiences and no azp of this client")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise OidcRefused("oidc_nonce_mismatch", "the ID token's nonce is not the one this sign-in sent")
    registry = jwt.JWTClaimsRegistry(
        leeway=leeway, exp={"essential": True}, iat={"essential": True}, sub={"essential": True}
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise OidcRefused("oidc_id_token_expired", "the ID token has expired") from None
    except (MissingClaimError, InvalidClaimError, JoseError) as exc:
        raise OidcRefused(
            "oidc_id_token_invalid", f"the ID token's claims do not hold ({type(exc).__name__})"
        ) from None
