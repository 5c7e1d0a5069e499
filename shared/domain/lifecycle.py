"""The case state machine: who may do what from which state, as one declarative table.

`apply` is pure: it takes an immutable `CaseProgress` and returns a new one plus the facts the change emits
(a re-route is needed, a part is owed, ...). Anything the table does not allow raises `IllegalTransition`
and changes nothing. Assignees, assisting units and summoned departments are identified by the same string
the dispatcher uses for them (e.g. ``str(Assignee)``, "branch:CG-LH-01").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shared.errors import Conflict


class State(StrEnum):
    REPORTED = "reported"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    RATED = "rated"
    CLOSED = "closed"
    RETURNED = "returned"
    ESCALATED = "escalated"
    MERGED = "merged"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


class Action(StrEnum):
    ASSIGN = "assign"
    ACCEPT = "accept"
    RETURN = "return"
    START = "start"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    REPORT_IN = "report_in"  # an assisting unit or summoned department has done its part
    ESCALATE_PART = "escalate_part"  # a party missed its report-in deadline: the rung above answers for its part
    SUMMON = "summon"
    VERIFY_PASSED = "verify_passed"
    VERIFY_FAILED = "verify_failed"
    RATE_SATISFIED = "rate_satisfied"
    RATE_UNSATISFIED = "rate_unsatisfied"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    MERGE = "merge"
    CLOSE = "close"
    CANCEL = "cancel"
    COMMENT = "comment"
    # the responsible person of a part (派单到人): no state changes (shared/domain/case/commands.py checks who)
    CLAIM = "claim"  # a person of the unit takes the case on
    HAND_OVER = "hand_over"  # the responsible person hands it to a colleague of the same unit, with a reason
    REASSIGN = "reassign"  # the unit's head (or a command centre) names another person of the unit
    # supervision (督办) by the supervising level: no state changes (shared/domain/case/supervision_commands.py)
    URGE = "urge"  # 催办: a formal reminder to the responsible person, with a reason
    SUPERVISE_ORDER = "supervise_order"  # 督办单: a yellow or red supervision order the lead must reply to
    REPLY_ORDER = "reply_order"  # the lead's reply to a supervision order: what was done
    # the clock (延期, 挂起): asked by the lead, decided by the supervising level (shared/domain/case/clock_commands.py)
    REQUEST_EXTENSION = "request_extension"  # the lead asks for a later resolve-by, with a reason
    DECIDE_EXTENSION = "decide_extension"  # the supervising level approves (the resolve-by moves) or refuses
    REQUEST_SUSPENSION = "request_suspension"  # the lead asks to stop the clock, with a reason
    DECIDE_SUSPENSION = "decide_suspension"  # the supervising level approves (the clock stops) or refuses
    RESUME = "resume"  # the clock runs again: the remaining allowance from now, on the working-day calendar
    # report up (上报): no state changes (shared/domain/case/report_up_commands.py checks who and moves the lead)
    REPORT_UP = "report_up"  # the lead reports the matter is beyond the unit, with a reason
    DECIDE_REPORT_UP = "decide_report_up"  # the rung owed the decision: take it, assign a department, send it back
    # consultation (会商): no state changes but the outcome's assign (shared/domain/case/consultation_commands.py)
    CONVENE = "convene"  # a street or community invites units and departments, with a deadline for opinions
    GIVE_OPINION = "give_opinion"  # an invited party's opinion, by the deadline
    RECORD_OUTCOME = "record_outcome"  # the convener records the decided lead and assisting units


class Role(StrEnum):
    ASSIGNEE = "assignee"  # the lead unit, branch or department
    ASSISTING = "assisting"  # a co-assigned unit or a summoned department
    SUPERVISOR = "supervisor"  # a command centre or a higher level
    RESIDENT = "resident"  # the reporter
    INVITEE = "invitee"  # a unit or department invited to a consultation (会商), on the case or not
    SYSTEM = "system"  # dispatch and escalation


class DueKind(StrEnum):
    """The deadlines a case can have (the `kind` of a DeadlineFired event)."""

    ACCEPT = "accept"
    RESOLVE = "resolve"
    REPORT_IN = "report_in"
    VERIFY = "verify"
    FOLLOW_UP = "follow_up"
    ORDER_REPLY = "order_reply"  # a supervision order's reply-by (the lead owes the reply)
    RESUME = "resume"  # a suspension's resume-at (挂起): the clock runs again by itself then
    REPORT_UP_DECISION = "report_up_decision"  # a report-up's decide-by (the rung it was reported to owes it)
    CONSULTATION_OPINION = "consultation_opinion"  # an invited party's opinion is due by then (会商)


class Tier(StrEnum):
    """What a deadline fires, in order (the `tier` of a DeadlineFired event)."""

    WARNING = "warning"  # a share of the allowed time has passed
    OVERDUE = "overdue"  # the due time passed
    ESCALATE = "escalate"  # fired with overdue: dispatch moves the case (or the missed part) one rung up
    REALERT = "realert"  # still overdue: the top rung, or a case that did not move, is told again


URGENT_TIERS: frozenset[Tier] = frozenset({Tier.OVERDUE, Tier.ESCALATE, Tier.REALERT})


class FactKind(StrEnum):
    ASSIGNED = "assigned"  # party: the new lead
    PART_OWED = "part_owed"  # party: an assisting unit or summoned department that now owes its part
    PART_REPORTED = "part_reported"  # party: the one that reported in
    PART_ESCALATED = "part_escalated"  # party: the one that missed its report-in deadline
    ALL_PARTS_IN = "all_parts_in"  # the lead may resolve now
    REROUTE_NEEDED = "reroute_needed"  # party: the assignee that returned the case
    ESCALATION_NEEDED = "escalation_needed"  # party: the lead being escalated from
    REOPENED = "reopened"
    NOTE = "note"  # progress notes, comments, reasons


S = State
A = Action
R = Role

# The named sets of states, defined here once for every service, the SQL they build (as query parameters, or
# through shared.queries.states) and the docs (docs/routing.md). Each says what it is for:
#
# no row of the table leads out of them (a closed case can still be reopened by a spot check)
TERMINAL: frozenset[State] = frozenset({S.MERGED, S.CANCELLED})
NOT_TERMINAL: frozenset[State] = frozenset(State) - TERMINAL
# over: closed, cancelled or merged; every deadline is void, Open311 says "closed", not counted as open
ENDED: frozenset[State] = TERMINAL | {S.CLOSED}
NOT_ENDED: frozenset[State] = frozenset(State) - ENDED  # Open311's "open"; the open-cases gauge
# dispatch's move next: route it (the sources of the system's assign row)
AWAITING_DISPATCH: frozenset[State] = frozenset({S.REPORTED, S.RETURNED, S.ESCALATED})
# with a lead that works on it (accept, resolve, report in, escalate): deadline escalation applies
IN_HANDLING: frozenset[State] = frozenset({S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED})
# not accepted since it was routed: the accept-by is the deadline owed (a reopened case goes back to its lead
# with a fresh resolve-by, so it counts as handled, not as awaiting accept)
AWAITING_ACCEPT: frozenset[State] = AWAITING_DISPATCH | {S.ASSIGNED}
# not resolved yet: the district map's open cases; the resolve-by is owed
UNRESOLVED: frozenset[State] = AWAITING_DISPATCH | IN_HANDLING
# routed to a lead and not resolved: what a new report of the same problem is merged into
# (a case still `reported` has no lead yet to carry the duplicate)
MERGE_TARGETS: frozenset[State] = UNRESOLVED - {S.REPORTED}
STAY = None  # target of a row that records a fact without changing state
# accepted and not resolved: the resolve-by is the lead's own, and may be extended or suspended (延期, 挂起)
CLOCK_STATES: frozenset[State] = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.REOPENED})


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: `roles` may do `action` from any of `sources`, giving `target`."""

    action: Action
    sources: frozenset[State]
    roles: frozenset[Role]
    target: State | None  # STAY keeps the current state


