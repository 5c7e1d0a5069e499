"""Staging the events dispatch publishes: the audit trail, assignments (also per department), refusals.

Event ids are derived from the event that caused them, so redoing the same work yields the same ids and
every consumer can drop what it has already seen.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.dispatch.context import Context
from shared.events import new_event
from shared.events.types import ActionRejected, Actor, CaseAssigned, CaseChanged, Contract
from shared.outbox import stage

SOURCE = "/griddispatch/dispatch"
_NAMESPACE = uuid.UUID("0f3c2a53-2f1e-4d7b-8a63-5b2d6c1e9f40")


def derived_id(cause: str, purpose: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{cause}/{purpose}"))


async def _stage(conn: asyncpg.Connection, topics: list[str], data: Contract, subject: str, event_id: str) -> list[int]:
    event = new_event(data, source=SOURCE, subject=subject, event_id=event_id)
    ids = [await stage(conn, topic, event) for topic in topics]
    return [i for i in ids if i is not None]


async def change(
    conn: asyncpg.Connection,
    ctx: Context,
    case: dict[str, Any],
    *,
    seq: int,
    action: str,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    detail: dict[str, Any],
    cause: str,
) -> list[int]:
    data = CaseChanged(
        case_id=str(case["case_id"]),
        seq=seq,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        lead=case.get("lead"),
        assisting=tuple(case.get("assisting") or ()),
        detail=detail,
    )
    return await _stage(conn, [ctx.topics.case_events], data, str(case["case_id"]), derived_id(cause, f"change/{seq}"))


def department_of(ctx: Context, assignee: str) -> str | None:
    kind, _, code = assignee.partition(":")
    if kind == "branch" and code in ctx.registry.branches:
        return ctx.registry.branches[code].department
    return code if kind == "department" else None


async def assignment(
    conn: asyncpg.Connection, ctx: Context, case: dict[str, Any], assignee: str, role: str, cause: str
) -> list[int]:
    """One assignee's notice; department systems get it on their own topic too."""
    data = CaseAssigned(
        case_id=str(case["case_id"]),
        case_number=case["case_number"],
        assignee=assignee,
        role=role,
        matter_code=case.get("matter_code"),
        level=case.get("level") or "",
        accept_by=case.get("accept_by"),
        resolve_by=case.get("resolve_by"),
        title=case["title"],
    )
    topics = [ctx.topics.assignments]
    department = department_of(ctx, assignee)
    if department is not None:
        topics.append(ctx.topics.department_assignments(department))
    return await _stage(conn, topics, data, str(case["case_id"]), derived_id(cause, f"assign/{assignee}/{role}"))


async def rejection(
    conn: asyncpg.Connection,
    ctx: Context,
    case_id: str,
    *,
    action_event_id: str,
    action: str,
    actor: Actor,
    state: str | None,
    code: str,
    reason: str,
) -> list[int]:
    data = ActionRejected(
        case_id=case_id,
        action_event_id=action_event_id,
        action=action,
        actor=actor,
        state=state,
        code=code,
        reason=reason,
    )
    return await _stage(conn, [ctx.topics.case_events], data, case_id, derived_id(action_event_id, "rejected"))
