"""Intake's checks of the clock's actions (延期, 挂起): the lead asks (request_extension, request_suspension), the
supervising level decides (decide_extension, decide_suspension), either resumes. Dispatch decides again on the case
as it stands then, with the catalog's limits (shared/domain/case/clock_commands.py); these answer at once what the
case row already shows: who leads, who supervises, what is pending or suspended.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.intake.schemas import ActionIn
from services.intake.supervise import supervising_units
from shared.api_clients import ApiClient, Scope
from shared.domain.case.clock_commands import (
    AlreadySuspended,
    ExtensionPending,
    NothingToDecide,
    NotLater,
    NotLead,
    NotSuspended,
    SuspensionPending,
)
from shared.domain.case.supervision_commands import NotSupervising
from shared.errors import Forbidden, InvalidInput

BY_LEAD = frozenset({"request_extension", "request_suspension"})
BY_SUPERVISOR = frozenset({"decide_extension", "decide_suspension"})
PENDING = {"decide_extension": "extension_asked", "decide_suspension": "suspension_asked"}


def clock_of(row: asyncpg.Record) -> dict[str, Any]:
    raw = row.get("clock")
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return dict(data)


async def check(conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record | None) -> None:
    """Refuse at once what the case row shows is not this client's to do (nothing for the other actions)."""
    if row is None or body.action not in (*BY_LEAD, *BY_SUPERVISOR, "resume"):
        return
    clock, lead = clock_of(row), row["lead"]
    if body.action in BY_LEAD:
        if body.actor.unit != lead:
            raise NotLead(f"only the lead unit ({lead}) may ask for this, not {body.actor.unit}", field="actor.unit")
        if "suspended" in clock:
            raise AlreadySuspended("the clock of this case is suspended", since=clock["suspended"]["since"])
        pending = "extension_asked" if body.action == "request_extension" else "suspension_asked"
        if pending in clock:
            error = ExtensionPending if body.action == "request_extension" else SuspensionPending
            raise error(f"a request asked at {clock[pending]['at']} awaits its decision")
        if body.resolve_by is not None and row["resolve_by"] is not None and body.resolve_by <= row["resolve_by"]:
            raise NotLater(
                f"the new resolve-by must be later than the current one ({row['resolve_by'].isoformat()})",
                field="resolve_by",
            )
        return
    if body.action == "resume":
        if "suspended" not in clock:
            raise NotSuspended("the clock of this case is not suspended")
        if body.actor.unit == lead:
            return
    await _check_supervising(conn, client, body, row)
    if body.action in PENDING and PENDING[body.action] not in clock:
        raise NothingToDecide(f"no {PENDING[body.action].split('_')[0]} awaits a decision on this case")


async def _check_supervising(conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record) -> None:
    if not client.has(Scope.SUPERVISE):
        raise Forbidden(f"{body.action} needs the supervise scope (a supervising level's key)", scope="supervise")
    if body.actor.unit is None:
        raise InvalidInput(f"{body.action}: name the supervising unit you act for", field="actor.unit")
    if row["lead"] is not None:
        allowed = await supervising_units(conn, row["lead"], list(row["scope_keys"]))
        if body.actor.unit not in allowed:
            raise NotSupervising(
                f"{body.actor.unit} is not the supervising level of this case (the rung above {row['lead']}) "
                "nor a unit above it",
                field="actor.unit",
            )
