"""Every command on a case: it checks the lifecycle and returns the new case with the facts it emits.

    changed = act(case, Request("accept", Who("w1", "assignee", "unit:610...")), rules, now, cause=event_id)
    changed.case          # the case as it is now (the argument is unchanged)
    changed.facts         # history entries, assignment notices, a refusal: in the order they happened

One sequence for every transition (`_Work`): the lifecycle step, the deadlines it settles and opens, the row's
columns, the history entry, the notices. Pure: the clock (`now`), the registry, catalog and policies (`Rules`)
come in as arguments; ids of what a command causes derive from `cause` (the event being applied).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.domain.calendar import deadline, warning_times
from shared.domain.case.clock import NO_CLOCK
from shared.domain.case.model import (
    NO_SUPERVISION,
    SYSTEM,
    Case,
    CaseDeadline,
    Changed,
    DeadlineStatus,
    Entry,
    Fact,
    Notice,
    Refusal,
    Rules,
    Who,
    derived_id,
    evolve,
)
from shared.domain.case.persons import Named, persons_by_party, who_takes_over
from shared.domain.case.visibility import scope_keys
from shared.domain.lifecycle import (
    CLOCK_ACTIONS,
    ENDED,
    IN_HANDLING,
    PERSONAL_ACTIONS,
    REPORT_UP_ACTIONS,
    SUPERVISION_ACTIONS,
    Action,
    CaseProgress,
    DueKind,
    FactKind,
    IllegalTransition,
    Role,
    State,
    Tier,
    apply,
    live_deadlines,
)
from shared.domain.model import ClockKind
from shared.domain.routing import (
    Decision,
    RoutingError,
    Summons,
    Urgency,
    check_return,
    escalate,
    escalate_part,
    parse_assignee,
    realert_top,
    route,
    summon,
)
from shared.domain.routing.deadlines import deadlines
from shared.domain.routing.values import Trace
from shared.domain.timescale import scale_deadline
from shared.errors import GridDispatchError
from shared.people.duty import responsible_for

DEFAULT_WARN_AT = (0.5, 0.8)
# The deadlines an action meets (closes as met); the rest of what the new state no longer owes is void.
MET_BY: Mapping[Action, frozenset[DueKind]] = {
    Action.ACCEPT: frozenset({DueKind.ACCEPT}),
    Action.RESOLVE: frozenset({DueKind.RESOLVE}),
    Action.VERIFY_PASSED: frozenset({DueKind.VERIFY}),
    Action.VERIFY_FAILED: frozenset({DueKind.VERIFY}),
    Action.RATE_SATISFIED: frozenset({DueKind.FOLLOW_UP}),
    Action.RATE_UNSATISFIED: frozenset({DueKind.FOLLOW_UP}),
}


@dataclass(frozen=True, slots=True)
class Request:
    """An action someone asks for (the ActionRequested contract, as the domain sees it)."""

    action: str
    actor: Who
    text: str | None = None
    reason_code: str | None = None
    payload: Mapping[str, object] = field(default_factory=dict)

    @property
    def note(self) -> str:
        return " ".join(x for x in (self.reason_code and f"[{self.reason_code}]", self.text) if x)


@dataclass(frozen=True, slots=True)
class Fired:
    """A deadline reached a tier (the DeadlineFired contract, as the domain sees it)."""

    deadline_id: str
    kind: DueKind
    tier: Tier
    due_at: datetime
    assignee: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who leads, who assists, and by when: a routing decision, or a new rung with fresh deadlines."""

    lead: str
    assisting: tuple[str, ...]
    accept_by: datetime
    resolve_by: datetime
    clock: ClockKind
    warn_at: tuple[float, ...]

    @classmethod
    def of(cls, decision: Decision) -> Assignment:
        return cls(
            str(decision.lead),
            tuple(str(a) for a in decision.assisting),
            decision.accept_by,
            decision.resolve_by,
            decision.clock,
            decision.warn_at,
        )

    @classmethod
    def fresh(cls, lead: str, assisting: Iterable[str], case: Case, rules: Rules, now: datetime) -> Assignment:
        """A lead chosen by hand or by the ladder, with the deadlines the catalog gives the case from now."""
        matter = rules.matter(case.matter_code)
        due = deadlines(case.facts(), matter, now, rules.policy, Trace())
        warn_at = matter.warn_at if matter else DEFAULT_WARN_AT
        return cls(lead, tuple(assisting), due.accept_by, due.resolve_by, due.clock, warn_at)


