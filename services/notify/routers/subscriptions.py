"""/v1/subscriptions and /v1/deliveries: who gets which events where, and what became of every delivery."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.notify.auth import authenticate_request, unseen_units
from services.notify.channels.webhook import new_secret
from services.notify.problems import problems
from shared.api_clients import ApiClient, Scope
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.logging import get_logger

log = get_logger(__name__)
SUBSCRIPTIONS_DELETED = Counter(
    "griddispatch_notify_subscriptions_deleted_total", "Subscriptions deleted by their clients"
)
router = APIRouter(prefix="/v1", tags=["subscriptions"], responses=problems(400, 401, 403, 404, 413, 422, 503))
EVENT_TYPES = ("case.assigned", "case.changed", "deadline.fired", "action.rejected")
# A delivery id is a PostgreSQL bigint: one past it would fail in the query, not be refused (a 500).
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a delivery's id")]
_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{5,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, examples=["市场监管局工单系统"])
    channel: Literal["webhook", "sms", "email"]
    target: str = Field(min_length=3, max_length=500, examples=["https://market.example.gov.cn/hooks/griddispatch"])
    units: list[str] = Field(default_factory=list, max_length=200, description="scope keys; empty: all you may see")
    matter_types: list[str] = Field(default_factory=list, max_length=200)
    event_types: list[Literal["case.assigned", "case.changed", "deadline.fired", "action.rejected"]] = Field(
        default_factory=list
    )
    levels: list[Literal["micro_grid", "grid", "community", "street", "district"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _target(self) -> SubscriptionIn:
        if self.channel == "webhook" and not re.match(r"^https?://[^\s]+$", self.target):
            raise ValueError("a webhook target is an http(s) URL")
        if self.channel == "sms" and not _PHONE.match(self.target):
            raise ValueError("an sms target is a phone number")
        if self.channel == "email" and not _EMAIL.match(self.target):
            raise ValueError("an email target is an e-mail address")
        return self


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    units: list[str] | None = None
    matter_types: list[str] | None = None
    event_types: list[Literal["case.assigned", "case.changed", "deadline.fired", "action.rejected"]] | None = None
    levels: list[Literal["micro_grid", "grid", "community", "street", "district"]] | None = None


def pool_of(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(pool_of)]


_KNOWN_MATTERS = """SELECT coalesce(array_agg(code), '{}') FROM matter_types
    WHERE version_id = (SELECT version_id FROM registry_active) AND code = ANY($1::text[])"""


async def check_filters(pool: asyncpg.Pool, client: ApiClient, units: list[str], matter_types: list[str]) -> None:
    """422 naming them: units the client may not see (what it may read it may subscribe to), matter types the
    active catalog does not have."""
    unseen = await unseen_units(pool, client, units)
    if unseen:
        raise InvalidInput(f"units {unseen} are not among those this client may see", field="units", units=unseen)
    known = set(await pool.fetchval(_KNOWN_MATTERS, matter_types)) if matter_types else set()
    unknown = [m for m in matter_types if m not in known]
    if unknown:
        raise InvalidInput(
            f"unknown matter types {unknown} (GET /v1/matter-types lists them)", field="matter_types", unknown=unknown
        )


class ApiKeyRequired(Forbidden):
    code = "api_key_required"


async def caller(request: Request, pool: Pool) -> ApiClient:
    client = await authenticate_request(request, pool)
    if client.person is not None:  # a person follows the live stream; what is pushed out belongs to a system
        raise ApiKeyRequired("subscriptions and deliveries are managed with a system's API key, not a person's token")
    if not (client.has(Scope.READ) or client.has(Scope.ADMIN)):
        raise Forbidden("managing subscriptions needs the read scope", scope="read")
    return client


Caller = Annotated[ApiClient, Depends(caller)]


def _view(row: asyncpg.Record, secret: str | None = None) -> dict[str, Any]:
    body = {
        "id": str(row["id"]),
        "name": row["name"],
        "channel": row["channel"],
        "target": row["target"],
        "units": list(row["units"]),
        "matter_types": list(row["matter_types"]),
        "event_types": list(row["event_types"]),
        "levels": list(row["levels"]),
        "active": row["active"],
        "created_at": row["created_at"].isoformat(),
        "rotating": row["previous_secret"] is not None,
    }
    if secret is not None:
        body["secret"] = secret  # shown once, at creation or rotation
    return body


async def _own(pool: asyncpg.Pool, client: ApiClient, subscription_id: uuid.UUID) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM subscriptions WHERE id = $1 AND deleted_at IS NULL", subscription_id)
    if row is None or not (client.has(Scope.ADMIN) or row["client_id"] == client.id):
        raise NotFound(f"no subscription {subscription_id} of this client")
    return row


@router.post("/subscriptions", status_code=201, summary="Subscribe to events (webhook, SMS or e-mail)")
async def create(body: SubscriptionIn, client: Caller, pool: Pool) -> dict[str, Any]:
    await check_filters(pool, client, body.units, body.matter_types)
    secret = new_secret() if body.channel == "webhook" else None
    row = await pool.fetchrow(
        """INSERT INTO subscriptions (id, client_id, name, channel, target, secret, units, matter_types, event_types,
                                      levels) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
        uuid.uuid4(),
        client.id,
        body.name,
        body.channel,
        body.target,
        secret,
        body.units,
        body.matter_types,
        list(body.event_types),
        list(body.levels),
    )
    return _view(row, secret)


