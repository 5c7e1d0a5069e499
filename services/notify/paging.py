"""Whom an alert pages: a PagerDuty-style escalation policy inside the unit, pure (no I/O).

A party's policy has three levels, each a set of persons:

1. `responsible`: the party's responsible person for the case (the `person` a `case.assigned` names; for a fired
   deadline, the case's `lead_person` or the party's `part_persons` entry), while active; else whoever answers for
   the party now (`duty.responsible_for`: on duty, a micro-grid's worker, its head);
2. `head`: the party's heads (`HEAD_ROLES` held in it);
3. `next_rung`: the responsible person of the unit above (on duty there, else its head).

An event reaches a *step* (`reach`): a new assignment step 1; a deadline's warning step 1 (an accept warning,
not accepted within a step, step 2); overdue and re-alerts step 3; the escalate tier, fired with overdue, and a
follow-up window page nobody (the overdue alert pages; dispatch's move one rung up sends `case.assigned` to the
new lead's person). The persons of every level up to the step are paged; a level with nobody is passed over to
the next one, so an alert whose levels are all empty up to its step goes on up until someone is paged.

A party with no responsible person recorded (dispatch found nobody on duty and no head) is *unstaffed*: its alert
is flagged, and reaches at least its heads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from services.notify.audience import CaseView, Person
from shared.domain.lifecycle import DueKind, Tier
from shared.events import CloudEvent, EventType
from shared.people.duty import PeopleSnapshot, responsible_for
from shared.people.fields import PHONE_PATTERN
from shared.people.model import HEAD_ROLES

_PHONE = re.compile(PHONE_PATTERN)


class Step(IntEnum):
    NONE = 0
    RESPONSIBLE = 1
    HEAD = 2
    NEXT_RUNG = 3


LEVEL_NAMES = {Step.RESPONSIBLE: "responsible", Step.HEAD: "head", Step.NEXT_RUNG: "next_rung"}

# How far up a fired deadline goes, by tier; an accept warning also tells the heads.
_TIER_STEPS: dict[Tier, Step] = {
    Tier.WARNING: Step.RESPONSIBLE,
    Tier.OVERDUE: Step.NEXT_RUNG,
    Tier.REALERT: Step.NEXT_RUNG,
    Tier.ESCALATE: Step.NONE,
}
_PAGED_KINDS = frozenset({DueKind.ACCEPT, DueKind.RESOLVE, DueKind.REPORT_IN, DueKind.VERIFY, DueKind.ORDER_REPLY})


def reach(event: CloudEvent[Any]) -> Step:
    """How far up the party's policy `event` pages."""
    if event.type is EventType.CASE_ASSIGNED:
        return Step.RESPONSIBLE
    if event.type is not EventType.DEADLINE_FIRED or event.data.kind not in _PAGED_KINDS:
        return Step.NONE
    if event.data.tier is Tier.WARNING and event.data.kind is DueKind.ACCEPT:
        return Step.HEAD  # not accepted within a step: the unit head hears of it
    return _TIER_STEPS[event.data.tier]


def party_of(event: CloudEvent[Any]) -> str | None:
    """The unit, branch or department whose policy an event runs."""
    if event.type in (EventType.CASE_ASSIGNED, EventType.DEADLINE_FIRED):
        party: str = event.data.assignee
        return party
    return None


def named_person(event: CloudEvent[Any], case: CaseView | None) -> str | None:
    """The party's responsible person as dispatch recorded it: the event's, else the case row's."""
    if event.type is EventType.CASE_ASSIGNED:
        person: str | None = event.data.person
        return person
    if case is None:
        return None
    party = party_of(event)
    if party is not None and party == case.lead:
        return case.lead_person
    return case.part_persons.get(party or "")


@dataclass(frozen=True, slots=True)
class Paged:
    """Who is paged (person id, the level that named them), in level order, and whether the party is unstaffed."""

    persons: tuple[tuple[str, str], ...] = ()
    unstaffed: bool = False
    step: Step = Step.NONE

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.persons)


NOBODY = Paged()


def page(
    step: Step,
    party: str,
    named: str | None,
    at: datetime,
    snapshot: PeopleSnapshot,
    *,
    level: str | None = None,
    next_rung: str | None = None,
    next_level: str | None = None,
    known_case: bool = True,
) -> Paged:
    """The persons `step` pages in `party`'s policy at `at` (aware), from a snapshot of the party's and the next
    rung's persons, roles and rosters. `named`: the party's responsible person as recorded (None: nobody)."""
    if step is Step.NONE:
        return NOBODY
    unstaffed = known_case and named is None
    if unstaffed:
        step = max(step, Step.HEAD)  # nobody answers for it: its heads hear of it at once
    if named is not None and named in snapshot.active:
        responsible: str | None = named
    else:
        responsible = responsible_for(party, at, snapshot, level=level)
    above = responsible_for(next_rung, at, snapshot, level=next_level) if next_rung else None
    levels: tuple[tuple[Step, Sequence[str]], ...] = (
        (Step.RESPONSIBLE, (responsible,) if responsible else ()),
        (Step.HEAD, snapshot.holders(party, HEAD_ROLES)),
        (Step.NEXT_RUNG, (above,) if above else ()),
    )
    chosen: dict[str, str] = {}
    for n, persons in levels:
        if n > step and chosen:
            break  # past the step, and someone is paged: stop
        for person in persons:
            chosen.setdefault(person, LEVEL_NAMES[n])
    return Paged(tuple(chosen.items()), unstaffed, step)


def deliverable(phone: str | None) -> bool:
    """A number an SMS can be sent to: digits (a leading +, spaces, dashes); a masked one (`138****5210`) is not."""
    return bool(phone) and bool(_PHONE.fullmatch(phone or ""))


def contacts(paged: Paged, phones: Mapping[str, str | None]) -> tuple[tuple[Person, ...], tuple[str, ...]]:
    """The paged persons with a deliverable phone, and those without one (masked or missing), in order."""
    reachable: list[Person] = []
    unreachable: list[str] = []
    for person in paged.ids:
        phone = phones.get(person)
        if phone is not None and deliverable(phone):
            reachable.append(Person(person, phone))
        else:
            unreachable.append(person)
    return tuple(reachable), tuple(unreachable)
