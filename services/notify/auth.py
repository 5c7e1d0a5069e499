"""Who is calling notify: the API client whose key the request carries, or the signed-in person whose access
token it carries, checked as intake checks them (shared.api_clients, shared.people.access)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from fastapi import Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPBearer

from shared.api_clients import KEY_PREFIX, ApiClient, Scope, authenticate
from shared.errors import Forbidden, Unauthenticated
from shared.people.access import person_of_token
from shared.people.tokens import TokenKey

_ANCESTOR_IN = """
    WITH RECURSIVE up (code, parent, depth) AS (
        SELECT code, parent, 0 FROM registry_units
        WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1
        UNION ALL
        SELECT u.code, u.parent, up.depth + 1 FROM registry_units u JOIN up ON u.code = up.parent
        WHERE u.version_id = (SELECT version_id FROM registry_active) AND up.depth < 32
    )
    SELECT EXISTS (SELECT 1 FROM up WHERE depth > 0 AND code = ANY($2::text[]))"""
_BRANCH_OF = """SELECT EXISTS (SELECT 1 FROM registry_branches
    WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1 AND department = ANY($2::text[]))"""

# For the OpenAPI document only (as `dependencies=[Security(...)]`): the key itself is read by key_of.
bearer = HTTPBearer(
    auto_error=False, description="Authorization: Bearer <API key (gdk_...) or a signed-in person's access token>"
)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key, as an alternative")
api_key_query = APIKeyQuery(
    name="api_key",
    auto_error=False,
    description="the API key or a person's access token, for live streams only (EventSource cannot set headers)",
)


def key_of(request: Request, *, allow_query: bool = False) -> str | None:
    """The key from Authorization: Bearer, else X-API-Key, else (if allowed) the api_key query parameter."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    header = request.headers.get("x-api-key", "").strip()
    if header:
        return header
    # Only where a browser cannot send headers: a key in a URL ends up in access logs and histories (a person's
    # token there lives minutes; `access_token` is the name OAuth gives it in a query).
    if not allow_query:
        return None
    return request.query_params.get("api_key") or request.query_params.get("access_token") or None


async def authenticate_request(request: Request, pool: asyncpg.Pool, *, allow_query: bool = False) -> ApiClient:
    """The live client holding the request's key, or the signed-in person of its access token; 401 problem
    without either, or with an unknown, revoked or expired one (a person token's refusal has its own code)."""
    key = key_of(request, allow_query=allow_query)
    if not key:
        raise Unauthenticated("send your API key: Authorization: Bearer <key> (or X-API-Key)")
    if not key.startswith(KEY_PREFIX) and request.headers.get("x-api-key", "").strip() != key:
        token_key: TokenKey | None = getattr(request.app.state, "token_key", None)
        if token_key is None:
            raise Unauthenticated("this service does not accept people's tokens")
        rate = request.app.state.auth.person_rate_per_min
        signed_in = await person_of_token(pool, token_key, key, now=datetime.now(UTC), rate_per_min=rate)
        return signed_in.client
    client = await authenticate(pool, key)
    if client is None:
        raise Unauthenticated("unknown or revoked API key")
    return client


def require(client: ApiClient, *scopes: Scope) -> None:
    """403 problem unless the client holds at least one of the scopes."""
    if not any(client.has(s) for s in scopes):
        wanted = " or ".join(s.value for s in scopes)
        raise Forbidden(f"this API key lacks the {wanted} scope", scope=wanted)


async def sees_unit(pool: asyncpg.Pool, client: ApiClient, unit: str) -> bool:
    """Whether the client sees everything of `unit`: *, the unit itself, (unit:) one of its ancestors, or (branch:)
    its department: what intake lets the same key read (docs/intake-api.md)."""
    if client.sees_all or unit in client.units:
        return True
    kind, _, code = unit.partition(":")
    if kind == "branch":
        departments = [u.partition(":")[2] for u in client.units if u.startswith("department:")]
        return bool(departments) and bool(await pool.fetchval(_BRANCH_OF, code, departments))
    mine = [u.partition(":")[2] for u in client.units if u.startswith("unit:")]
    if kind != "unit" or not mine:  # a department has nothing above it: only a listed one is visible
        return False
    return bool(await pool.fetchval(_ANCESTOR_IN, code, mine))


async def unseen_units(pool: asyncpg.Pool, client: ApiClient, units: list[str]) -> list[str]:
    """Those of `units` the client may not see (sees_unit), in their order."""
    return [u for u in units if not await sees_unit(pool, client, u)]
