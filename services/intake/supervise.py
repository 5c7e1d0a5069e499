"""Intake's checks of the supervision actions (督办): urge and supervise_order by the supervising level, reply_order
by the lead an open order is addressed to. Dispatch decides again on the case as it stands then
(shared/domain/case/supervision_commands.py); these answer at once what the case row already shows.

The supervising level is the rung above the lead (micro-grid → grid → community → street → district; branch →
department → district), and someone acts as it when their client has the supervise scope and their unit is
that rung or a unit above it (shared/domain/case/supervising.py holds the same rule on the registry).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.intake.act import ACTIVE, unit_chain
from services.intake.schemas import ActionIn
from shared.api_clients import ApiClient, Scope
from shared.domain.case.supervision_commands import NotSupervising, NotYourOrder, UnknownOrder
from shared.errors import Forbidden, InvalidInput

BY_SUPERVISOR = frozenset({"urge", "supervise_order"})

_RUNG_ABOVE = f"""SELECT CASE split_part($1, ':', 1)
    WHEN 'unit' THEN coalesce(
        (SELECT 'unit:' || parent FROM registry_units
         WHERE version_id = {ACTIVE} AND code = split_part($1, ':', 2) AND parent IS NOT NULL), $1)
    WHEN 'branch' THEN (SELECT 'department:' || department FROM registry_branches
                        WHERE version_id = {ACTIVE} AND code = split_part($1, ':', 2))
    END"""
# a department's rung above: the district command centre of the case's place
_DISTRICTS = f"""SELECT coalesce(array_agg('unit:' || code), '{{}}') FROM registry_units
    WHERE version_id = {ACTIVE} AND parent IS NULL AND 'unit:' || code = ANY($1::text[])"""


async def rung_above(conn: asyncpg.Connection, party: str) -> str | None:
    """The rung above a unit (itself at the top) or a branch (its department); None for a department."""
    level: str | None = await conn.fetchval(_RUNG_ABOVE, party)
    return level


async def district_units(conn: asyncpg.Connection, scope_keys: list[str]) -> frozenset[str]:
    """The district command centre(s) of a case's place: a department's rung above."""
    districts: list[str] = await conn.fetchval(_DISTRICTS, scope_keys)
    return frozenset(districts)


async def supervising_units(conn: asyncpg.Connection, lead: str, scope_keys: list[str]) -> frozenset[str]:
    """The units that may act as the supervising level of a case led by `lead`: the rung above it and above."""
    level = await rung_above(conn, lead)
    if level is None:  # a department: the district command centre supervises
        return await district_units(conn, scope_keys)
    above = await unit_chain(conn, level)
    return above if level == lead else above - {lead}


def open_orders(row: asyncpg.Record) -> list[dict[str, Any]]:
    raw = row["supervision"]
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return list(data.get("orders", []))


async def check(conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record | None) -> None:
    """Refuse at once what the case row shows is not this client's to do (nothing for the other actions)."""
    if body.action in BY_SUPERVISOR:
        if not client.has(Scope.SUPERVISE):
            raise Forbidden(f"{body.action} needs the supervise scope (a supervising level's key)", scope="supervise")
        if body.actor.unit is None:
            raise InvalidInput(f"{body.action}: name the supervising unit you act for", field="actor.unit")
        if row is not None and row["lead"] is not None:
            allowed = await supervising_units(conn, row["lead"], list(row["scope_keys"]))
            if body.actor.unit not in allowed:
                raise NotSupervising(
                    f"{body.actor.unit} is not the supervising level of this case (the rung above {row['lead']}) "
                    "nor a unit above it",
                    field="actor.unit",
                )
    if body.action == "reply_order" and row is not None:
        order = next((o for o in open_orders(row) if o.get("order_id") == str(body.order_id)), None)
        if order is None:
            raise UnknownOrder(f"no open supervision order {body.order_id} on this case", field="order_id")
        if order.get("to") != body.actor.unit:
            raise NotYourOrder(
                f"order {body.order_id} is addressed to {order.get('to')}, not {body.actor.unit}", field="order_id"
            )
