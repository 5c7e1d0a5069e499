"""Report up (上报) on a case: the lead reports the matter is beyond its unit, the rung above decides. Pure, on
commands.py's `_Work` (the same sequence: deadlines, row, history, notices).

* `report_up` (the lead, with a reason): a `report_up_decision` deadline for the rung above the lead (its
  decide-by: the catalog's reply_within_hours for the matter), the history entry, the rung told;
* `decide_report_up` (that rung or a unit above it): `take` (the deciding unit leads), `assign` (a branch or
  department named in `lead` leads) or `send_back` (the lead keeps it, with the instruction in the text);
* the decide-by passes undecided (`report_up_undecided`): the report-up never just bounces, it climbs to the rung
  above the one that did not decide, with a fresh decide-by; at the top the district command centre is chased
  again with a fresh one.

One report-up is pending at a time; its id is its current decide-by deadline's (the history links the climbs).
"""

from __future__ import annotations

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
from shared.domain.case.model import SYSTEM, Case, CaseDeadline, Changed, DeadlineStatus, Rules, derived_id
from shared.domain.case.supervising import rung_above, rungs_from, supervising_level
from shared.domain.lifecycle import IN_HANDLING, Action, DueKind, Tier
from shared.domain.model import Level
from shared.errors import Conflict, Forbidden, GridDispatchError, InvalidInput

# The history entries a report-up writes besides its actions' (report_up, decide_report_up)
CLIMBED = "report_up_climbed"  # undecided by its decide-by: the rung above decides now
REALERT = "report_up_realert"  # undecided at the top: the district command centre is chased again


class Decision:
    TAKE = "take"
    ASSIGN = "assign"
    SEND_BACK = "send_back"
    ALL = (TAKE, ASSIGN, SEND_BACK)


class ReportUpPending(Conflict):
    code = "report_up_pending"


class NowhereToReport(Conflict):
    code = "report_up_at_top"


class NoReportUp(Conflict):
    code = "no_report_up"


class NotTheRung(Forbidden):
    code = "not_report_up_rung"


class BadDecision(InvalidInput):
    code = "bad_report_up_decision"


class InstructionNeeded(InvalidInput):
    code = "instruction_needed"


class UnknownLead(InvalidInput):
    code = "unknown_unit"


def pending(case: Case) -> CaseDeadline | None:
    """The open decide-by of the case's pending report-up, if any."""
    return next((d for d in case.open_deadlines() if d.kind is DueKind.REPORT_UP_DECISION), None)


def report_up_by_hand(work: _Work, request: Request, action: Action, cause: str) -> None:
    """A report-up or its decision someone asked for (the lifecycle allowed the row): checked, then recorded."""
    try:
        if action is Action.REPORT_UP:
            _report_up(work, request, cause)
        else:
            _decide(work, request, cause)
    except GridDispatchError as exc:
        _refuse(work, request, cause, exc)


def _decide_within(work: _Work) -> timedelta:
    return timedelta(hours=work.rules.catalog.escalation_of(work.case.matter_code).reply_within_hours)


