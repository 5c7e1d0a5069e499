"""What handlers get injected: the shared resources and the authenticated client, rate-limited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.intake.ratelimit import RateLimiter
from services.intake.uploads import Uploads
from shared.api_clients import KEY_PREFIX, ApiClient, Scope, authenticate
from shared.errors import Forbidden, Unauthenticated
from shared.logging import bind_context
from shared.people.access import person_of_token
from shared.people.tokens import TokenKey
from shared.settings import AuthSettings, IntakeSettings
from shared.topics import Topics


@dataclass(frozen=True, slots=True)
class Resources:
    """Built once by the composition root (main.py) and shared by every request."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topics: Topics
    settings: IntakeSettings
    limiter: RateLimiter
    public_url: str  # base of status URLs
    notify_url: str = ""  # where a browser reaches notify (the console's live stream)
    auth: AuthSettings = field(default_factory=AuthSettings)
    token_key: TokenKey | None = None  # signs and checks people's access tokens (None: no person tokens)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # tokens, sessions and lockouts; tests move it
    uploads: Uploads | None = None  # photos: their store and limits (None: uploads answer 503)


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


bearer = HTTPBearer(
    auto_error=False, description="Authorization: Bearer <API key (gdk_...) or a signed-in person's access token>"
)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key, as an alternative")


async def client_from_key(res: Resources, key: str | None) -> ApiClient:
    if not key:
        raise Unauthenticated("send your API key: Authorization: Bearer <key> (or X-API-Key)")
    client = await authenticate(res.pool, key)
    if client is None:
        raise Unauthenticated("unknown or revoked API key")
    res.limiter.take(str(client.id), client.rate_per_min)
    return client


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a system's API client, or a signed-in person (then `session_id` is their session)."""

    client: ApiClient
    session_id: uuid.UUID | None = None


async def client_from_token(res: Resources, token: str) -> Identity:
    if res.token_key is None:
        raise Unauthenticated("this service does not accept people's tokens")
    signed_in = await person_of_token(
        res.pool, res.token_key, token, now=res.clock(), rate_per_min=res.auth.person_rate_per_min
    )
    res.limiter.take(str(signed_in.client.id), signed_in.client.rate_per_min)
    return Identity(signed_in.client, signed_in.session_id)


async def current_identity(
    res: Annotated[Resources, Depends(resources)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    header_key: Annotated[str | None, Security(api_key_header)],
) -> Identity:
    """An API key (`gdk_...`, as Bearer or X-API-Key) or, as Bearer, a person's access token."""
    if credentials is not None and not credentials.credentials.startswith(KEY_PREFIX):
        return await client_from_token(res, credentials.credentials)
    return Identity(await client_from_key(res, credentials.credentials if credentials else header_key))


async def current_client(identity: Annotated[Identity, Depends(current_identity)]) -> ApiClient:
    client = identity.client
    person = client.person
    with bind_context(client_id=str(client.id), **({"person_id": person.id} if person else {})):
        return client


def require(client: ApiClient, *scopes: Scope) -> None:
    """At least one of the scopes."""
    if not any(client.has(s) for s in scopes):
        wanted = " or ".join(s.value for s in scopes)
        who = "this person's roles lack" if client.person is not None else "this API key lacks"
        raise Forbidden(f"{who} the {wanted} scope", scope=wanted)


Client = Annotated[ApiClient, Depends(current_client)]
Caller = Annotated[Identity, Depends(current_identity)]
Res = Annotated[Resources, Depends(resources)]