class _Work:
    """One command's work on one case: the case as it changes, and the facts in the order they happen."""

    def __init__(self, case: Case, rules: Rules, now: datetime) -> None:
        self._case = case
        self._changes: dict[str, Any] = {}  # set since the case was last made: made when it is read whole
        self.rules = rules
        self.now = now
        self.facts: list[Fact] = []

    @property
    def case(self) -> Case:
        if self._changes:
            self._case, self._changes = evolve(self._case, **self._changes), {}
        return self._case

    def get(self, column: str) -> Any:
        return self._changes[column] if column in self._changes else getattr(self._case, column)

    def done(self) -> Changed:
        return Changed(self.case, tuple(self.facts))

    def set(self, **columns: Any) -> None:
        self._changes.update(columns)

    def progress_to(self, progress: CaseProgress) -> None:
        self.set(progress=progress, state=progress.state)

    def entry(
        self,
        action: str,
        from_state: State | None,
        actor: Who,
        detail: dict[str, Any],
        *,
        cause: str,
        event_id: str,
        announced: bool = True,
    ) -> None:
        seq = self.case.seq + 1
        c = self.case
        self.facts.append(
            Entry(
                c.case_id, seq, event_id, action, from_state, c.state, actor, detail, self.now, cause, c.lead,
                c.assisting, announced, c.lead_person,
            )
        )  # fmt: skip
        self.set(seq=seq)

    def notice(self, assignee: str, role: str, cause: str, *, person: str | None = None) -> None:
        """Tell `assignee` (notify pages its responsible person: the case's for a party of it, else `person`)."""
        c = self.case
        self.facts.append(
            Notice(
                c.case_id, c.case_number, assignee, role, c.matter_code, c.level or "", c.accept_by, c.resolve_by,
                c.title, cause, c.person_of(assignee) or person,
            )
        )  # fmt: skip

    def open_deadline(
        self,
        kind: DueKind,
        party: str,
        starts_at: datetime,
        due_at: datetime,
        warn_times: Iterable[datetime] = (),
        *,
        scale: float | None = None,
        deadline_id: uuid.UUID | None = None,
    ) -> datetime:
        """Open a deadline; returns its due time. The deadline scale shrinks what is left of the allowance from
        now, and its warnings, here alone (scale 1 for an allowance recorded already scaled). `deadline_id`: one
        that others refer to by a derived id (a supervision order's), else a fresh one."""
        due, warnings = scale_deadline(
            self.now, due_at, warn_times, self.rules.deadline_scale if scale is None else scale
        )
        opened = CaseDeadline(deadline_id or uuid.uuid4(), kind, party, starts_at, due, tuple(sorted(warnings)))
        self.set(deadlines=(*self.get("deadlines"), opened))
        return due

    def close_deadlines(
        self, status: DeadlineStatus, *, kinds: Iterable[DueKind] | None = None, party: str | None = None
    ) -> None:
        wanted = None if kinds is None else frozenset(kinds)
        self.set(
            deadlines=tuple(
                replace(d, status=status)
                if d.is_open and (wanted is None or d.kind in wanted) and (party is None or d.party == party)
                else d
                for d in self.get("deadlines")
            )
        )

    def close_deadline(self, deadline_id: str, status: DeadlineStatus) -> None:
        """Close one open deadline by its id (a supervision order's reply-by)."""
        self.set(
            deadlines=tuple(
                replace(d, status=status) if d.is_open and str(d.deadline_id) == deadline_id else d
                for d in self.get("deadlines")
            )
        )
        self.drop_closed_orders()

    def drop_closed_orders(self) -> None:
        """Open supervision orders are those whose reply-by deadline is still open."""
        supervision = self.get("supervision")
        if supervision.orders:
            running = {str(d.deadline_id) for d in self.get("deadlines") if d.is_open}
            kept = tuple(o for o in supervision.orders if o.order_id in running)
            if kept != supervision.orders:
                self.set(supervision=replace(supervision, orders=kept))

    def void_what_no_longer_applies(self) -> None:
        """Open deadlines the state no longer owes are void; report-in deadlines while their party owes a part."""
        state = self.get("state")
        live, owing = live_deadlines(state), self.get("progress").owing
        if state in ENDED:
            live, owing = frozenset(), frozenset()
        self.set(
            deadlines=tuple(
                replace(d, status=DeadlineStatus.VOID)
                if d.is_open and not (d.kind in live or (d.kind is DueKind.REPORT_IN and d.party in owing))
                else d
                for d in self.get("deadlines")
            )
        )
        self.drop_closed_orders()

    def responsible(self, party: str) -> str | None:
        """Who answers for `party`'s part now: its person on duty, its worker (micro-grid) or head, else None."""
        kind, _, code = party.partition(":")
        unit = self.rules.registry.units.get(code) if kind == "unit" else None
        return responsible_for(party, self.now, self.rules.people, level=unit.level if unit else None)

    def kept_or_responsible(self, party: str, before: Mapping[str, str]) -> str | None:
        """The person who had the party's part before, while they still belong to it; else who answers now."""
        kept = before.get(party)
        if kept is not None and self.rules.people.holds(kept, party):
            return kept
        return self.responsible(party)

    def give_parts(self, parties: Iterable[str], before: Mapping[str, str] | None = None) -> None:
        """Name the responsible person of each newly owed assisting party (a party nobody answers for: none)."""
        persons = dict(self.get("part_persons"))
        for party in parties:
            person = self.kept_or_responsible(party, before or {})
            if person is None:
                persons.pop(party, None)
            else:
                persons[party] = person
        self.set(part_persons=tuple(sorted(persons.items())))

    def keys_with(self, parties: Iterable[str | None]) -> tuple[str, ...]:
        extra = scope_keys(self.rules.registry, [p for p in parties if p], None, None)
        return tuple(sorted({*self.get("scope_keys"), *extra}))