def _rule(action: Action, sources: Iterable[State], roles: Iterable[Role], target: State | None) -> Rule:
    return Rule(action, frozenset(sources), frozenset(roles), target)


# Ordered as the happy path, then the side roads. A (state, action, role) triple matches at most one row.
TABLE: tuple[Rule, ...] = (
    _rule(A.ASSIGN, AWAITING_DISPATCH, {R.SYSTEM, R.SUPERVISOR}, S.ASSIGNED),
    # re-dispatch by hand (command centre), and the dispatcher re-assigning a reopened case
    _rule(A.ASSIGN, IN_HANDLING - {S.REOPENED}, {R.SUPERVISOR}, S.ASSIGNED),
    _rule(A.ASSIGN, {S.REOPENED}, {R.SYSTEM, R.SUPERVISOR}, S.ASSIGNED),
    _rule(A.ACCEPT, {S.ASSIGNED, S.REOPENED}, {R.ASSIGNEE}, S.ACCEPTED),
    _rule(A.RETURN, {S.ASSIGNED, S.ACCEPTED}, {R.ASSIGNEE}, S.RETURNED),
    _rule(A.START, {S.ACCEPTED}, {R.ASSIGNEE}, S.IN_PROGRESS),
    _rule(A.PROGRESS, {S.IN_PROGRESS}, {R.ASSIGNEE}, STAY),
    _rule(A.PROGRESS, {S.ACCEPTED, S.IN_PROGRESS}, {R.ASSISTING}, STAY),
    _rule(A.REPORT_IN, IN_HANDLING, {R.ASSISTING}, STAY),
    _rule(A.ESCALATE_PART, IN_HANDLING, {R.SYSTEM}, STAY),
    _rule(A.SUMMON, {S.ACCEPTED, S.IN_PROGRESS}, {R.SUPERVISOR, R.ASSIGNEE}, STAY),
    # a grid worker fixes a small matter on the spot: accept then resolve, no separate start
    _rule(A.RESOLVE, {S.ACCEPTED, S.IN_PROGRESS}, {R.ASSIGNEE}, S.RESOLVED),
    _rule(A.VERIFY_PASSED, {S.RESOLVED}, {R.SUPERVISOR}, S.VERIFIED),
    _rule(A.VERIFY_FAILED, {S.RESOLVED}, {R.SUPERVISOR}, S.REOPENED),
    _rule(A.RATE_SATISFIED, {S.VERIFIED}, {R.RESIDENT}, S.RATED),
    _rule(A.RATE_UNSATISFIED, {S.VERIFIED}, {R.RESIDENT}, S.REOPENED),
    # verified → closed without a rating: the follow-up window passed or the report was anonymous
    _rule(A.CLOSE, {S.VERIFIED, S.RATED}, {R.SYSTEM, R.SUPERVISOR}, S.CLOSED),
    # a spot check (督查) finds the problem back after the fact
    _rule(A.REOPEN, {S.VERIFIED, S.RATED, S.CLOSED}, {R.SUPERVISOR}, S.REOPENED),
    _rule(A.ESCALATE, IN_HANDLING, {R.SYSTEM, R.SUPERVISOR, R.ASSIGNEE}, S.ESCALATED),
    # the top rung cannot move: escalation re-alerts it while the case waits
    _rule(A.ESCALATE, {S.ESCALATED}, {R.SYSTEM}, STAY),
    _rule(A.MERGE, {S.REPORTED}, {R.SYSTEM, R.SUPERVISOR}, S.MERGED),
    _rule(A.MERGE, MERGE_TARGETS, {R.SUPERVISOR}, S.MERGED),
    _rule(A.CANCEL, {S.REPORTED, S.ASSIGNED}, {R.RESIDENT}, S.CANCELLED),
    _rule(A.CANCEL, UNRESOLVED, {R.SUPERVISOR}, S.CANCELLED),
    _rule(A.COMMENT, NOT_TERMINAL, frozenset(Role), STAY),
    _rule(A.CLAIM, IN_HANDLING, {R.ASSIGNEE, R.ASSISTING}, STAY),
    _rule(A.HAND_OVER, IN_HANDLING, {R.ASSIGNEE, R.ASSISTING}, STAY),
    _rule(A.REASSIGN, IN_HANDLING, {R.ASSIGNEE, R.ASSISTING, R.SUPERVISOR}, STAY),
    # supervision (督办): the supervising level urges and issues orders (dispatch too, at a missed deadline)
    _rule(A.URGE, IN_HANDLING, {R.SUPERVISOR}, STAY),
    _rule(A.SUPERVISE_ORDER, IN_HANDLING, {R.SUPERVISOR, R.SYSTEM}, STAY),
    _rule(A.REPLY_ORDER, IN_HANDLING, {R.ASSIGNEE}, STAY),
    # the clock (延期, 挂起): once accepted; the lead asks (an assisting unit is refused by clock_commands, by name)
    _rule(A.REQUEST_EXTENSION, CLOCK_STATES, {R.ASSIGNEE, R.ASSISTING}, STAY),
    _rule(A.DECIDE_EXTENSION, CLOCK_STATES, {R.SUPERVISOR}, STAY),
    _rule(A.REQUEST_SUSPENSION, CLOCK_STATES, {R.ASSIGNEE, R.ASSISTING}, STAY),
    _rule(A.DECIDE_SUSPENSION, CLOCK_STATES, {R.SUPERVISOR}, STAY),
    _rule(A.RESUME, CLOCK_STATES, {R.ASSIGNEE, R.SUPERVISOR}, STAY),
    _rule(A.REPORT_UP, IN_HANDLING, {R.ASSIGNEE}, STAY),
    _rule(A.DECIDE_REPORT_UP, IN_HANDLING, {R.SUPERVISOR}, STAY),
    # consultation (会商): the convener (a street or community) invites and records; the invited answer
    _rule(A.CONVENE, IN_HANDLING, {R.SUPERVISOR}, STAY),
    _rule(A.GIVE_OPINION, IN_HANDLING, {R.INVITEE}, STAY),
    _rule(A.RECORD_OUTCOME, IN_HANDLING, {R.SUPERVISOR}, STAY),
)
# the actions that name a part's responsible person and change nothing else
PERSONAL_ACTIONS: frozenset[Action] = frozenset({A.CLAIM, A.HAND_OVER, A.REASSIGN})
# the supervision actions: checked and recorded by shared/domain/case/supervision_commands.py
SUPERVISION_ACTIONS: frozenset[Action] = frozenset({A.URGE, A.SUPERVISE_ORDER, A.REPLY_ORDER})
# the clock's actions (延期, 挂起): checked and recorded by shared/domain/case/clock_commands.py
CLOCK_ACTIONS: frozenset[Action] = frozenset(
    {A.REQUEST_EXTENSION, A.DECIDE_EXTENSION, A.REQUEST_SUSPENSION, A.DECIDE_SUSPENSION, A.RESUME}
)
# the report-up actions: checked and recorded by shared/domain/case/report_up_commands.py
REPORT_UP_ACTIONS: frozenset[Action] = frozenset({A.REPORT_UP, A.DECIDE_REPORT_UP})
# the consultation actions: checked and recorded by shared/domain/case/consultation_commands.py
CONSULTATION_ACTIONS: frozenset[Action] = frozenset({A.CONVENE, A.GIVE_OPINION, A.RECORD_OUTCOME})

