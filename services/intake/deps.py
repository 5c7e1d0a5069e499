"""What handlers get injected: the shared resources and the authenticated client, rate-limited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.intake.ratelimit import RateLimiter
from shared.api_clients import ApiClient, Scope, authenticate
from shared.errors import Forbidden, Unauthenticated
from shared.logging import bind_context
from shared.settings import IntakeSettings
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


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key, as an alternative")


async def client_from_key(res: Resources, key: str | None) -> ApiClient:
    if not key:
        raise Unauthenticated("send your API key: Authorization: Bearer <key> (or X-API-Key)")
    client = await authenticate(res.pool, key)
    if client is None:
        raise Unauthenticated("unknown or revoked API key")
    res.limiter.take(str(client.id), client.rate_per_min)
    return client


async def current_client(
    res: Annotated[Resources, Depends(resources)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    header_key: Annotated[str | None, Security(api_key_header)],
) -> ApiClient:
    client = await client_from_key(res, credentials.credentials if credentials else header_key)
    with bind_context(client_id=str(client.id)):
        return client


def require(client: ApiClient, *scopes: Scope) -> None:
    """At least one of the scopes."""
    if not any(client.has(s) for s in scopes):
        wanted = " or ".join(s.value for s in scopes)
        raise Forbidden(f"this API key lacks the {wanted} scope", scope=wanted)


Client = Annotated[ApiClient, Depends(current_client)]
Res = Annotated[Resources, Depends(resources)]
