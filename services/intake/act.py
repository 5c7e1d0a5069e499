"""Accepting an action on a case: who is acting (the role), whether the lifecycle allows it now, and the event.

Intake checks what it can see (the case's current state, the actor's place on the case); dispatch applies
the action through the lifecycle in case order and answers a refusal with a `rejected` event.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from services.intake.schemas import ActionIn
from services.intake.submit import CASE_NAMESPACE, EVENT_SOURCE
from shared.api_clients import ApiClient, Scope
from shared.domain.lifecycle import Action, Role, State, allowed_actions
from shared.errors import Conflict, Forbidden, IdempotencyConflict, InvalidInput
from shared.events import new_event
from shared.events.types import ActionRequested, Actor
from shared.kafka import publish
from shared.queries import action_requests

_DIRECT = {
    "accept": Action.ACCEPT,
    "return": Action.RETURN,
    "start": Action.START,
    "progress": Action.PROGRESS,
    "resolve": Action.RESOLVE,
    "report_in": Action.REPORT_IN,
    "reopen": Action.REOPEN,
    "summon": Action.SUMMON,
    "cancel": Action.CANCEL,
    "comment": Action.COMMENT,
    "redispatch": Action.ASSIGN,  # a command centre re-dispatches by hand
    "claim": Action.CLAIM,  # the responsible person of a part (dispatch checks who: shared/domain/case/commands.py)
    "hand_over": Action.HAND_OVER,
    "reassign": Action.REASSIGN,
    "urge": Action.URGE,  # supervision (督办): dispatch checks the supervising level (case/supervising.py)
    "supervise_order": Action.SUPERVISE_ORDER,
    "reply_order": Action.REPLY_ORDER,
    "request_extension": Action.REQUEST_EXTENSION,  # the clock (延期, 挂起): services/intake/clock.py checks who
    "decide_extension": Action.DECIDE_EXTENSION,
    "request_suspension": Action.REQUEST_SUSPENSION,
    "decide_suspension": Action.DECIDE_SUSPENSION,
    "resume": Action.RESUME,
}
_API_NAME = {
    **{v: k for k, v in _DIRECT.items()},
    Action.VERIFY_PASSED: "verify",
    Action.VERIFY_FAILED: "verify",
    Action.RATE_SATISFIED: "rate",
    Action.RATE_UNSATISFIED: "rate",
}
_SUPERVISOR_FIRST = {"summon", "cancel", "verify", "reopen", "redispatch", "urge", "supervise_order"}
_SUPERVISOR_FIRST |= {"decide_extension", "decide_suspension"}
_RESIDENT_FIRST = {"rate"}


class IllegalAction(Conflict):
    code = "illegal_transition"


class UnknownUnit(InvalidInput):
    code = "unknown_unit"


class ForgedActor(Forbidden):
    """A signed-in person's action naming somebody else as its actor."""

    code = "forged_actor"


class NotYourUnit(Forbidden):
    """A signed-in person acting for a unit they hold no role in (nor in any unit above it)."""

    code = "unit_not_yours"


@dataclass(frozen=True, slots=True)
class ActionReceipt:
    event_id: uuid.UUID
    replayed: bool


def lifecycle_action(body: ActionIn) -> Action:
    if body.action == "verify":
        return Action.VERIFY_PASSED if body.passed else Action.VERIFY_FAILED
    if body.action == "rate":
        return Action.RATE_SATISFIED if rating_level(body) != "unsatisfied" else Action.RATE_UNSATISFIED
    return _DIRECT[body.action]


def rating_level(body: ActionIn) -> str:
    """满意 / 基本满意 / 不满意 as given, else from `satisfied` or the score (4 and 5 satisfied)."""
    if body.level is not None:
        return body.level
    satisfied = body.satisfied if body.satisfied is not None else (body.score or 0) >= 4
    return "satisfied" if satisfied else "unsatisfied"


def api_actions(actions: tuple[Action, ...]) -> list[str]:
    return sorted({_API_NAME[a] for a in actions if a in _API_NAME})


_ACTIVE = "(SELECT version_id FROM registry_active)"
UNIT_CHAIN = """
    WITH RECURSIVE up(code, parent) AS (
        SELECT code, parent FROM registry_units
        WHERE version_id = (SELECT version_id FROM registry_active) AND code = $1
        UNION ALL
        SELECT u.code, u.parent FROM registry_units u JOIN up ON u.code = up.parent
        WHERE u.version_id = (SELECT version_id FROM registry_active)
    )
    SELECT coalesce(array_agg('unit:' || code), '{}') FROM up"""


