"""The names behind the codes a case shows (units, branches, departments), so a page can read them in Chinese,
and the actions the case's state allows each role (the console offers only those)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import asyncpg

from services.intake.act import api_actions
from services.intake.area import ACTIVE
from shared.domain.lifecycle import Role, State, allowed_actions

# A party as the case's rows and trace name it; a trace's `unit=` detail names a bare unit code.
_PARTY = re.compile(r"\b(unit|branch|department):([A-Za-z0-9_.\-]+)")
_ACTING_ROLES = (Role.ASSIGNEE, Role.ASSISTING, Role.SUPERVISOR)

_NAMES = f"""
    SELECT 'unit:' || code AS party, name FROM registry_units WHERE version_id = {ACTIVE} AND code = ANY($1)
    UNION ALL
    SELECT 'branch:' || code, name FROM registry_branches WHERE version_id = {ACTIVE} AND code = ANY($2)
    UNION ALL
    SELECT 'department:' || code, name FROM registry_departments WHERE version_id = {ACTIVE} AND code = ANY($3)"""


def parties_in(view: dict[str, Any]) -> set[str]:
    """Every party code a case's view mentions: its rows, history and trace (text included)."""
    text = json.dumps(view, ensure_ascii=False, default=str)
    found = {f"{kind}:{code.rstrip('.')}" for kind, code in _PARTY.findall(text)}
    routing = view.get("routing") or {}
    for step in routing.get("trace") or []:
        unit = (step.get("detail") or {}).get("unit") if isinstance(step, dict) else None
        if isinstance(unit, str):
            found.add(f"unit:{unit}")
    for entry in view.get("history") or []:
        for code in (entry.get("detail") or {}).get("departments") or []:
            if isinstance(code, str):
                found.add(f"department:{code}")
    place = (view.get("assignment") or {}).get("place")
    if isinstance(place, str):
        found.add(f"unit:{place}")
    return found


async def names_of(conn: asyncpg.Connection, parties: Iterable[str]) -> dict[str, str]:
    """party code -> its name in the active registry (codes it lacks are left out)."""
    by_kind: dict[str, list[str]] = {"unit": [], "branch": [], "department": []}
    for party in parties:
        kind, _, code = party.partition(":")
        if kind in by_kind and code:
            by_kind[kind].append(code)
    if not any(by_kind.values()):
        return {}
    rows = await conn.fetch(_NAMES, by_kind["unit"], by_kind["branch"], by_kind["department"])
    return {r["party"]: r["name"] for r in rows}


def allowed_by_role(state: str) -> dict[str, list[str]]:
    """The API's action names each acting role may take from the case's state (the lifecycle's table)."""
    try:
        current = State(state)
    except ValueError:
        return {role.value: [] for role in _ACTING_ROLES}
    return {role.value: api_actions(allowed_actions(current, role)) for role in _ACTING_ROLES}