# ---- new reports ---------------------------------------------------------------------------------------------


def reported(new: Case, reporter: Who, rules: Rules, now: datetime, *, cause: str) -> _Work:
    work = _Work(new, rules, now)
    detail = {"case_number": new.case_number, "source": new.source, "source_ref": new.source_ref}
    work.entry("report", None, reporter, detail, cause=cause, event_id=cause)
    return work


def open_case(new: Case, decision: Decision, reporter: Who, rules: Rules, now: datetime, *, cause: str) -> Changed:
    """A new report routed by `decision`: recorded, then assigned to its lead with fresh deadlines."""
    work = reported(new, reporter, rules, now, cause=cause)
    detail = {
        "lead": str(decision.lead),
        "assisting": [str(a) for a in decision.assisting],
        "level": decision.level.value,
        "matter": decision.matter,
        "triage": decision.triage,
        "rules": [step.rule for step in decision.trace],
    }
    _assign(work, Assignment.of(decision), start=new.received_at, actor=SYSTEM, detail=detail, cause=cause)
    return work.done()


def merge_report(
    new: Case, into: Case, distance_m: float, reporter: Who, rules: Rules, now: datetime, *, cause: str
) -> tuple[Changed, Changed]:
    """A further report of an open problem: recorded as its own merged case, counted on the open one."""
    shown = replace(
        new,
        lead=into.lead,
        assisting=into.assisting,
        merged_into=into.case_id,
        scope_keys=tuple(sorted({*into.scope_keys, *new.scope_keys})),
    )
    work = reported(shown, reporter, rules, now, cause=cause)
    merged = apply(work.case.progress, Action.MERGE, Role.SYSTEM, SYSTEM.id, into=str(into.case_id)).progress
    work.progress_to(merged)
    detail = {"into": str(into.case_id), "into_case_number": into.case_number, "distance_m": round(distance_m, 1)}
    work.entry("merge", State.REPORTED, SYSTEM, detail, cause=cause, event_id=derived_id(cause, "merge"))

    link = _Work(into, rules, now)
    link.set(duplicates=into.duplicates + 1)
    detail = {"report": str(new.case_id), "case_number": new.case_number, "duplicates": into.duplicates + 1}
    link.entry("link", into.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, "link"))
    return work.done(), link.done()


# ---- actions -------------------------------------------------------------------------------------------------


