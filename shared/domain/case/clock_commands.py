"""The case's clock (延期, 挂起): the lead asks, the supervising level decides. Pure, on commands.py's `_Work`.

* `request_extension` (the lead, a later `resolve_by` and a reason) → `decide_extension` (the supervising level,
  `approved`): approval moves the resolve-by and its warnings; the catalog's `extension` limits how many per lead
  and how many working days each may add.
* `request_suspension` (the lead, a reason, maybe a `resume_at`) → `decide_suspension`: approval stops the clock:
  the lead's open resolve-by (its warnings and escalation with it) is void, what was left of it kept;
* `resume` (the lead or the supervising level): the remaining allowance runs again from now, on the working-day
  calendar for a working-day matter (office time), on the wall clock otherwise.

A case that leaves handling while suspended (resolved, cancelled) ends its suspension (`ended_while_suspended`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.domain.calendar import after_working_seconds, warning_times, working_seconds_between
from shared.domain.case.clock import Asked, Clock, Stopped, Suspension
from shared.domain.case.commands import DEFAULT_WARN_AT, Fired, Request, _refuse, _Work
from shared.domain.case.model import SYSTEM, Case, Changed, DeadlineStatus, Rules, Who, derived_id
from shared.domain.case.supervising import may_supervise, supervising_level
from shared.domain.case.supervision_commands import NotSupervising
from shared.domain.lifecycle import CLOCK_STATES, Action, DueKind
from shared.domain.model import ClockKind, ExtensionRule
from shared.errors import Conflict, Forbidden, GridDispatchError, InvalidInput

# what the lead is told: a decision, or the clock running again
LEAD_ROLES = ("extension_approved", "extension_refused", "suspension_approved", "suspension_refused", "resumed")
STOPPED_KINDS = (DueKind.RESOLVE,)  # what a suspension stops: the lead's resolve-by (its warnings, its escalation)


class NotLead(Forbidden):
    code = "not_lead"


class ExtensionPending(Conflict):
    code = "extension_pending"


class ExtensionLimit(Conflict):
    code = "extension_limit"


class ExtensionTooLong(InvalidInput):
    code = "extension_too_long"


class NotLater(InvalidInput):
    code = "resolve_by_not_later"


class BadTime(InvalidInput):
    code = "bad_time"


class NothingToDecide(Conflict):
    code = "nothing_to_decide"


class AlreadySuspended(Conflict):
    code = "already_suspended"


class SuspensionPending(Conflict):
    code = "suspension_pending"


class NotSuspended(Conflict):
    code = "not_suspended"


def clock_by_hand(work: _Work, request: Request, action: Action, cause: str) -> None:
    """An extension, a suspension, a decision or a resume someone asked for (the lifecycle allowed the row)."""
    try:
        if action is Action.REQUEST_EXTENSION:
            _request_extension(work, request, cause)
        elif action is Action.DECIDE_EXTENSION:
            _decide_extension(work, request, cause)
        elif action is Action.REQUEST_SUSPENSION:
            _request_suspension(work, request, cause)
        elif action is Action.DECIDE_SUSPENSION:
            _decide_suspension(work, request, cause)
        else:
            _resume(work, request, cause)
    except GridDispatchError as exc:
        _refuse(work, request, cause, exc)


# ---- checks ------------------------------------------------------------------------------------------------


def check_lead(work: _Work, request: Request) -> None:
    lead = work.case.lead
    if request.actor.unit != lead:
        raise NotLead(f"only the lead unit ({lead}) may ask for this, not {request.actor.unit or 'no unit'}")


def check_supervising(work: _Work, request: Request) -> None:
    unit = request.actor.unit
    if not may_supervise(work.case, work.rules, unit):
        level = supervising_level(work.case, work.rules)
        raise NotSupervising(f"{unit or 'no unit'} is not the supervising level of this case ({level}) nor above it")


def check_extension(clock: Clock, rule: ExtensionRule, current: datetime | None, wanted: datetime, work: _Work) -> None:
    """The limits an extension to `wanted` must keep (a second request is refused before)."""
    if clock.extensions >= rule.max_count:
        raise ExtensionLimit(
            f"{clock.extensions} extension(s) approved already; this matter type allows {rule.max_count}",
            max_count=rule.max_count,
        )
    if current is None or wanted <= current:
        shown = current.isoformat() if current else "none"
        raise NotLater(f"the new resolve-by must be later than the current one ({shown})", field="resolve_by")
    policy = work.rules.policy
    days = working_seconds_between(current, wanted, policy.tz, policy.local_days, policy.office) / (
        policy.office.hours * 3600
    )
    if days > rule.max_working_days + 1e-9:
        raise ExtensionTooLong(
            f"the extension adds {days:.2f} working days; this matter type allows {rule.max_working_days:g}",
            field="resolve_by",
            max_working_days=rule.max_working_days,
        )


def _time(request: Request, key: str) -> datetime | None:
    raw = request.payload.get(key)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        raise BadTime(f"{key} {raw!r} is not a time", field=key) from None
    if value.tzinfo is None:
        raise BadTime(f"{key} needs a time zone offset", field=key)
    return value


# ---- extension (延期) ---------------------------------------------------------------------------------------


def _request_extension(work: _Work, request: Request, cause: str) -> None:
    check_lead(work, request)
    case, clock = work.case, work.case.clock
    if clock.suspended is not None:
        raise AlreadySuspended("the clock is suspended: resume it before asking for an extension")
    if clock.extension_asked is not None:
        raise ExtensionPending(f"an extension asked at {clock.extension_asked.at.isoformat()} awaits its decision")
    wanted = _time(request, "resolve_by")
    if wanted is None:
        raise BadTime("request_extension needs the resolve_by asked for", field="resolve_by")
    check_extension(clock, work.rules.catalog.extension_of(case.matter_code), case.resolve_by, wanted, work)
    asked = Asked(cause, str(case.lead), request.actor.id, work.now, request.text or "", resolve_by=wanted)
    work.set(clock=replace(clock, extension_asked=asked))
    detail = {**asked.as_dict(), "from": _iso(case.resolve_by)}
    work.entry(Action.REQUEST_EXTENSION.value, case.state, request.actor, _clean(detail), cause=cause, event_id=cause)
    _tell_supervisor(work, "extension_requested", cause)


def _decide_extension(work: _Work, request: Request, cause: str) -> None:
    check_supervising(work, request)
    case, clock = work.case, work.case.clock
    asked = clock.extension_asked
    if asked is None:
        raise NothingToDecide("no extension awaits a decision on this case")
    approved = bool(request.payload.get("approved"))
    before = case.resolve_by
    if approved:
        assert asked.resolve_by is not None
        rule = work.rules.catalog.extension_of(case.matter_code)
        check_extension(clock, rule, before, asked.resolve_by, work)
        _move_resolve_by(work, asked.resolve_by)
        work.set(clock=replace(clock, extension_asked=None, extensions=clock.extensions + 1))
    else:
        work.set(clock=replace(clock, extension_asked=None))
    detail = {
        "request_id": asked.request_id,
        "approved": approved,
        "reason": request.text,
        "asked_by": asked.by,
        "asked_person": asked.person,
        "asked_at": asked.at.isoformat(),
        "resolve_by": _iso(asked.resolve_by),
        "from": _iso(before),
    }
    work.entry(Action.DECIDE_EXTENSION.value, case.state, request.actor, _clean(detail), cause=cause, event_id=cause)
    work.notice(str(case.lead), "extension_approved" if approved else "extension_refused", cause)


def _move_resolve_by(work: _Work, due: datetime) -> None:
    """The lead's resolve-by moves to `due`: its warnings at the matter's fractions of the whole allowance, from
    its start (the ones already behind are not fired again)."""
    case, policy = work.case, work.rules.policy
    lead = str(case.lead)
    old = case.latest_deadline(DueKind.RESOLVE, lead)
    start = old.starts_at if old is not None and old.starts_at < due else work.now
    matter = work.rules.matter(case.matter_code)
    clock = matter.clock if matter else ClockKind.CALENDAR_HOURS
    warn_at = matter.warn_at if matter else DEFAULT_WARN_AT
    warnings = warning_times(start, due, warn_at, clock, policy.tz, policy.local_days, policy.office) if warn_at else ()
    work.close_deadlines(DeadlineStatus.VOID, kinds=[DueKind.RESOLVE], party=lead)
    ahead = [w for w in warnings if w > work.now]
    resolve_by = work.open_deadline(DueKind.RESOLVE, lead, start, due, ahead, scale=1.0)  # a time asked for
    work.set(resolve_by=resolve_by)


# ---- suspension (挂起) --------------------------------------------------------------------------------------


def _request_suspension(work: _Work, request: Request, cause: str) -> None:
    check_lead(work, request)
    case, clock = work.case, work.case.clock
    if clock.suspended is not None:
        raise AlreadySuspended(f"the clock is suspended since {clock.suspended.since.isoformat()}")
    if clock.suspension_asked is not None:
        raise SuspensionPending(f"a suspension asked at {clock.suspension_asked.at.isoformat()} awaits its decision")
    resume_at = _time(request, "resume_at")
    if resume_at is not None and resume_at <= work.now:
        raise BadTime("resume_at must be a later time", field="resume_at")
    asked = Asked(
        cause, str(case.lead), request.actor.id, work.now, request.text or "", reason_code=request.reason_code,
        resume_at=resume_at,
    )  # fmt: skip
    work.set(clock=replace(clock, suspension_asked=asked))
    work.entry(
        Action.REQUEST_SUSPENSION.value, case.state, request.actor, _clean(asked.as_dict()), cause=cause,
        event_id=cause,
    )  # fmt: skip
    _tell_supervisor(work, "suspension_requested", cause)


def _decide_suspension(work: _Work, request: Request, cause: str) -> None:
    check_supervising(work, request)
    case, clock = work.case, work.case.clock
    asked = clock.suspension_asked
    if asked is None:
        raise NothingToDecide("no suspension awaits a decision on this case")
    if clock.suspended is not None:
        raise AlreadySuspended(f"the clock is suspended since {clock.suspended.since.isoformat()}")
    approved = bool(request.payload.get("approved"))
    detail: dict[str, Any] = {
        "request_id": asked.request_id,
        "approved": approved,
        "reason": request.text,
        "asked_by": asked.by,
        "asked_person": asked.person,
        "asked_at": asked.at.isoformat(),
        "asked_reason": asked.reason,
        "reason_code": asked.reason_code,
        "resume_at": _iso(asked.resume_at),
    }
    if approved:
        suspension = _stop(work, asked)
        work.set(clock=replace(clock, suspension_asked=None, suspended=suspension), resolve_by=None)
        if asked.resume_at is not None and asked.resume_at > work.now:  # the clock runs again by itself then
            work.open_deadline(DueKind.RESUME, str(case.lead), work.now, asked.resume_at, scale=1.0)
        detail["stopped"] = [s.as_dict() for s in suspension.stopped]
    else:
        work.set(clock=replace(clock, suspension_asked=None))
    work.entry(Action.DECIDE_SUSPENSION.value, case.state, request.actor, _clean(detail), cause=cause, event_id=cause)
    work.notice(str(case.lead), "suspension_approved" if approved else "suspension_refused", cause)


def _working(work: _Work) -> bool:
    matter = work.rules.matter(work.case.matter_code)
    return matter is not None and matter.clock is ClockKind.WORKING_DAYS


def _left(work: _Work, working: bool, until: datetime) -> float:
    """What is left from now until `until`: office seconds on a working-day clock, else seconds."""
    policy = work.rules.policy
    if working:
        return working_seconds_between(work.now, until, policy.tz, policy.local_days, policy.office)
    return max(0.0, (until - work.now).total_seconds())


def _after(work: _Work, working: bool, seconds: float) -> datetime:
    policy = work.rules.policy
    if working:
        return after_working_seconds(work.now, seconds, policy.tz, policy.local_days, policy.office)
    return work.now + timedelta(seconds=seconds)


def _stop(work: _Work, asked: Asked) -> Suspension:
    """Void the lead's running resolve-by, keeping what was left of it and of its warnings still ahead."""
    working, stopped = _working(work), []
    for d in work.case.open_deadlines():
        if d.kind in STOPPED_KINDS:
            ahead = tuple(_left(work, working, w) for w in d.warn_times if w > work.now)
            stopped.append(Stopped(d.kind.value, d.party, _left(work, working, d.due_at), ahead))
    work.close_deadlines(DeadlineStatus.VOID, kinds=STOPPED_KINDS)
    return Suspension(work.now, asked, tuple(stopped), working)


