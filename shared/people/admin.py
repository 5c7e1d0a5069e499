"""What the CLI and the admin API share beyond the store: grants checked against the active registry."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from shared.errors import InvalidInput
from shared.people.model import RoleGrant
from shared.registry_store.reach import existing_keys


class UnknownUnit(InvalidInput):
    code = "unknown_unit"


class UnknownRole(InvalidInput):
    code = "unknown_role"


def parse_grant(text: str) -> RoleGrant:
    """`grid_worker@unit:610102001001` -> RoleGrant; 422 `unknown_role` / `invalid_input` otherwise."""
    role, at, unit = text.partition("@")
    if not at:
        raise InvalidInput(f"{text!r} is not <role>@<unit>, e.g. grid_worker@unit:610102001001", field="role")
    return grant_of(role.strip(), unit.strip())


def grant_of(role: str, unit: str) -> RoleGrant:
    try:
        return RoleGrant.of(role, unit)
    except InvalidInput as exc:
        if exc.detail.get("field") == "role":
            raise UnknownRole(exc.message, field="role") from None
        raise


async def check_units_known(conn: asyncpg.Connection | asyncpg.Pool, grants: Iterable[RoleGrant]) -> None:
    """Every grant's unit is `*` or a unit, department or branch of the active registry (422 `unknown_unit`)."""
    units = {g.unit for g in grants if g.unit != "*"}
    if not units:
        return
    missing = sorted(units - await existing_keys(conn, units))
    if missing:
        raise UnknownUnit(f"the active registry has no {', '.join(missing)}", field="unit", units=missing)
