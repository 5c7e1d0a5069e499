"""Intake's checks of consultation (会商): a street or community over the case's place convenes (`convene`, with
the invited units and departments and the opinions' deadline; the district over the place convenes on behalf of the
case's street), each invited party answers (`give_opinion`) by the deadline, the convener (or the district for a
street convener) records the outcome (`record_outcome`: the decided lead and assisting units). Dispatch
decides again on the case as it stands then (shared/domain/case/consultation_commands.py); these answer at once what
the case row shows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.intake.act import _KNOWN, ACTIVE, UnknownUnit, consultation_of, unit_chain
from services.intake.schemas import ActionIn
from shared.api_clients import ApiClient, Scope
from shared.domain.case.consultation_commands import (
    CannotConvene,
    ConsultationClosed,
    ConsultationOpen,
    NoConsultation,
    NotConvener,
    NotInvited,
    OpinionGiven,
)
from shared.domain.model import Level
from shared.errors import Forbidden, InvalidInput

ACTIONS = frozenset({"convene", "give_opinion", "record_outcome"})
_CONVENERS = [Level.STREET.value, Level.COMMUNITY.value]
_LEVEL = f"SELECT level FROM registry_units WHERE version_id = {ACTIVE} AND code = $1"


async def check(conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record | None) -> None:
    """Refuse at once what the case row shows is not this client's to do (nothing for the other actions)."""
    if row is None or body.action not in ACTIONS:
        return
    held, unit = consultation_of(row), body.actor.unit
    if body.action == "convene":
        await _check_convene(conn, client, body, row, bool(held))
        return
    if not held:
        raise NoConsultation("this case has no open consultation")
    if body.action == "record_outcome":
        convener = held.get("convener")
        if unit != convener and (convener is None or await _street_for(conn, unit, row) != convener):
            raise NotConvener(
                f"only the convener {convener} (or its district for it) records the outcome, not {unit or 'no unit'}",
                field="actor.unit",
            )
        await _known(conn, [body.unit or "", *body.assisting], "unit")
        return
    if unit not in held.get("invited", []):
        raise NotInvited(f"{unit or 'no unit'} is not invited to this consultation", field="actor.unit")
    due = held.get("opinions_by")
    if held.get("closed") or (due and datetime.now(UTC) > datetime.fromisoformat(due)):
        raise ConsultationClosed(
            f"the opinions were due by {due}: this consultation takes no more answers", opinions_by=due
        )
    if any(o.get("party") == unit for o in held.get("opinions", [])):
        raise OpinionGiven(f"{unit} has given its opinion already")


async def _check_convene(
    conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record, already: bool
) -> None:
    if not client.has(Scope.SUPERVISE):
        raise Forbidden("convene needs the supervise scope (a street's or community's key)", scope="supervise")
    unit = body.actor.unit
    if unit is None:
        raise InvalidInput("convene: name the street or community you convene for", field="actor.unit")
    if already:
        raise ConsultationOpen("a consultation of this case is open: record its outcome first")
    kind, _, code = unit.partition(":")
    place = row["place"]
    over = await unit_chain(conn, f"unit:{place}") if place else frozenset()
    itself = kind == "unit" and unit in over and await conn.fetchval(_LEVEL, code) in _CONVENERS
    if not itself and await _street_for(conn, unit, row) is None:
        raise CannotConvene(
            f"{unit} is not a street or community over this case's place (nor its district)", field="actor.unit"
        )
    await _known(conn, body.invited, "invited")


async def _street_for(conn: asyncpg.Connection, unit: str | None, row: asyncpg.Record) -> str | None:
    """The case's street when `unit` is the district over the case's place (it acts on the street's behalf)."""
    place = row["place"]
    if unit is None or not unit.startswith("unit:") or not place:
        return None
    over = await unit_chain(conn, f"unit:{place}")
    if unit not in over or await conn.fetchval(_LEVEL, unit.partition(":")[2]) != Level.DISTRICT.value:
        return None
    for party in sorted(over):
        if await conn.fetchval(_LEVEL, party.partition(":")[2]) == Level.STREET.value:
            return party
    return None


async def _known(conn: asyncpg.Connection, parties: list[str], field: str) -> None:
    for party in parties:
        kind, _, code = party.partition(":")
        if kind not in _KNOWN or not await conn.fetchval(_KNOWN[kind], code):
            raise UnknownUnit(f"no {kind} {code!r} in the active registry", field=field)