BRANCH_DEPARTMENT = f"SELECT department FROM registry_branches WHERE version_id = {_ACTIVE} AND code = $1"


async def unit_chain(conn: asyncpg.Connection, unit: str | None) -> frozenset[str]:
    """The actor's unit and every unit above it (a grid's app acts for the micro-grids in it, a department's
    system for its branches)."""
    if unit is None:
        return frozenset()
    kind, _, code = unit.partition(":")
    if kind == "branch":
        department: str | None = await conn.fetchval(BRANCH_DEPARTMENT, code)
        return frozenset({unit, f"department:{department}"} if department else {unit})
    if kind != "unit":
        return frozenset({unit})
    chain: list[str] = await conn.fetchval(UNIT_CHAIN, code)
    return frozenset({unit, *chain})


async def acting_unit(
    conn: asyncpg.Connection, client: ApiClient, body: ActionIn, case: asyncpg.Record | None
) -> ActionIn:
    """A department's system acting on a case one of its branches leads (or assists) acts for that branch: an
    omitted `actor.unit`, or the department itself when it is not on the case, becomes the branch (the lead
    first). Anything else is left as it is."""
    unit = body.actor.unit
    if case is None or client.person is not None or (unit is not None and not unit.startswith("department:")):
        return body
    parties = [p for p in (case["lead"], *case["assisting"]) if p]
    if unit is not None and unit in parties:
        return body
    for party in parties:
        chain = await unit_chain(conn, party)
        if (
            party.startswith("branch:")
            and (unit is None or unit in chain)
            and (client.sees_all or chain & client.units)
        ):
            return body.model_copy(update={"actor": body.actor.model_copy(update={"unit": party})})
    return body


def _acts_for(client: ApiClient, unit: str | None, chain: frozenset[str]) -> bool:
    return unit is not None and (client.sees_all or bool(chain & client.units))


def roles_of(
    client: ApiClient, body: ActionIn, case: asyncpg.Record | None, scope_keys: list[str], chain: frozenset[str]
) -> list[Role]:
    """The roles this client may take on this case, most specific first."""
    unit = body.actor.unit
    roles: list[Role] = []
    if case is not None and _acts_for(client, unit, chain) and client.has(Scope.ACT):
        if unit == case["lead"]:
            roles.append(Role.ASSIGNEE)
        if unit in case["assisting"]:
            roles.append(Role.ASSISTING)
    if client.has(Scope.SUPERVISE):
        roles.append(Role.SUPERVISOR)
    if client.own_key in scope_keys and client.has(Scope.ACT):
        roles.append(Role.RESIDENT)  # the system that reported it speaks for its resident
    return roles


def choose_role(
    client: ApiClient, body: ActionIn, case: asyncpg.Record | None, scope_keys: list[str], chain: frozenset[str]
) -> Role:
    roles = roles_of(client, body, case, scope_keys, chain)
    if body.actor.role is not None:
        wanted = Role(body.actor.role)
        if wanted not in roles:
            raise Forbidden(
                f"this client may not act as {wanted.value} on this case "
                f"(it may act as: {', '.join(r.value for r in roles) or 'nothing'})",
                field="actor.role",
            )
        return wanted
    if not roles:
        raise Forbidden("this client is not a party to this case and may not act on it", field="actor.unit")
    prefer = (
        Role.SUPERVISOR
        if body.action in _SUPERVISOR_FIRST
        else Role.RESIDENT
        if body.action in _RESIDENT_FIRST
        else None
    )
    return prefer if prefer in roles else roles[0]


async def with_actor(conn: asyncpg.Connection, client: ApiClient, body: ActionIn) -> ActionIn:
    """The action with its actor settled. A system's client names the person acting (`actor.id`, required); a
    signed-in person is the actor, whatever the body says: naming anyone else is refused, and the unit acted
    for must be one of theirs or below one (omitted, it is their only unit when they hold roles in one)."""
    person = client.person
    if person is None:
        if body.actor.id is None:
            raise InvalidInput("actor.id: name the person acting", field="actor.id")
        return body
    if body.actor.id is not None and body.actor.id != person.id:
        raise ForgedActor(
            "a signed-in person acts as themselves: actor.id must be omitted or be your own id", field="actor.id"
        )
    unit = body.actor.unit
    if unit is None and len(person.units) == 1 and not client.sees_all:
        (unit,) = person.units
    if unit is not None and not client.sees_all and not (await unit_chain(conn, unit)) & client.units:
        raise NotYourUnit(f"you hold no role in {unit} nor in a unit above it", field="actor.unit")
    return body.model_copy(update={"actor": body.actor.model_copy(update={"id": person.id, "unit": unit})})


