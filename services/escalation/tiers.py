"""What a deadline fires, and when it next needs looking at: warnings, then overdue and escalate, then re-alerts.

Pure: the same row and the same time give the same plan. A deadline that passed while no worker ran fires
what is due now (overdue and escalate), not the warnings it missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.lifecycle import Tier


@dataclass(frozen=True, slots=True)
class Firing:
    tier: Tier
    index: int  # the tier's position; with the deadline id it names the event, so it fires once
    scheduled_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    fire: tuple[Firing, ...]
    fired: int
    next_fire_at: datetime


def plan(warn_times: list[datetime], due_at: datetime, fired: int, now: datetime, realert_every: timedelta) -> Plan:
    warnings = sorted(warn_times)
    count = len(warnings)
    if fired < count:
        if now < due_at:
            passed = [i for i in range(fired, count) if warnings[i] <= now]
            if not passed:
                return Plan((), fired, warnings[fired])
            last = passed[-1]  # only the latest warning matters once several are due at once
            after = last + 1
            return Plan(
                (Firing(Tier.WARNING, last, warnings[last]),), after, warnings[after] if after < count else due_at
            )
        fired = count  # past due: the warnings are moot
    if fired == count:
        if now < due_at:
            return Plan((), fired, due_at)
        fire = (Firing(Tier.OVERDUE, count, due_at), Firing(Tier.ESCALATE, count, due_at))
        return Plan(fire, count + 1, max(due_at, now) + realert_every)
    scheduled = due_at + (fired - count) * realert_every
    if now < scheduled:
        return Plan((), fired, scheduled)
    return Plan((Firing(Tier.REALERT, fired, scheduled),), fired + 1, now + realert_every)