def _resume(work: _Work, request: Request, cause: str) -> None:
    case = work.case
    suspension = case.clock.suspended
    if suspension is None:
        raise NotSuspended("the clock of this case is not suspended")
    if request.actor.unit != case.lead:
        check_supervising(work, request)
    resume(work, suspension, request.actor, request.text, cause, event_id=cause)


def resume(work: _Work, suspension: Suspension, actor: Who, reason: str | None, cause: str, *, event_id: str) -> None:
    """The stopped deadlines run again from now with what was left of them; recorded and told."""
    case = work.case
    resolve_by = None
    for s in suspension.stopped:
        due = _after(work, suspension.working, s.left_s)
        warnings = [w for w in (_after(work, suspension.working, left) for left in s.warnings_left_s) if w < due]
        opened = work.open_deadline(DueKind(s.kind), s.party, work.now, due, warnings, scale=1.0)  # already scaled
        if s.kind == DueKind.RESOLVE.value and s.party == case.lead:
            resolve_by = opened
    work.close_deadlines(DeadlineStatus.MET if actor is SYSTEM else DeadlineStatus.VOID, kinds=[DueKind.RESUME])
    work.set(clock=replace(case.clock, suspended=None), resolve_by=resolve_by)
    policy = work.rules.policy
    detail = {
        "request_id": suspension.asked.request_id,
        "since": suspension.since.isoformat(),
        "suspended_s": round((work.now - suspension.since).total_seconds(), 3),
        "suspended_working_s": round(
            working_seconds_between(suspension.since, work.now, policy.tz, policy.local_days, policy.office), 3
        ),
        "reason": reason,
        "resolve_by": _iso(resolve_by),
        "automatic": actor is SYSTEM,
        "lead": suspension.asked.by,
        "asked_person": suspension.asked.person,
    }
    work.entry(Action.RESUME.value, case.state, actor, _clean(detail), cause=cause, event_id=event_id)
    if case.lead is not None and case.state in CLOCK_STATES:
        work.notice(case.lead, "resumed", cause)