def refuse_unknown(case_id: str, request: Request, *, cause: str) -> Refusal:
    return Refusal(case_id, cause, request.action, request.actor, None, "unknown_case", f"no case {case_id}")


def act(case: Case, request: Request, rules: Rules, now: datetime, *, cause: str) -> Changed:
    """An action someone asked for, through the lifecycle; a refusal is recorded and announced, nothing else."""
    work = _Work(case, rules, now)
    if request.action == Action.ASSIGN.value:
        _redispatch(work, request, cause)
        return work.done()
    try:
        action, before = Action(request.action), case.progress
        outcome, summons = _step(case, request, rules, now)
        named = who_takes_over(case, request, action, rules) if action in PERSONAL_ACTIONS else None
    except (GridDispatchError, ValueError) as exc:
        _refuse(work, request, cause, exc)
        return work.done()
    if named is not None:
        _name_person(work, request, action, named, cause)
        return work.done()
    if action in SUPERVISION_ACTIONS:
        from shared.domain.case import supervision_commands  # it builds on this module's steps

        supervision_commands.supervise_by_hand(work, request, action, cause)
        return work.done()
    if action in CLOCK_ACTIONS:
        from shared.domain.case import clock_commands  # it builds on this module's steps

        clock_commands.clock_by_hand(work, request, action, cause)
        return work.done()
    if action in REPORT_UP_ACTIONS:
        from shared.domain.case import report_up_commands  # it builds on this module's steps

        report_up_commands.report_up_by_hand(work, request, action, cause)
        return work.done()
    new = outcome.progress
    kinds = {f.kind for f in outcome.facts}
    if FactKind.ESCALATION_NEEDED in kinds:
        note = outcome.facts[0].note or "asked to escalate"
        _escalate(work, request.actor, note, cause=cause, escalated=new)
        return work.done()
    behalf = {"on_behalf_of": str(summons.on_behalf_of)} if summons and summons.on_behalf_of else {}
    _record(work, request, action, new, cause, behalf)
    if work.case.clock.suspended is not None:  # resolved or cancelled while suspended: the suspension ends
        from shared.domain.case import clock_commands

        clock_commands.ended_while_suspended(work, cause)
    if summons is not None:
        fresh = new.owing - before.owing  # the lifecycle decides who is newly owed (never the lead itself)
        for call in summons.calls:
            party = str(call.assignee)
            if party in fresh:
                work.open_deadline(DueKind.REPORT_IN, party, now, call.report_in_by)
                work.give_parts([party])
                work.notice(party, "summoned", cause)
    if FactKind.REOPENED in kinds:
        _reopened(work)
    if FactKind.REROUTE_NEEDED in kinds:
        _reroute(work, cause=cause)
    if new.state is State.RATED:  # a satisfied rating closes the loop
        _close(work, "the resident is satisfied", cause)
    return work.done()


def _refuse(work: _Work, request: Request, cause: str, exc: Exception) -> None:
    code = exc.code if isinstance(exc, GridDispatchError) else "invalid_action"
    reason, case = str(exc), work.case
    detail = {"action": request.action, "code": code, "reason": reason}
    # the attempt stays in the case's history: the audit trail shows refusals too
    work.entry("rejected", case.state, request.actor, detail, cause=cause, event_id=cause, announced=False)
    work.facts.append(Refusal(str(case.case_id), cause, request.action, request.actor, case.state, code, reason))


def _summons(case: Case, request: Request, rules: Rules, now: datetime) -> Summons:
    by = request.actor.unit or ""
    raw = request.payload.get("departments")
    departments = raw if isinstance(raw, list) else []
    return summon(
        case.place or "",
        [str(d) for d in departments],
        by.partition(":")[2] or by,
        now,
        rules.registry,
        urgency=Urgency(case.urgency),
        policy=rules.policy,
    )


def _step(case: Case, request: Request, rules: Rules, now: datetime) -> tuple[Any, Summons | None]:
    """The lifecycle step, with what the catalog and the registry add to it; raises when refused."""
    action, role = Action(request.action), Role(request.actor.role)
    unit = request.actor.unit
    actor = unit if role in (Role.ASSIGNEE, Role.ASSISTING) and unit else request.actor.id
    progress = case.progress
    matter = rules.matter(case.matter_code)
    if action is Action.RETURN and progress.lead and matter is not None:
        check_return(matter, parse_assignee(progress.lead), rules.registry)
    summons = _summons(case, request, rules, now) if action is Action.SUMMON else None
    parties = [str(call.assignee) for call in summons.calls] if summons else []
    return apply(progress, action, role, actor or "", parties=parties, note=request.note), summons