_INDEX: dict[tuple[State, Action, Role], Rule] = {}
for _row in TABLE:
    for _state in _row.sources:
        for _role in _row.roles:
            if (_state, _row.action, _role) in _INDEX:
                raise RuntimeError(f"lifecycle table: two rows for {_state}/{_row.action}/{_role}")
            _INDEX[(_state, _row.action, _role)] = _row

# Live deadlines per state; any other deadline of the case is void once it reaches the state (report-in
# deadlines follow `CaseProgress.owing` instead). A routed case owes its accept-by and, counted from routing
# too, its resolve-by; a reopened case goes back to its lead with a fresh resolve-by and nothing to accept.
# A supervision order's reply-by lives while the case is in handling (a new lead voids it with the rest).
LIVE_DEADLINES: dict[State, frozenset[DueKind]] = {
    S.ASSIGNED: frozenset({DueKind.ACCEPT, DueKind.RESOLVE, DueKind.ORDER_REPLY}),
    S.REOPENED: frozenset({DueKind.RESOLVE, DueKind.ORDER_REPLY}),
    S.ACCEPTED: frozenset({DueKind.RESOLVE, DueKind.ORDER_REPLY}),
    S.IN_PROGRESS: frozenset({DueKind.RESOLVE, DueKind.ORDER_REPLY}),
    S.RESOLVED: frozenset({DueKind.VERIFY}),
    S.VERIFIED: frozenset({DueKind.FOLLOW_UP}),
}
# a report-up's decide-by lives while the case is in handling (a new lead voids it with the rest)
for _live in IN_HANDLING:
    LIVE_DEADLINES[_live] = LIVE_DEADLINES[_live] | {DueKind.REPORT_UP_DECISION}
