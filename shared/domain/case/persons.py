"""Who answers for a part of a case: the checks of claim, hand over and reassign (pure; the commands apply them).

A part is the lead's (the lead unit) or an assisting party's. Its new person must hold a role in that very unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.domain.case.model import Case, Rules
from shared.domain.lifecycle import Action, Role
from shared.errors import Conflict, Forbidden, InvalidInput

if TYPE_CHECKING:
    from shared.domain.case.commands import Request


class NotInUnit(Forbidden):
    code = "not_in_unit"


class NotResponsible(Forbidden):
    code = "not_responsible"


class NotUnitHead(Forbidden):
    code = "not_unit_head"


class AlreadyResponsible(Conflict):
    code = "already_responsible"


class PersonRequired(InvalidInput):
    code = "person_required"


@dataclass(frozen=True, slots=True)
class Named:
    party: str  # the lead or the assisting party whose person changes
    person: str
    before: str | None


def who_takes_over(case: Case, request: Request, action: Action, rules: Rules) -> Named:
    """Who becomes responsible for which part, or why not: a claim names the actor, a hand-over (by the responsible
    person) and a reassignment (by the unit's head or a command centre) name a colleague of the same unit."""
    actor, people = request.actor, rules.people
    role = Role(actor.role)
    if role is Role.SUPERVISOR:
        party = str(request.payload.get("party") or case.lead or "")
        if party != case.lead and party not in case.assisting:
            raise NotInUnit(f"{party!r} is not the lead or an assisting party of this case")
    else:
        party = actor.unit or ""
    before = case.person_of(party)
    if action is Action.CLAIM:
        person = actor.id
    else:
        person = str(request.payload.get("person") or "")
        if not person:
            raise PersonRequired(f"{action.value} needs the person who takes the case over")
    if not people.holds(person, party):
        raise NotInUnit(f"{person!r} is not an active person of {party} (a case stays within its unit)")
    if person == before:
        raise AlreadyResponsible(f"{person!r} is already responsible for {party}'s part of this case")
    if action is Action.HAND_OVER and actor.id != before:
        raise NotResponsible(f"only the responsible person ({before or 'nobody'}) hands {party}'s part over")
    if action is Action.REASSIGN and role is not Role.SUPERVISOR and not people.is_head(actor.id, party):
        raise NotUnitHead(f"{actor.id!r} is not a head of {party}: only the head or a command centre reassigns")
    return Named(party, person, before)


def persons_by_party(case: Case) -> dict[str, str]:
    """party -> responsible person, of the lead and the assisting parts (an escalated lead keeps its person)."""
    had = dict(case.part_persons)
    if case.lead and case.lead_person:
        had[case.lead] = case.lead_person
    return had
