"""Consultation (会商) on a case: a street or community convenes units and departments, each answers with an
opinion by the deadline, the convener records the outcome, which re-dispatches the case. Pure, on commands.py's
`_Work` (the same sequence: deadlines, row, history, notices).

* `convene` (a street or community over the case's place, or the district on behalf of the case's street, with a
  topic in the text; the history's `detail.on_behalf_of` then names the street): `payload.invited` (units,
  branches, departments) each owe a `consultation_opinion` deadline at `payload.opinions_by` (default: the
  catalog's reply_within_hours from now); they may read the case from then on and are told;
* `give_opinion` (an invited party, its opinion in the text) by the deadline; after it: `consultation_closed`;
* `record_outcome` (the convener alone, or the district for a street convener, the outcome in the text):
  `payload.lead` leads and `payload.assisting` assist, assigned as a re-dispatch is (fresh deadlines, the
  assisting parties owe their part);
* the opinions-by passes (`consultation_unanswered`): no more answers, the parties that did not answer are
  recorded, the convener is told to record the outcome.

One consultation at a time; a new lead (the outcome, escalation, a re-dispatch) ends it with its deadlines.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from shared.domain.case.commands import (
    Assignment,
    Fired,
    Request,
    _assign,
    _known_assignee,
    _refuse,
    _Work,
)
from shared.domain.case.consultation import Consultation, Opinion
from shared.domain.case.model import SYSTEM, Case, Changed, DeadlineStatus, Rules, derived_id
from shared.domain.lifecycle import IN_HANDLING, Action, DueKind, Tier
from shared.domain.model import Level
from shared.errors import Conflict, Forbidden, GridDispatchError, InvalidInput

CLOSED = "consultation_unanswered"  # the history entry when the opinions-by passes
MAX_INVITED = 20


class ConsultationOpen(Conflict):
    code = "consultation_open"


class NoConsultation(Conflict):
    code = "no_consultation"


class ConsultationClosed(Conflict):
    code = "consultation_closed"


class OpinionGiven(Conflict):
    code = "opinion_given"


class NotConvener(Forbidden):
    code = "not_convener"


class NotInvited(Forbidden):
    code = "not_invited"


class CannotConvene(Forbidden):
    code = "convener_not_allowed"


class UnknownParty(InvalidInput):
    code = "unknown_unit"


class NobodyInvited(InvalidInput):
    code = "invited_needed"


class BadOpinionsBy(InvalidInput):
    code = "bad_opinions_by"


def consultation_by_hand(work: _Work, request: Request, action: Action, cause: str) -> None:
    """A consultation step someone asked for (the lifecycle allowed the row): checked, then recorded."""
    try:
        {Action.CONVENE: _convene, Action.GIVE_OPINION: _give_opinion, Action.RECORD_OUTCOME: _record_outcome}[action](
            work, request, cause
        )
    except GridDispatchError as exc:
        _refuse(work, request, cause, exc)


def may_convene(case: Case, rules: Rules, unit: str | None) -> bool:
    """A street or community whose area holds the case's place, or its district on behalf of the case's street."""
    return convener_for(case, rules, unit) is not None


def convener_for(case: Case, rules: Rules, unit: str | None) -> tuple[str, str | None] | None:
    """Who convenes when `unit` asks, and for whom it acts: (the convener, on_behalf_of), None when it may not.

    A street or community over the case's place convenes itself (on_behalf_of None). The district over the place
    convenes on behalf of the street the case lies in (区代街道, as for a summons): the street is the convener, the
    district who asked; it may record the outcome for the street too."""
    if unit is None or not unit.startswith("unit:") or not case.place or case.place not in rules.registry.units:
        return None
    code = unit.partition(":")[2]
    chain = rules.registry.chain(case.place)
    asking = next((u for u in chain if u.code == code), None)
    if asking is None:
        return None
    if asking.level in (Level.STREET, Level.COMMUNITY):
        return unit, None
    street = next((u for u in chain if u.level is Level.STREET), None)
    if asking.level is Level.DISTRICT and street is not None:
        return f"unit:{street.code}", f"unit:{street.code}"
    return None


def _parties(work: _Work, raw: object, field: str) -> tuple[str, ...]:
    listed = raw if isinstance(raw, list | tuple) else []
    parties = tuple(dict.fromkeys(str(p) for p in listed))
    unknown = [p for p in parties if not _known_assignee(work.rules, p)]
    if unknown:
        raise UnknownParty(f"no unit, branch or department {', '.join(unknown)}", field=field)
    return parties


def _convene(work: _Work, request: Request, cause: str) -> None:
    case, unit = work.case, request.actor.unit
    if case.consultation.is_open:
        raise ConsultationOpen("a consultation of this case is open: record its outcome first")
    convening = convener_for(case, work.rules, unit)
    if convening is None:
        raise CannotConvene(
            f"{unit or 'no unit'} is not a street or community over this case's place (nor its district)"
        )
    convener, on_behalf_of = convening
    invited = tuple(p for p in _parties(work, request.payload.get("invited"), "invited") if p not in (unit, convener))
    if not invited or len(invited) > MAX_INVITED:
        raise NobodyInvited(f"invite 1 to {MAX_INVITED} units or departments other than the convener", field="invited")
    asked = _time(request.payload.get("opinions_by"))
    if asked is not None and asked <= work.now:
        raise BadOpinionsBy("opinions_by must be later than now", field="opinions_by")
    hours = work.rules.catalog.escalation_of(case.matter_code).reply_within_hours
    due_at = asked or work.now + timedelta(hours=hours)
    opinions_by = due_at
    for party in invited:
        opinions_by = work.open_deadline(
            DueKind.CONSULTATION_OPINION, party, work.now, due_at, deadline_id=_id(cause, party)
        )
    consultation = Consultation(
        derived_id(cause, "consultation"), convener, request.actor.id, request.text or "", invited, opinions_by
    )
    work.set(consultation=consultation, scope_keys=work.keys_with(invited))  # the invited may read the case
    detail = {
        "consultation_id": consultation.consultation_id,
        "convener": convener,
        "invited": list(invited),
        "opinions_by": opinions_by.isoformat(),
        "topic": request.text,
        **({"on_behalf_of": on_behalf_of} if on_behalf_of else {}),
    }
    work.entry(Action.CONVENE.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    for party in invited:
        work.notice(party, "consultation_invited", cause, person=work.responsible(party))


def _give_opinion(work: _Work, request: Request, cause: str) -> None:
    case, party = work.case, request.actor.unit or ""
    held = case.consultation
    if not held.is_open:
        raise NoConsultation("this case has no open consultation")
    if party not in held.invited:
        raise NotInvited(f"{party or 'no unit'} is not invited to this consultation")
    if held.closed or (held.opinions_by is not None and work.now > held.opinions_by):
        when = held.opinions_by.isoformat() if held.opinions_by else "?"
        raise ConsultationClosed(f"the opinions were due by {when}: this consultation takes no more answers")
    if held.opinion_of(party) is not None:
        raise OpinionGiven(f"{party} has given its opinion already")
    owed = _id_of(case, party)
    if owed is not None:
        work.close_deadline(str(owed), DeadlineStatus.MET)
    opinion = Opinion(party, request.actor.id, work.now, request.text or "")
    work.set(consultation=held.with_opinion(opinion))
    detail = {"consultation_id": held.consultation_id, "party": party, "opinion": request.text}
    work.entry(Action.GIVE_OPINION.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    if held.convener:
        work.notice(held.convener, "consultation_opinion", cause, person=held.convened_by)


def _record_outcome(work: _Work, request: Request, cause: str) -> None:
    case, unit = work.case, request.actor.unit
    held = case.consultation
    if not held.is_open:
        raise NoConsultation("this case has no open consultation")
    on_behalf_of = _for_convener(case, work.rules, unit)
    if unit != held.convener and on_behalf_of is None:
        raise NotConvener(
            f"only the convener {held.convener} (or its district for it) records the outcome, not {unit or 'no unit'}"
        )
    lead = str(request.payload.get("lead") or "")
    if not _known_assignee(work.rules, lead):
        raise UnknownParty(f"the outcome needs a known lead, not {lead!r}", field="lead")
    assisting = tuple(p for p in _parties(work, request.payload.get("assisting"), "assisting") if p != lead)
    detail: dict[str, Any] = {
        "consultation_id": held.consultation_id,
        "convener": held.convener,
        "outcome": request.text,
        "lead": lead,
        "assisting": list(assisting),
        "invited": list(held.invited),
        "answered": [o.party for o in held.opinions],
        "unanswered": list(held.unanswered),
        **({"on_behalf_of": on_behalf_of} if on_behalf_of else {}),
    }
    work.entry(Action.RECORD_OUTCOME.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    before = case.lead
    assignment = Assignment.fresh(lead, assisting, work.case, work.rules, work.now)
    reason = {"from": before, "to": lead, "reason": request.text, "consultation": held.consultation_id}
    _assign(work, assignment, start=work.now, actor=request.actor, detail=reason, cause=cause)


def _for_convener(case: Case, rules: Rules, unit: str | None) -> str | None:
    """The street convener the district `unit` acts for (the consultation convened by or for that street)."""
    convening = convener_for(case, rules, unit)
    if convening is None or convening[1] is None or convening[1] != case.consultation.convener:
        return None
    return convening[1]


def opinions_due(case: Case, fired: Fired, rules: Rules, now: datetime, *, cause: str) -> Changed | None:
    """The opinions-by passed (its escalate tier): the consultation takes no more answers, the convener is told."""
    held = case.consultation
    if fired.tier is not Tier.ESCALATE or case.state not in IN_HANDLING or not held.is_open or held.closed:
        return None
    missed = case.deadline(fired.deadline_id)
    if missed is None or missed.kind is not DueKind.CONSULTATION_OPINION or missed.party not in held.invited:
        return None
    work = _Work(case, rules, now)
    work.close_deadlines(DeadlineStatus.VOID, kinds=[DueKind.CONSULTATION_OPINION])
    work.set(consultation=replace(held, closed=True))
    detail = {
        "consultation_id": held.consultation_id,
        "opinions_by": held.opinions_by.isoformat() if held.opinions_by else None,
        "unanswered": list(held.unanswered),
    }
    work.entry(CLOSED, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, CLOSED))
    if held.convener:
        work.notice(held.convener, "consultation_due", cause, person=held.convened_by)
    return work.done()


def _id(cause: str, party: str) -> UUID:
    """An invited party's opinions-by id, derived from the event that convened (the same command, the same ids)."""
    return UUID(derived_id(cause, f"consultation/{party}"))


def _id_of(case: Case, party: str) -> UUID | None:
    owed = next((d for d in case.open_deadlines() if d.kind is DueKind.CONSULTATION_OPINION and d.party == party), None)
    return owed.deadline_id if owed else None


def _time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadOpinionsBy("opinions_by must be a time with an offset", field="opinions_by") from exc
    if parsed.tzinfo is None:
        raise BadOpinionsBy("opinions_by must be a time with an offset", field="opinions_by")
    return parsed