def resume_at(case: Case, fired: Fired, rules: Rules, now: datetime, *, cause: str) -> Changed | None:
    """A suspension's resume-at came (its overdue or escalate tier, whichever is applied first): the clock runs
    again as if the lead had resumed it. None when it was resumed (or the case moved on) before."""
    suspension, named = case.clock.suspended, case.deadline(fired.deadline_id)
    if suspension is None or named is None or not named.is_open or case.state not in CLOCK_STATES:
        return None
    work = _Work(case, rules, now)
    reason = f"resume-at {fired.due_at.isoformat()} reached"
    resume(work, suspension, SYSTEM, reason, cause, event_id=derived_id(cause, "resume"))
    return work.done()


def ended_while_suspended(work: _Work, cause: str) -> None:
    """A case that left handling (resolved, cancelled, re-routed) while suspended: the suspension ends with it,
    so its suspended time is counted up to now; nothing is reopened when the case no longer owes it."""
    case = work.case
    suspension = case.clock.suspended
    if suspension is None or case.state in CLOCK_STATES:
        return
    work.set(clock=replace(case.clock, suspended=None, suspension_asked=None, extension_asked=None))
    work.close_deadlines(DeadlineStatus.VOID, kinds=[DueKind.RESUME])
    policy = work.rules.policy
    detail = {
        "request_id": suspension.asked.request_id,
        "since": suspension.since.isoformat(),
        "suspended_s": round((work.now - suspension.since).total_seconds(), 3),
        "suspended_working_s": round(
            working_seconds_between(suspension.since, work.now, policy.tz, policy.local_days, policy.office), 3
        ),
        "reason": f"the case is {case.state.value}",
        "automatic": True,
        "lead": suspension.asked.by,
        "asked_person": suspension.asked.person,
    }
    work.entry(Action.RESUME.value, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, "resume"))


def _tell_supervisor(work: _Work, role: str, cause: str) -> None:
    level = supervising_level(work.case, work.rules)
    if level is not None:
        work.notice(level, role, cause, person=work.responsible(level))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if v is not None}