def _record(
    work: _Work, request: Request, action: Action, new: CaseProgress, cause: str, extra: dict[str, Any] | None = None
) -> None:
    """The step's deadlines, the row's columns and the history entry (`extra`: what the step adds to it)."""
    before = work.case.progress
    _settle(work, before, new, action)
    work.progress_to(new)
    keys = work.keys_with([new.lead, *new.assisting])
    work.set(lead=new.lead, assisting=tuple(sorted(new.assisting)), scope_keys=keys)
    work.void_what_no_longer_applies()
    detail: dict[str, Any] = {
        "text": request.text,
        "reason_code": request.reason_code,
        **{k: v for k, v in request.payload.items() if k != "client_id"},
        **(extra or {}),
    }
    detail = {k: v for k, v in detail.items() if v is not None}
    work.entry(action.value, before.state, request.actor, detail, cause=cause, event_id=cause)


def _settle(work: _Work, before: CaseProgress, new: CaseProgress, action: Action) -> None:
    """Close what the step meets, open what the next step owes (what no longer applies is voided after)."""
    if action in MET_BY:
        work.close_deadlines(DeadlineStatus.MET, kinds=MET_BY[action])
    if action is Action.REPORT_IN:  # settles the part of whoever answers for it too (a missed part escalated)
        for party in sorted(before.owing - new.owing):
            work.close_deadlines(DeadlineStatus.MET, kinds=[DueKind.REPORT_IN], party=party)
    if new.state in ENDED:
        return
    rules, now, case = work.rules, work.now, work.case
    policy = rules.policy
    if new.state is State.RESOLVED and before.state is not State.RESOLVED:  # the command centre must check it
        place = case.place
        centre = rules.registry.command_centre_for(place).code if place and place in rules.registry.units else None
        days = rules.after_care.verify_within_days
        due = deadline(now, days, ClockKind.WORKING_DAYS, policy.tz, policy.local_days, policy.office).due
        work.open_deadline(DueKind.VERIFY, f"unit:{centre}" if centre else "supervisor", now, due)
    if new.state is State.VERIFIED and before.state is not State.VERIFIED:  # the resident's window to rate it
        due = now + timedelta(hours=rules.after_care.follow_up_within_hours)
        work.open_deadline(DueKind.FOLLOW_UP, "resident", now, due)


def _reopened(work: _Work) -> None:
    """Back to handling, with a fresh resolve-by from the catalog."""
    rules, now, case = work.rules, work.now, work.case
    matter, policy = rules.matter(case.matter_code), rules.policy
    hours, clock = (matter.resolve_within, matter.clock) if matter else (policy.triage_resolve_hours, None)
    due = deadline(now, hours, clock, policy.tz, policy.local_days, policy.office).due if clock else None
    work.close_deadlines(DeadlineStatus.VOID, kinds=[DueKind.RESOLVE])
    resolve_by = work.open_deadline(DueKind.RESOLVE, case.lead or "", now, due or now + timedelta(hours=hours))
    work.set(resolve_by=resolve_by)


def _reroute(work: _Work, *, cause: str) -> None:
    """A return: route again without the units that returned it (after repeated returns: arbitration)."""
    rules, case = work.rules, work.case
    progress = case.progress
    excluded = frozenset(parse_assignee(p) for p in progress.returned_by)
    facts = case.facts(excluded=excluded, returns=progress.returns)
    decision = route(facts, rules.registry, rules.catalog, work.now, rules.policy)
    detail = {
        "lead": str(decision.lead),
        "assisting": [str(a) for a in decision.assisting],
        "level": decision.level.value,
        "arbitration": decision.arbitration,
        "excluded": sorted(progress.returned_by),
        "rules": [s.rule for s in decision.trace],
    }
    work.set(level=decision.level.value, decision=decision.to_dict())
    _assign(work, Assignment.of(decision), start=work.now, actor=SYSTEM, detail=detail, cause=f"{cause}/reroute")


