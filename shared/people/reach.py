"""What an administrator holding only some units may manage: persons whose roles lie within those units.

`within` is every unit key at or below the administrator's units (shared/registry_store/reach.py computes it
from the active registry), or None for an administrator of the whole district (`*`). A person is *seen* when
one of their roles lies within; *managed* (changed, given a password, granted or revoked a role) only when all
of them do, so nobody reaches a role above their own through a person who also holds a role below it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from shared.people.model import RoleGrant


def sees(within: Collection[str] | None, units: Iterable[str]) -> bool:
    return within is None or any(u in within for u in units)


def manages(within: Collection[str] | None, units: Iterable[str]) -> bool:
    if within is None:
        return True
    held = list(units)
    return bool(held) and all(u in within for u in held)


def may_grant(within: Collection[str] | None, grant: RoleGrant) -> bool:
    return within is None or grant.unit in within
