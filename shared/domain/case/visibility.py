"""Who may see a case: its parties, their departments, every unit above the place it happened, its client."""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.registry import Registry


def scope_keys(registry: Registry, parties: Iterable[str], place: str | None, submitted_by: str | None) -> list[str]:
    keys: set[str] = set()
    for party in parties:
        keys.add(party)
        kind, _, code = party.partition(":")
        if kind == "branch" and code in registry.branches:
            keys.add(f"department:{registry.branches[code].department}")
        elif kind == "unit" and code in registry.units:
            keys.update(f"unit:{u.code}" for u in registry.chain(code))
    if place and place in registry.units:
        keys.update(f"unit:{u.code}" for u in registry.chain(place))
    if submitted_by:
        keys.add(f"client:{submitted_by}")
    return sorted(keys)