def _known_assignee(rules: Rules, lead: str) -> bool:
    kind, _, code = lead.partition(":")
    registry = rules.registry
    known: dict[str, Mapping[str, object]] = {
        "unit": registry.units,
        "department": registry.departments,
        "branch": registry.branches,
    }
    return code in known.get(kind, {})


def _redispatch(work: _Work, request: Request, cause: str) -> None:
    """A command centre re-dispatches by hand: a new lead with fresh deadlines, through the same assign step."""
    case, rules, now = work.case, work.rules, work.now
    lead = str(request.payload.get("lead") or "")
    if not _known_assignee(rules, lead):
        _refuse(work, request, cause, _UnknownUnit(f"no unit, department or branch {lead!r}"))
        return
    progress = case.progress
    try:  # the lifecycle's verdict before anything is written
        apply(progress, Action.ASSIGN, Role(request.actor.role), request.actor.id, lead=lead)
    except (GridDispatchError, ValueError) as exc:
        _refuse(work, request, cause, exc)
        return
    assignment = Assignment.fresh(lead, sorted(progress.assisting - {lead}), case, rules, now)
    detail = {"from": progress.lead, "to": lead, "reason": request.text, "by_hand": True}
    detail = {k: v for k, v in detail.items() if v is not None}
    _assign(work, assignment, start=now, actor=request.actor, detail=detail, cause=cause)


class _UnknownUnit(GridDispatchError):
    code = "unknown_unit"


# ---- the responsible person of a part: claim, hand over, reassign ------------------------------------------


def _name_person(work: _Work, request: Request, action: Action, named: Named, cause: str) -> None:
    if named.party == work.case.lead:
        work.set(lead_person=named.person)
    else:
        work.set(part_persons=tuple(sorted({**dict(work.get("part_persons")), named.party: named.person}.items())))
    detail: dict[str, Any] = {"party": named.party, "person": named.person, "from": named.before}
    if request.text:
        detail["reason"] = request.text
    work.entry(action.value, work.case.state, request.actor, detail, cause=cause, event_id=cause)


# ---- the steps several commands take -------------------------------------------------------------------------


def _assign(
    work: _Work, assignment: Assignment, *, start: datetime, actor: Who, detail: dict[str, Any], cause: str
) -> None:
    """Give the case a lead (and assisting units): lifecycle, deadlines, row, history, notices."""
    lead, before = assignment.lead, work.get("progress")
    had = persons_by_party(work.case)
    new = apply(before, Action.ASSIGN, Role(actor.role), actor.id, lead=lead, parties=assignment.assisting).progress
    policy = work.rules.policy
    work.close_deadlines(DeadlineStatus.VOID)  # whatever the previous assignee owed is void now
    due: dict[DueKind, datetime] = {}  # as recorded (a deadline scale shortens them): the row shows the same
    clock, warn_at = assignment.clock, assignment.warn_at
    for kind, computed in ((DueKind.ACCEPT, assignment.accept_by), (DueKind.RESOLVE, assignment.resolve_by)):
        warnings = warning_times(start, computed, warn_at, clock, policy.tz, policy.local_days, policy.office)
        due[kind] = work.open_deadline(kind, lead, start, computed, warnings)
    for party in sorted(new.owing):
        work.open_deadline(DueKind.REPORT_IN, party, start, assignment.resolve_by)
    clients = {k for k in work.get("scope_keys") if k.startswith("client:")}  # the client follows its case
    keys = scope_keys(work.rules.registry, [lead, *sorted(new.assisting)], work.get("place"), work.get("submitted_by"))
    work.progress_to(new)
    work.set(
        lead=lead,
        assisting=tuple(sorted(new.assisting)),
        accept_by=due[DueKind.ACCEPT],
        resolve_by=due[DueKind.RESOLVE],
        scope_keys=tuple(sorted({*keys, *clients})),
        lead_person=work.kept_or_responsible(lead, had),
        part_persons=(),
        supervision=NO_SUPERVISION,  # a new lead: no supervisor, no misses, the orders void with its deadlines
        clock=NO_CLOCK,  # nor extensions or a suspension: its deadlines are fresh
    )
    work.give_parts(sorted(new.assisting), had)
    if work.get("lead_person") is not None:  # the history names the person too (the row and the event always do)
        detail = {**detail, "responsible": work.get("lead_person")}
    work.entry("assign", before.state, actor, detail, cause=cause, event_id=derived_id(cause, "assign"))
    work.notice(lead, "lead", cause)
    for party in sorted(new.assisting):
        work.notice(party, "assisting", cause)


