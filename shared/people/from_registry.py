"""Who the registry lists: every person of the units, departments and branches with the roles it gives them.

Pure: a `Registry` in, `Listed` people out. The store (shared/people/store.py) writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.model import Level
from shared.domain.model import Person as RegistryPerson
from shared.domain.registry import Registry
from shared.people.model import RoleGrant, role_from_registry


@dataclass(frozen=True, slots=True)
class Listed:
    """One person as the registry lists them: name and phone from their first listing, roles from all."""

    id: str
    name: str
    phone: str | None
    roles: tuple[RoleGrant, ...]


def listed_people(registry: Registry) -> list[Listed]:
    """Every person of the registry once, by id, in the order first listed (units, departments, branches)."""
    found: dict[str, tuple[RegistryPerson, set[RoleGrant]]] = {}

    def take(people: Iterable[RegistryPerson], unit: str, level: Level | None) -> None:
        for p in people:
            grant = RoleGrant(role_from_registry(p.role, level), unit)
            found.setdefault(p.id, (p, set()))[1].add(grant)

    for u in registry.units.values():
        take(u.people, f"unit:{u.code}", u.level)
    for d in registry.departments.values():
        take(d.people, f"department:{d.code}", None)
    for b in registry.branches.values():
        take(b.people, f"branch:{b.code}", None)
    return [Listed(p.id, p.name, p.phone, tuple(sorted(grants))) for p, grants in found.values()]