# so does a consultation's opinions-by (one per invited party; a new lead voids them with the consultation)
for _live in IN_HANDLING:
    LIVE_DEADLINES[_live] = LIVE_DEADLINES[_live] | {DueKind.CONSULTATION_OPINION}


# A suspension's resume-at lives while the case is in the clock's states (shared/domain/case/clock_commands.py).
for _state in CLOCK_STATES:
    LIVE_DEADLINES[_state] = LIVE_DEADLINES[_state] | {DueKind.RESUME}


class IllegalTransition(Conflict):
    """The table (or a precondition of the row) refuses this action; nothing was changed."""

    code = "illegal_transition"

    def __init__(self, state: State, action: Action, role: Role, reason: str = "") -> None:
        allowed = allowed_actions(state, role)
        why = reason or f"{role} may not {action} a case that is {state}"
        super().__init__(
            f"{why}; allowed to {role} from {state}: {', '.join(allowed) or 'nothing'}",
            state=state.value,
            action=action.value,
            role=role.value,
            allowed=[a.value for a in allowed],
        )
        self.state = state
        self.action = action
        self.role = role
        self.allowed = allowed
        self.reason = why


@dataclass(frozen=True, slots=True)
class CaseProgress:
    """What the state machine needs to know about one case."""

    state: State = State.REPORTED
    lead: str | None = None
    assisting: frozenset[str] = frozenset()  # co-assigned units and summoned departments
    owing: frozenset[str] = frozenset()  # those of `assisting` that have not reported their part
    # (supervisor, party): the supervisor answers for the party's part since the party missed its report-in
    # deadline; either reporting in settles the part for both
    answering: frozenset[tuple[str, str]] = frozenset()
    returned_by: tuple[str, ...] = ()  # in order; routing excludes them
    reopens: int = 0
    escalations: int = 0
    merged_into: str | None = None

    @property
    def returns(self) -> int:
        return len(self.returned_by)