def _close(work: _Work, reason: str, cause: str) -> None:
    """Close the case (the system's step), void what it still owed, record it."""
    before = work.case.progress
    work.progress_to(apply(before, Action.CLOSE, Role.SYSTEM, SYSTEM.id).progress)
    work.close_deadlines(DeadlineStatus.VOID)
    work.entry("close", before.state, SYSTEM, {"reason": reason}, cause=cause, event_id=derived_id(cause, "close"))


def _escalate(work: _Work, actor: Who, reason: str, *, cause: str, escalated: CaseProgress | None = None) -> None:
    """Re-route to the next rung, keeping the previous lead as assisting."""
    case, rules, now = work.case, work.rules, work.now
    progress = case.progress
    assert progress.lead is not None
    step = escalate(parse_assignee(progress.lead), rules.registry, place=case.place)
    if escalated is None:  # a fired deadline: the lifecycle's escalate step is ours to take
        escalated = apply(progress, Action.ESCALATE, Role.SYSTEM, actor.id, note=reason).progress
    detail: dict[str, Any] = {
        "reason": reason,
        "from": progress.lead,
        "to": str(step.target),
        "at_top": step.at_top,
        "rules": [s.rule for s in step.trace],
    }
    work.progress_to(escalated)
    work.entry("escalate", progress.state, actor, detail, cause=cause, event_id=derived_id(cause, "escalate"))
    keep = [p for p in (progress.lead, *sorted(progress.assisting)) if p != str(step.target)]
    assignment = Assignment.fresh(str(step.target), keep, case, rules, now)
    detail = {**detail, "supervised_by": str(step.target)}
    _assign(work, assignment, start=now, actor=SYSTEM, detail=detail, cause=f"{cause}/reassign")


# ---- fired deadlines -----------------------------------------------------------------------------------------


def fire(case: Case, fired: Fired, rules: Rules, now: datetime, *, cause: str) -> Changed | None:
    """The escalate tier moves a case one rung up (or a missed part to the rung above the party that owes it);
    a passed follow-up window closes it; the rest is for notify. None: nothing to do."""
    if fired.kind is DueKind.FOLLOW_UP and fired.tier is Tier.OVERDUE:
        if case.state is not State.VERIFIED:
            return None
        work = _Work(case, rules, now)
        _close(work, "the follow-up window passed without a rating", cause)
        return work.done()
    if fired.kind is DueKind.REPORT_IN and fired.tier is Tier.ESCALATE:
        return _escalate_missed_part(case, fired, rules, now, cause)
    if fired.kind is DueKind.RESUME:
        from shared.domain.case import clock_commands  # it builds on this module's steps

        return clock_commands.resume_at(case, fired, rules, now, cause=cause)
    if fired.kind is DueKind.ORDER_REPLY:
        from shared.domain.case import supervision_commands  # it builds on this module's steps

        return supervision_commands.order_unanswered(case, fired, rules, now, cause=cause)
    if fired.kind is DueKind.REPORT_UP_DECISION:
        from shared.domain.case import report_up_commands  # it builds on this module's steps

        return report_up_commands.report_up_undecided(case, fired, rules, now, cause=cause)
    if fired.tier is not Tier.ESCALATE or fired.kind not in (DueKind.ACCEPT, DueKind.RESOLVE):
        return None
    if case.state not in IN_HANDLING or case.lead != fired.assignee:
        return None  # handled, closed or already moved on since the deadline was set: nothing to escalate
    named = case.deadline(fired.deadline_id)
    if named is not None and not named.is_open:
        return None  # met by an action applied before this event (escalation fired it while it queued)
    reason = f"{fired.kind} deadline {fired.due_at.isoformat()} missed by {fired.assignee}"
    step = escalate(parse_assignee(fired.assignee), rules.registry, place=case.place)
    work = _Work(case, rules, now)
    if not step.at_top:
        rule = rules.catalog.escalation_of(case.matter_code)
        missed = named or case.latest_deadline(fired.kind, fired.assignee)
        if missed is not None and not rule.takes_over(case.supervision.misses + 1):  # 督办: the lead stays
            if fired.kind not in live_deadlines(case.state):
                return None  # accepted (or reopened) since: no deadline of that kind is owed to open afresh
            from shared.domain.case import supervision_commands  # it builds on this module's steps

            supervision_commands.supervise_missed(work, fired, missed, str(step.target), rule, reason, cause=cause)
            return work.done()
        _escalate(work, SYSTEM, reason, cause=cause)
        return work.done()
    # The district command centre missed its deadline: nowhere to climb. It keeps the case, no escalation is
    # counted; history records a `realert` and the missed deadline gives way to a fresh one of the same length.
    if fired.kind not in live_deadlines(case.state):
        return None  # accepted (or reopened) since: no deadline of that kind is owed to re-open
    window = named or case.latest_deadline(fired.kind, fired.assignee)
    if window is None:
        return None  # no deadline of that kind was ever set for it here: nothing to chase
    again = realert_top(step, window.starts_at, window.due_at, now)
    work.close_deadlines(DeadlineStatus.VOID, kinds=[fired.kind], party=fired.assignee)
    due = work.open_deadline(fired.kind, fired.assignee, now, again.due_at, scale=1.0)  # already scaled
    detail: dict[str, Any] = {
        "reason": reason,
        "lead": fired.assignee,
        "kind": fired.kind.value,
        "next_due": due.isoformat(),
        "escalations": case.progress.escalations,
        "rules": [s.rule for s in again.trace],
    }
    work.entry(Tier.REALERT.value, case.state, SYSTEM, detail, cause=cause, event_id=derived_id(cause, "realert"))
    work.set(**{"accept_by" if fired.kind is DueKind.ACCEPT else "resolve_by": due})
    return work.done()