@router.get("/subscriptions", summary="This client's subscriptions (all, for an administrator)")
async def list_all(client: Caller, pool: Pool) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT * FROM subscriptions WHERE deleted_at IS NULL AND ($1 OR client_id = $2) ORDER BY created_at",
        client.has(Scope.ADMIN),
        client.id,
    )
    return {"items": [_view(r) for r in rows]}


@router.get("/subscriptions/{subscription_id}")
async def get_one(subscription_id: uuid.UUID, client: Caller, pool: Pool) -> dict[str, Any]:
    return _view(await _own(pool, client, subscription_id))


@router.patch("/subscriptions/{subscription_id}", summary="Change filters, pause or resume")
async def patch(subscription_id: uuid.UUID, body: SubscriptionPatch, client: Caller, pool: Pool) -> dict[str, Any]:
    await _own(pool, client, subscription_id)
    changes = body.model_dump(exclude_none=True)
    await check_filters(pool, client, changes.get("units", []), changes.get("matter_types", []))
    for key, value in changes.items():
        await pool.execute(
            f"UPDATE subscriptions SET {key} = $2, updated_at = now() WHERE id = $1", subscription_id, value
        )
    return _view(await _own(pool, client, subscription_id))


@router.post("/subscriptions/{subscription_id}/rotate-secret", summary="New signing secret; the old one stays valid")
async def rotate(subscription_id: uuid.UUID, client: Caller, pool: Pool) -> dict[str, Any]:
    row = await _own(pool, client, subscription_id)
    if row["channel"] != "webhook":
        raise InvalidInput("only webhooks are signed", field="channel")
    secret = new_secret()
    row = await pool.fetchrow(
        """UPDATE subscriptions SET previous_secret = secret, secret = $2, updated_at = now() WHERE id = $1
           RETURNING *""",
        subscription_id,
        secret,
    )
    return _view(row, secret)