@dataclass(frozen=True, slots=True)
class Fact:
    kind: FactKind
    party: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    before: CaseProgress
    progress: CaseProgress
    facts: tuple[Fact, ...] = field(default_factory=tuple)

    @property
    def changed_state(self) -> bool:
        return self.before.state is not self.progress.state


def allowed_actions(state: State, role: Role) -> tuple[Action, ...]:
    """Actions the table lets `role` take from `state`, in declaration order."""
    return tuple(a for a in Action if (state, a, role) in _INDEX)


def target_of(state: State, action: Action, role: Role) -> State | None:
    """The state the table leads to, or None when the table has no row (STAY rows return `state`)."""
    row = _INDEX.get((state, action, role))
    if row is None:
        return None
    return state if row.target is None else row.target


def settled_with(progress: CaseProgress, party: str) -> frozenset[str]:
    """The parties whose part is settled when `party` reports in: it, those it answers for, those answering for it.

    Followed through every rung (a branch, its department, the district command centre).
    """
    linked = {party}
    grew = True
    while grew:
        more = {b for a, b in progress.answering if a in linked} | {a for a, b in progress.answering if b in linked}
        grew = not more <= linked
        linked |= more
    return frozenset(linked)


def live_deadlines(state: State) -> frozenset[DueKind]:
    """Deadlines that still apply in `state` (report-in deadlines follow `CaseProgress.owing`)."""
    return LIVE_DEADLINES.get(state, frozenset())