def _escalate_missed_part(case: Case, fired: Fired, rules: Rules, now: datetime, cause: str) -> Changed | None:
    """A summoned or assisting party did not report in by its deadline: the rung above it answers for the part.

    The party keeps owing it (a late report still settles it); the rung above is added to the case with a report-in
    deadline of its own and told as a summoned party. At the top nothing moves and escalation re-alerts."""
    party, progress = fired.assignee, case.progress
    if case.state not in IN_HANDLING or party not in progress.owing:
        return None
    named = case.deadline(fired.deadline_id)
    if named is None or not named.is_open:
        return None  # a later step (a new assignment) voided this deadline, or it was never recorded
    try:
        step = escalate_part(
            parse_assignee(party), rules.registry, now, place=case.place, urgency=Urgency(case.urgency),
            policy=rules.policy,
        )  # fmt: skip
    except RoutingError:
        return None  # a party the active registry no longer knows: the deadline stays open and is re-alerted
    if step.at_top:
        return None
    reason = f"report-in deadline {fired.due_at.isoformat()} missed by {party}"
    target = str(step.target)
    try:
        outcome = apply(progress, Action.ESCALATE_PART, Role.SYSTEM, SYSTEM.id, parties=[party], to=target, note=reason)
    except IllegalTransition:
        return None  # the rung above leads the case itself: the lead's own deadlines cover it
    work = _Work(case, rules, now)
    work.close_deadlines(DeadlineStatus.VOID, kinds=[DueKind.REPORT_IN], party=party)
    fresh = any(f.kind is FactKind.PART_OWED for f in outcome.facts)
    report_in_by = work.open_deadline(DueKind.REPORT_IN, target, now, step.report_in_by) if fresh else None
    new = outcome.progress
    work.progress_to(new)
    work.set(assisting=tuple(sorted(new.assisting)), scope_keys=work.keys_with([target]))
    detail: dict[str, Any] = {
        "reason": reason,
        "party": party,
        "to": target,
        "report_in_by": report_in_by.isoformat() if report_in_by else None,
        "rules": [s.rule for s in step.trace],
    }
    work.entry(
        Action.ESCALATE_PART.value, progress.state, SYSTEM, detail, cause=cause,
        event_id=derived_id(cause, "escalate_part"),
    )  # fmt: skip
    if fresh:
        work.give_parts([target])
        work.notice(target, "summoned", cause)
    return work.done()