ACTIVE = "(SELECT version_id FROM registry_active)"
_KNOWN = {
    "unit": f"SELECT 1 FROM registry_units WHERE version_id = {ACTIVE} AND code = $1",
    "department": f"SELECT 1 FROM registry_departments WHERE version_id = {ACTIVE} AND code = $1",
    "branch": f"SELECT 1 FROM registry_branches WHERE version_id = {ACTIVE} AND code = $1",
}


async def check_redispatch(conn: asyncpg.Connection, client: ApiClient, body: ActionIn) -> None:
    """Only a command centre re-dispatches, only to a unit, department or branch that exists, and a unit only
    inside its own area (a street centre cannot hand a case to another street's grid)."""
    if not client.has(Scope.SUPERVISE):
        raise Forbidden("redispatch needs the supervise scope (a command centre's key)", scope="supervise")
    assert body.unit is not None  # the schema requires it
    kind, _, code = body.unit.partition(":")
    if not await conn.fetchval(_KNOWN[kind], code):
        raise UnknownUnit(f"no {kind} {code!r} in the active registry", field="unit")
    mine = {u for u in client.units if u.startswith("unit:")}
    if kind == "unit" and mine and not client.sees_all and not (await unit_chain(conn, body.unit)) & mine:
        raise Forbidden(f"unit {code!r} is outside this client's area", field="unit")


def check_lifecycle(state: str, action: Action, role: Role, api_name: str) -> None:
    allowed = allowed_actions(State(state), role)
    if action not in allowed:
        raise IllegalAction(
            f"{role.value} may not {api_name} a case that is {state}",
            current_state=state,
            action=api_name,
            role=role.value,
            allowed=api_actions(allowed),
        )


def _payload(body: ActionIn, client: ApiClient) -> dict[str, object]:
    values = {
        "score": body.score,
        "departments": body.departments or None,
        "lead": body.unit if body.action == "redispatch" else None,
        "person": body.person,
        "party": body.unit if body.action == "reassign" else None,
        "colour": body.colour,
        "reply_by": body.reply_by.isoformat() if body.reply_by else None,
        "order_id": str(body.order_id) if body.order_id else None,
        "resolve_by": body.resolve_by.isoformat() if body.resolve_by else None,
        "approved": body.approved,
        "resume_at": body.resume_at.isoformat() if body.resume_at else None,
        "level": rating_level(body) if body.action == "rate" else None,
        "client_id": str(client.id),
    }
    return {k: v for k, v in values.items() if v is not None}


def action_hash(body: ActionIn) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def earlier_action(conn: asyncpg.Connection, event_id: uuid.UUID, body: ActionIn) -> ActionReceipt | None:
    digest = await action_requests.body_hash(conn, event_id)
    if digest is None:
        return None
    if digest != action_hash(body):
        raise IdempotencyConflict(
            "this Idempotency-Key was already used for a different action", field="Idempotency-Key"
        )
    return ActionReceipt(event_id, replayed=True)


def action_event_id(client: ApiClient, key: str | None) -> uuid.UUID:
    return uuid.uuid5(CASE_NAMESPACE, f"action:{client.id}:{key}") if key else uuid.uuid4()


async def record_and_publish(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    topic: str,
    client: ApiClient,
    case_id: uuid.UUID,
    body: ActionIn,
    role: Role,
    event_id: uuid.UUID,
    key: str | None,
    digest: str | None = None,
) -> ActionReceipt:
    """`digest`: the hash of the body as the client sent it (before intake settled its actor), so that a retry
    with the same Idempotency-Key matches."""
    action = lifecycle_action(body)
    assert body.actor.id is not None  # settled by with_actor
    name = client.person.name if client.person is not None else None
    data = ActionRequested(
        case_id=str(case_id),
        action=action.value,
        actor=Actor(id=body.actor.id, role=role.value, unit=body.actor.unit, name=name),
        reason_code=body.reason_code,
        text=body.text,
        payload=_payload(body, client),
    )
    event = new_event(data, source=EVENT_SOURCE, subject=str(case_id), event_id=str(event_id))
    async with conn.transaction():
        inserted = await action_requests.insert(
            conn, event_id, client.id, key, case_id, body.action, digest or action_hash(body)
        )
        if not inserted:  # the same request, committed meanwhile by a concurrent retry
            if await action_requests.body_hash(conn, event_id) != (digest or action_hash(body)):
                raise IdempotencyConflict(
                    "this Idempotency-Key was already used for a different action", field="Idempotency-Key"
                )
            return ActionReceipt(event_id, replayed=True)
        await publish(producer, topic, event)
    return ActionReceipt(event_id, replayed=False)