def apply(
    progress: CaseProgress,
    action: Action,
    role: Role,
    actor: str,
    *,
    lead: str | None = None,
    parties: Iterable[str] = (),
    into: str | None = None,
    to: str | None = None,
    note: str = "",
) -> Outcome:
    """Apply one action. `lead`+`parties` for assign, `parties` for summon and reopen, `into` for merge,
    `parties` (the one that missed its deadline) + `to` (the rung above it) for escalate_part."""
    row = _INDEX.get((progress.state, action, role))
    if row is None:
        raise IllegalTransition(progress.state, action, role)
    ctx = _Ctx(progress, action, role, actor, lead, frozenset(parties), into, to, note.strip())
    ctx.check_actor()
    new, facts = _EFFECTS.get(action, _no_effect)(ctx)
    target = progress.state if row.target is None else row.target
    new = replace(new, state=target)
    if ctx.note and action not in _NOTE_CONSUMED:
        facts = (*facts, Fact(FactKind.NOTE, actor, ctx.note))
    return Outcome(progress, new, facts)


@dataclass(frozen=True, slots=True)
class _Ctx:
    progress: CaseProgress
    action: Action
    role: Role
    actor: str
    lead: str | None
    parties: frozenset[str]
    into: str | None
    to: str | None
    note: str

    def refuse(self, reason: str) -> IllegalTransition:
        return IllegalTransition(self.progress.state, self.action, self.role, reason)

    def check_actor(self) -> None:
        p = self.progress
        if self.role is Role.ASSIGNEE and self.actor != p.lead:
            raise self.refuse(f"{self.actor!r} is not the lead of this case (lead: {p.lead!r})")
        if self.role is Role.ASSISTING and self.actor not in p.assisting:
            raise self.refuse(f"{self.actor!r} is not an assisting unit of this case")


_Effect = tuple[CaseProgress, tuple[Fact, ...]]


def _no_effect(c: _Ctx) -> _Effect:
    return c.progress, ()


def _assign(c: _Ctx) -> _Effect:
    if not c.lead:
        raise c.refuse("assign needs the new lead")
    assisting = c.parties - {c.lead}
    new = replace(c.progress, lead=c.lead, assisting=assisting, owing=assisting, answering=frozenset())
    owed = tuple(Fact(FactKind.PART_OWED, p) for p in sorted(assisting))
    return new, (Fact(FactKind.ASSIGNED, c.lead), *owed)


def _return(c: _Ctx) -> _Effect:
    if not c.note:
        raise c.refuse("a return needs a reason")
    p = c.progress
    returned_by = (*p.returned_by, c.actor)
    new = replace(p, lead=None, assisting=frozenset(), owing=frozenset(), returned_by=returned_by)
    return new, (Fact(FactKind.REROUTE_NEEDED, c.actor, c.note),)


def _report_in(c: _Ctx) -> _Effect:
    p = c.progress
    if c.actor not in p.owing:
        raise c.refuse(f"{c.actor!r} has already reported its part")
    owing = p.owing - settled_with(p, c.actor)
    facts: tuple[Fact, ...] = (Fact(FactKind.PART_REPORTED, c.actor, c.note),)
    if not owing:
        facts = (*facts, Fact(FactKind.ALL_PARTS_IN))
    return replace(p, owing=owing), facts


def _summon(c: _Ctx) -> _Effect:
    p = c.progress
    fresh = c.parties - p.owing - ({p.lead} if p.lead else set())
    if not fresh:
        raise c.refuse("summon needs at least one department that does not already owe its part")
    new = replace(p, assisting=p.assisting | fresh, owing=p.owing | fresh)
    return new, tuple(Fact(FactKind.PART_OWED, d) for d in sorted(fresh))