def _report_up(work: _Work, request: Request, cause: str) -> None:
    case = work.case
    assert case.lead is not None  # in handling
    if request.actor.unit != case.lead:
        raise NotTheRung(f"only the lead {case.lead} reports this case up, not {request.actor.unit}")
    if pending(case) is not None:
        raise ReportUpPending("this case is reported up already and waits for the decision")
    rung = supervising_level(case, work.rules)
    if rung is None or rung == case.lead:
        raise NowhereToReport(f"{case.lead} is the top of the ladder: there is no rung to report to")
    decide_by = work.open_deadline(
        DueKind.REPORT_UP_DECISION, rung, work.now, work.now + _decide_within(work), deadline_id=_id(cause)
    )
    detail = _clean(
        {
            "report_up_id": _latest_id(work),
            "reason": request.text,
            "reason_code": request.reason_code,
            "by": case.lead,
            "by_person": case.lead_person,
            "to": rung,
            "decide_by": decide_by.isoformat(),
            "grid": _is_grid(case, work.rules),
        }
    )
    work.entry(Action.REPORT_UP.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    work.notice(rung, "report_up", cause, person=work.responsible(rung))


def _decide(work: _Work, request: Request, cause: str) -> None:
    case, unit, payload = work.case, request.actor.unit, request.payload
    owed = pending(case)
    if owed is None:
        raise NoReportUp("this case has no report-up waiting for a decision")
    if unit is None or unit not in rungs_from(owed.party, work.rules, case.place):
        raise NotTheRung(f"{unit or 'no unit'} is not {owed.party}, the rung the report-up waits for, nor above it")
    decision = str(payload.get("decision") or "")
    if decision not in Decision.ALL:
        raise BadDecision(f"decision must be one of {', '.join(Decision.ALL)}", field="decision")
    new_lead = unit if decision == Decision.TAKE else str(payload.get("lead") or "")
    if decision == Decision.ASSIGN and not (
        new_lead.partition(":")[0] in ("branch", "department") and _known_assignee(work.rules, new_lead)
    ):
        raise UnknownLead(f"assign needs a known branch or department as lead, not {new_lead!r}", field="lead")
    if decision == Decision.SEND_BACK and not request.text:
        raise InstructionNeeded("send_back needs an instruction in the text", field="text")
    lead = case.lead
    assert lead is not None
    work.close_deadline(str(owed.deadline_id), DeadlineStatus.MET)
    detail = _clean(
        {
            "report_up_id": str(owed.deadline_id),
            "decision": decision,
            "by": unit,
            "rung": owed.party,
            "lead": lead if decision == Decision.SEND_BACK else new_lead,
            "instruction": request.text,
            "late": work.now > owed.due_at,
            "decide_by": owed.due_at.isoformat(),
        }
    )
    work.entry(Action.DECIDE_REPORT_UP.value, case.state, request.actor, detail, cause=cause, event_id=cause)
    if decision == Decision.SEND_BACK:
        work.notice(lead, "report_up_sent_back", cause)
        return
    keep = [p for p in (lead, *case.assisting) if p != new_lead]
    assignment = Assignment.fresh(new_lead, keep, case, work.rules, work.now)
    detail = {"from": lead, "to": new_lead, "reason": request.text, "report_up": decision}
    _assign(work, assignment, start=work.now, actor=request.actor, detail=_clean(detail), cause=cause)


def report_up_undecided(case: Case, fired: Fired, rules: Rules, now: datetime, *, cause: str) -> Changed | None:
    """A report-up's decide-by passed (its escalate tier): it climbs to the rung above, or chases the top again."""
    if fired.tier is not Tier.ESCALATE or case.state not in IN_HANDLING:
        return None
    missed = case.deadline(fired.deadline_id)
    if missed is None or not missed.is_open:
        return None  # decided (or voided by a new lead) before this event was applied
    work = _Work(case, rules, now)
    work.close_deadline(fired.deadline_id, DeadlineStatus.VOID)
    above = rung_above(missed.party, rules, case.place) or missed.party
    allowance = missed.due_at - missed.starts_at  # the same allowance again, already scaled
    decide_by = work.open_deadline(
        DueKind.REPORT_UP_DECISION, above, now, now + allowance, scale=1.0, deadline_id=_id(cause)
    )
    at_top = above == missed.party
    detail = {
        "report_up_id": _latest_id(work),
        "from_report_up": str(missed.deadline_id),
        "undecided_by": missed.party,
        "missed": missed.due_at.isoformat(),
        "to": above,
        "decide_by": decide_by.isoformat(),
    }
    action = REALERT if at_top else CLIMBED
    work.entry(action, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, action))
    work.notice(above, "report_up", cause, person=work.responsible(above))
    if case.lead is not None and not at_top:
        work.notice(case.lead, "report_up_climbed", cause)
    return work.done()


def _id(cause: str) -> UUID:
    """A decide-by's id, derived from the event that opened it (the same command gives the same facts)."""
    return UUID(derived_id(cause, "report_up"))


def _latest_id(work: _Work) -> str:
    """The id of the decide-by just opened (the last deadline of the row)."""
    return str(work.get("deadlines")[-1].deadline_id)


def _is_grid(case: Case, rules: Rules) -> bool:
    code = (case.lead or "").partition(":")[2]
    unit = rules.registry.units.get(code)
    return unit is not None and unit.level in (Level.GRID, Level.MICRO_GRID)


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if v is not None}
