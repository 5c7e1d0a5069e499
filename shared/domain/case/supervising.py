"""The supervising level of a case (督办的上级): the next rung above its lead, and who may act as it.

    supervising_level(case, rules)        # "unit:610199004" for a case led by a grid of that street's community
    may_supervise(case, rules, "unit:…")  # that rung, or a unit above it

The rung is the ladder's (shared.domain.routing.ladder.escalate): micro-grid → grid → community → street →
district; branch → department → district. The district command centre supervises itself at the top. Pure.
"""

from __future__ import annotations

from shared.domain.case.model import Case, Rules
from shared.domain.routing import RoutingError, escalate, parse_assignee

_MAX_RUNGS = 10  # a ladder is five rungs at most: a registry with a loop still ends


def supervising_level(case: Case, rules: Rules) -> str | None:
    """The next rung above the case's lead (the lead itself at the top); None without a lead or a known one."""
    if case.lead is None:
        return None
    return rung_above(case.lead, rules, case.place)


def rung_above(party: str, rules: Rules, place: str | None) -> str | None:
    """The rung above `party` on the ladder (itself at the top); None for a party the registry does not know."""
    try:
        step = escalate(parse_assignee(party), rules.registry, place=place)
    except (RoutingError, ValueError, KeyError):
        return None
    return str(step.target)


def rungs_from(party: str, rules: Rules, place: str | None) -> tuple[str, ...]:
    """`party`, then every rung above it up to the district command centre."""
    found = [party]
    for _ in range(_MAX_RUNGS):
        above = rung_above(found[-1], rules, place)
        if above is None or above in found:
            break
        found.append(above)
    return tuple(found)


def may_supervise(case: Case, rules: Rules, unit: str | None) -> bool:
    """Whether someone acting for `unit` may act as the case's supervising level: the rung itself, or above it."""
    level = supervising_level(case, rules)
    if unit is None or level is None:
        return False
    if unit == case.lead and level != case.lead:
        return False  # a lead below the top does not supervise itself
    return unit in rungs_from(level, rules, case.place)