def _escalate_part(c: _Ctx) -> _Effect:
    """`parties` (one) missed its report-in deadline: `to`, the rung above it, now owes the part with it."""
    p = c.progress
    if len(c.parties) != 1 or not c.to:
        raise c.refuse("escalate_part needs the party that missed its deadline and the rung above it")
    (party,) = c.parties
    if party not in p.owing:
        raise c.refuse(f"{party!r} owes no part (reported in, or not a party of this case)")
    if c.to in (party, p.lead):
        raise c.refuse(f"{c.to!r} cannot answer for {party!r} on this case (it is the party itself or the lead)")
    fresh = c.to not in p.owing
    new = replace(p, assisting=p.assisting | {c.to}, owing=p.owing | {c.to}, answering=p.answering | {(c.to, party)})
    facts = (Fact(FactKind.PART_ESCALATED, party, c.note),)
    return new, (*facts, Fact(FactKind.PART_OWED, c.to)) if fresh else facts


def _resolve(c: _Ctx) -> _Effect:
    if c.progress.owing:
        raise c.refuse(f"waiting for the parts of: {', '.join(sorted(c.progress.owing))}")
    return c.progress, ()


def _reopen(c: _Ctx) -> _Effect:
    """Back to the same lead; `parties` names assisting units whose part must be done again."""
    p = c.progress
    redo = c.parties & p.assisting
    if c.parties - p.assisting:
        raise c.refuse(f"not assisting units of this case: {', '.join(sorted(c.parties - p.assisting))}")
    new = replace(p, reopens=p.reopens + 1, owing=p.owing | redo)
    owed = tuple(Fact(FactKind.PART_OWED, d) for d in sorted(redo))
    return new, (Fact(FactKind.REOPENED, c.actor, c.note), *owed)


def _escalate(c: _Ctx) -> _Effect:
    p = c.progress
    return replace(p, escalations=p.escalations + 1), (Fact(FactKind.ESCALATION_NEEDED, p.lead, c.note),)


def _needs_note(c: _Ctx) -> _Effect:
    if not c.note:
        raise c.refuse(f"{c.action} needs a text")
    return c.progress, ()


def _merge(c: _Ctx) -> _Effect:
    if not c.into:
        raise c.refuse("merge needs the case it is merged into")
    return replace(c.progress, merged_into=c.into), ()


_EFFECTS: dict[Action, Callable[[_Ctx], _Effect]] = {
    A.ASSIGN: _assign,
    A.RETURN: _return,
    A.REPORT_IN: _report_in,
    A.SUMMON: _summon,
    A.ESCALATE_PART: _escalate_part,
    A.RESOLVE: _resolve,
    A.VERIFY_FAILED: _reopen,
    A.RATE_UNSATISFIED: _reopen,
    A.REOPEN: _reopen,
    A.ESCALATE: _escalate,
    A.MERGE: _merge,
    A.PROGRESS: _needs_note,
    A.COMMENT: _needs_note,
    A.HAND_OVER: _needs_note,
    A.URGE: _needs_note,
    A.SUPERVISE_ORDER: _needs_note,
    A.REPLY_ORDER: _needs_note,
    A.REQUEST_EXTENSION: _needs_note,
    A.REQUEST_SUSPENSION: _needs_note,
    A.REPORT_UP: _needs_note,
    A.CONVENE: _needs_note,
    A.GIVE_OPINION: _needs_note,
    A.RECORD_OUTCOME: _needs_note,
}
# Actions whose own fact already carries the note; the rest get a separate NOTE fact.
_NOTE_CONSUMED = frozenset(
    {A.RETURN, A.REPORT_IN, A.ESCALATE_PART, A.VERIFY_FAILED, A.RATE_UNSATISFIED, A.REOPEN, A.ESCALATE}
)


def table_markdown() -> str:
    """The transition table as a Markdown table (states × actions, cell: roles → target)."""
    lines = ["| from state | action | roles | to state |", "| --- | --- | --- | --- |"]
    for state in State:
        for action in Action:
            by_target: dict[str, list[str]] = {}
            for role in Role:
                target = target_of(state, action, role)
                if target is not None:
                    shown = "(same)" if _INDEX[(state, action, role)].target is None else target.value
                    by_target.setdefault(shown, []).append(role.value)
            for shown, roles in by_target.items():
                lines.append(f"| {state.value} | {action.value} | {', '.join(roles)} | {shown} |")
    return "\n".join(lines) + "\n"