@router.post(
    "/subscriptions/{subscription_id}/retire-previous-secret",
    summary="End a rotation: posts are signed with the current secret only",
)
async def retire_previous_secret(subscription_id: uuid.UUID, client: Caller, pool: Pool) -> dict[str, Any]:
    await _own(pool, client, subscription_id)
    row = await pool.fetchrow(
        "UPDATE subscriptions SET previous_secret = NULL, updated_at = now() WHERE id = $1 RETURNING *",
        subscription_id,
    )
    return _view(row)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Delete: gone from the list and 404 from then on; its delivery history stays readable",
)
async def delete(subscription_id: uuid.UUID, client: Caller, pool: Pool) -> Response:
    """Deleted for good (pause with PATCH `active: false`): nothing more is sent, what was still pending is
    `suppressed`. The row stays, marked deleted, so that /v1/deliveries keeps its history."""
    await _own(pool, client, subscription_id)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE subscriptions SET active = false, deleted_at = now(), updated_at = now() WHERE id = $1",
            subscription_id,
        )
        suppressed = await conn.execute(
            """UPDATE deliveries SET status = 'suppressed', last_error = 'subscription deleted'
               WHERE subscription_id = $1 AND status = 'pending'""",
            subscription_id,
        )
    SUBSCRIPTIONS_DELETED.inc()
    log.info("subscription_deleted", subscription_id=str(subscription_id), client_id=str(client.id), pending=suppressed)
    return Response(status_code=204)


def _delivery(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "case_id": str(row["case_id"]) if row["case_id"] else None,
        "channel": row["channel"],
        "subscription_id": str(row["subscription_id"]) if row["subscription_id"] else None,
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "created_at": row["created_at"].isoformat(),
        "delivered_at": row["delivered_at"].isoformat() if row["delivered_at"] else None,
    }


_VISIBLE = """(d.subscription_id IN (SELECT id FROM subscriptions WHERE client_id = $1) OR $2)"""


@router.get(
    "/deliveries",
    tags=["deliveries"],
    summary="Deliveries of this client's subscriptions; `status=dead`: the dead-letter list",
)
async def deliveries(
    client: Caller,
    pool: Pool,
    status: Annotated[Literal["pending", "delivered", "grouped", "dead"] | None, Query()] = None,
    subscription_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    rows = await pool.fetch(
        f"""SELECT d.* FROM deliveries d WHERE {_VISIBLE}
              AND ($3::text IS NULL OR d.status = $3) AND ($4::uuid IS NULL OR d.subscription_id = $4)
            ORDER BY d.id DESC LIMIT $5""",
        client.id,
        client.has(Scope.ADMIN),
        status,
        subscription_id,
        limit,
    )
    return {"items": [_delivery(r) for r in rows]}


@router.get("/deliveries/{delivery_id}", tags=["deliveries"], summary="One delivery with every attempt")
async def delivery(delivery_id: DeliveryId, client: Caller, pool: Pool) -> dict[str, Any]:
    row = await pool.fetchrow(
        f"SELECT d.* FROM deliveries d WHERE d.id = $3 AND {_VISIBLE}", client.id, client.has(Scope.ADMIN), delivery_id
    )
    if row is None:
        raise NotFound(f"no delivery {delivery_id} of this client")
    attempts = await pool.fetch("SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt", delivery_id)
    return {
        **_delivery(row),
        "attempts": [
            {
                "attempt": a["attempt"],
                "at": a["at"].isoformat(),
                "outcome": a["outcome"],
                "status_code": a["status_code"],
                "latency_ms": a["latency_ms"],
                "error": a["error"],
            }
            for a in attempts
        ],
    }


@router.post("/deliveries/{delivery_id}/replay", tags=["deliveries"], summary="Send a dead delivery again")
async def replay(delivery_id: DeliveryId, request: Request, client: Caller, pool: Pool) -> dict[str, Any]:
    row = await pool.fetchrow(
        f"""UPDATE deliveries d SET status = 'pending', next_attempt_at = now(), attempts = 0, last_error = NULL
            WHERE d.id = $3 AND d.status = 'dead' AND {_VISIBLE} RETURNING d.*""",
        client.id,
        client.has(Scope.ADMIN),
        delivery_id,
    )
    if row is None:
        raise NotFound(f"no dead delivery {delivery_id} of this client")
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake.set()
    return _delivery(row)
