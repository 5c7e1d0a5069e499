"""/v1/admin/people: persons, their roles, passwords and audit, for a caller with the admin scope.

An administrator holding only some units sees the persons with a role within them (404 for the others, as for
anything a caller may not see) and changes only persons all of whose roles lie within, granting roles only
there (403 `outside_area`); shared/people/reach.py says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Response

from services.intake.deps import Client, Res, require
from services.intake.people_schemas import (
    ID_PATTERN,
    UNIT_PATTERN,
    AuditPage,
    PasswordIn,
    PersonIn,
    PersonOut,
    PersonPage,
    PersonPatch,
    RoleIn,
    RolesIn,
    audit_out,
    person_out,
)
from services.intake.schemas import problems
from shared.api_clients import ApiClient, Scope
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.logging import get_logger
from shared.people import reach, sessions, store
from shared.people.admin import UnknownRole, check_units_known, grant_of
from shared.people.fields import actor_of
from shared.people.model import PersonStatus, RoleGrant, RoleName
from shared.registry_store.reach import keys_within

log = get_logger(__name__)

router = APIRouter(
    prefix="/v1/admin/people",
    tags=["people"],
    responses=problems(
        401, 403, 422, 429, _403="no admin scope, or a person or unit outside this administrator's units"
    ),
)
PersonId = Annotated[str, Path(pattern=ID_PATTERN, description="the person's id")]
NOT_SEEN = problems(404, _404="no such person that this administrator may see")
BODY = problems(400, 413, 415)  # what a request body can be refused for before it is read


class OutsideArea(Forbidden):
    code = "outside_area"


async def _within(conn: asyncpg.Connection, client: ApiClient) -> frozenset[str] | None:
    require(client, Scope.ADMIN)
    return await keys_within(conn, client.units)


def _not_found(person_id: str) -> NotFound:
    return NotFound(f"no person {person_id!r} that this administrator may see", person_id=person_id)


async def _seen(
    conn: asyncpg.Connection, within: frozenset[str] | None, person_id: str, *, lock: bool = False
) -> store.PersonRecord:
    record = await store.get_record(conn, person_id, lock=lock)
    if record is None or not reach.sees(within, record.person.units):
        raise _not_found(person_id)
    return record


async def _managed(conn: asyncpg.Connection, within: frozenset[str] | None, person_id: str) -> store.PersonRecord:
    record = await _seen(conn, within, person_id, lock=True)
    if not reach.manages(within, record.person.units):
        raise OutsideArea(
            f"{person_id!r} holds roles outside this administrator's units; an administrator of those changes them",
            person_id=person_id,
        )
    return record


async def _grantable(
    conn: asyncpg.Connection, within: frozenset[str] | None, roles: Iterable[RoleIn]
) -> list[RoleGrant]:
    grants = [grant_of(r.role, r.unit) for r in roles]
    outside = sorted(str(g) for g in grants if not reach.may_grant(within, g))
    if outside:
        raise OutsideArea(f"{', '.join(outside)} lie outside this administrator's units", field="roles")
    await check_units_known(conn, grants)
    return grants


@router.get("", response_model=PersonPage, summary="Persons this administrator may see, by id, a page at a time")
async def list_people(
    client: Client,
    res: Res,
    unit: Annotated[str | None, Query(pattern=UNIT_PATTERN, description="holding a role in this unit")] = None,
    role: Annotated[str | None, Query(max_length=40, description="holding this role")] = None,
    status: Annotated[Literal["active", "disabled"] | None, Query()] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="part of name, id, username; or phone")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PersonPage:
    if role is not None and role not in RoleName.__members__.values():
        raise UnknownRole(f"unknown role {role!r}; choose from {[r.value for r in RoleName]}", field="role")
    async with res.pool.acquire() as conn:
        within = await _within(conn, client)
        records, after = await store.list_persons(
            conn, unit=unit, role=role, status=status, query=q, within=within, limit=limit, after=cursor
        )
    return PersonPage(items=[person_out(r, client) for r in records], next_cursor=after)


@router.post(
    "",
    status_code=201,
    response_model=PersonOut,
    summary="Add a person by hand, with roles",
    description="409 `person_exists` for a taken id, `username_taken`; 422 `unknown_role`, `unknown_unit`. An "
    "administrator of some units only must give at least one role, all within them.",
    responses={**BODY, **problems(409)},
)
async def add_person(body: PersonIn, client: Client, res: Res) -> PersonOut:
    async with res.pool.acquire() as conn, conn.transaction():
        within = await _within(conn, client)
        grants = await _grantable(conn, within, body.roles)
        if within is not None and not grants:
            raise OutsideArea("give the person a role within this administrator's units", field="roles")
        record = await store.add_person(
            conn,
            person_id=body.id,
            name=body.name,
            username=body.username,
            phone=body.phone,
            roles=grants,
            actor=actor_of(client),
        )
    return person_out(record, client)


@router.get("/{person_id}", response_model=PersonOut, summary="One person", responses=NOT_SEEN)
async def get_person(person_id: PersonId, client: Client, res: Res) -> PersonOut:
    async with res.pool.acquire() as conn:
        return person_out(await _seen(conn, await _within(conn, client), person_id), client)


@router.patch(
    "/{person_id}",
    response_model=PersonOut,
    summary="Change a person's name, username, phone or status (disabled: no sign-in)",
    responses={**NOT_SEEN, **BODY, **problems(409)},
)
async def patch_person(person_id: PersonId, body: PersonPatch, client: Client, res: Res) -> PersonOut:
    sent = body.model_fields_set
    actor = actor_of(client)
    async with res.pool.acquire() as conn, conn.transaction():
        await _managed(conn, await _within(conn, client), person_id)
        if "name" in sent and body.name is None:
            raise InvalidInput("a name cannot be cleared", field="name")
        if "status" in sent and body.status is None:
            raise InvalidInput("a status is active or disabled", field="status")
        fields = {k: getattr(body, k) for k in ("name", "username", "phone") if k in sent}
        record = await store.update_person(conn, person_id, actor=actor, **fields)
        if body.status is not None:
            record = await store.set_status(conn, person_id, PersonStatus(body.status), actor)
    return person_out(record, client)


@router.put(
    "/{person_id}/roles",
    response_model=PersonOut,
    summary="Set the person's whole manual set of roles (registry and single sign-on roles stay)",
    responses={**NOT_SEEN, **BODY},
)
async def put_roles(person_id: PersonId, body: RolesIn, client: Client, res: Res) -> PersonOut:
    async with res.pool.acquire() as conn, conn.transaction():
        within = await _within(conn, client)
        await _managed(conn, within, person_id)
        grants = await _grantable(conn, within, body.roles)
        record = await store.set_roles(conn, person_id, grants, actor_of(client))
    return person_out(record, client)


@router.post(
    "/{person_id}/roles", response_model=PersonOut, summary="Grant a role in a unit", responses={**NOT_SEEN, **BODY}
)
async def grant_role(person_id: PersonId, body: RoleIn, client: Client, res: Res) -> PersonOut:
    async with res.pool.acquire() as conn, conn.transaction():
        within = await _within(conn, client)
        await _managed(conn, within, person_id)
        [grant] = await _grantable(conn, within, [body])
        record = await store.grant_role(conn, person_id, grant, actor_of(client))
    return person_out(record, client)


@router.delete(
    "/{person_id}/roles",
    response_model=PersonOut,
    summary="Revoke a role (409 `registry_role` for one the registry gives: change it there)",
    responses={**NOT_SEEN, **problems(409)},
)
async def revoke_role(
    person_id: PersonId,
    client: Client,
    res: Res,
    role: Annotated[str, Query(min_length=1, max_length=40)],
    unit: Annotated[str, Query(pattern=UNIT_PATTERN)],
) -> PersonOut:
    grant = grant_of(role, unit)
    async with res.pool.acquire() as conn, conn.transaction():
        await _managed(conn, await _within(conn, client), person_id)
        record = await store.revoke_role(conn, person_id, grant, actor_of(client))
    return person_out(record, client)


@router.delete(
    "/{person_id}/sessions",
    summary="End every live session of a person (their tokens stop working at the next request)",
    responses=NOT_SEEN,
)
async def end_sessions_of(person_id: PersonId, client: Client, res: Res) -> dict[str, Any]:
    actor = actor_of(client)
    async with res.pool.acquire() as conn, conn.transaction():
        await _managed(conn, await _within(conn, client), person_id)
        count = await sessions.revoke_all(conn, person_id, reason="revoked_by_admin", now=res.clock())
        await store.record_audit(conn, person_id, "session_revoked", actor, all=True, count=count)
    log.info("sessions_revoked", person_id=person_id, count=count, actor=actor)
    return {"person_id": person_id, "revoked": count}


@router.post(
    "/{person_id}/password",
    status_code=204,
    response_class=Response,
    summary="Set the person's password (422 `weak_password`); clears a lockout",
    responses={**NOT_SEEN, **BODY},
)
async def set_password(person_id: PersonId, body: PasswordIn, client: Client, res: Res) -> Response:
    async with res.pool.acquire() as conn:
        async with conn.transaction():
            await _managed(conn, await _within(conn, client), person_id)
        await store.set_password(conn, person_id, body.password, actor_of(client))
    return Response(status_code=204)


@router.get(
    "/{person_id}/audit",
    response_model=AuditPage,
    summary="What changed for the person, newest first: created, roles, status, password, sign-ins",
    responses=NOT_SEEN,
)
async def get_audit(
    person_id: PersonId, client: Client, res: Res, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> AuditPage:
    async with res.pool.acquire() as conn:
        await _seen(conn, await _within(conn, client), person_id)
        entries = await store.audit_of(conn, person_id, limit)
    return AuditPage(person_id=person_id, items=[audit_out(e) for e in entries])
