"""One transaction's worth of cases: loaded once, changed in memory by the aggregate's commands, written once.

    async with UnitOfWork(pool, ctx) as uow:
        fresh = await uow.claim(event_ids)
        await uow.lock(case_ids)
        uow.add(act(uow.get(case_id), request, ctx.rules, ctx.now(), cause=event_id))
        ids = await uow.commit()      # rows, history, deadlines and the outbox, then COMMIT

`commit` is the one place the transition sequence is written down: each stored case that changed is one row
of one UPDATE, each new case one row of one INSERT, and every history entry, deadline and announcement of the
whole batch goes in one statement per table. A `mark()` taken before an event and `undo()` to it drop that
event's changes (a poison event inside a batch), the rest of the batch stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction
from prometheus_client import Counter

from services.dispatch import repository
from services.dispatch.announce import announcements
from services.dispatch.context import Context
from shared.domain.case import Case, CaseDeadline, Changed, Entry, Fact, Notice, Refusal
from shared.domain.lifecycle import CLOCK_ACTIONS
from shared.events import CloudEvent
from shared.outbox import OutboxRow, stage_many

ASSIGNED_TO_PERSON = Counter(
    "griddispatch_dispatch_responsible_total",
    "Assignments by whether the assignee had a responsible person (person) or nobody on duty and no head (nobody)",
    ["role", "outcome"],
)


SUPERVISION = Counter(
    "griddispatch_supervision_total",
    "Supervision steps recorded (督办): urge, supervise (a missed deadline put a supervisor on the case), "
    "supervise_order (outcome: yellow or red), reply_order (in_time or late), order_unanswered (yellow or red)",
    ["step", "outcome"],
)
_SUPERVISION_STEPS = frozenset({"urge", "supervise", "supervise_order", "reply_order", "order_unanswered"})


def supervision_outcome(entry: Entry) -> str:
    if entry.action == "reply_order":
        return "late" if entry.detail.get("late") else "in_time"
    return str(entry.detail.get("colour") or "-")


CLOCK = Counter(
    "griddispatch_clock_total",
    "The clock's steps recorded (延期, 挂起): request_extension, decide_extension and decide_suspension (outcome: "
    "approved or refused), request_suspension, resume (outcome: asked, or automatic when the case left handling)",
    ["step", "outcome"],
)
_CLOCK_STEPS = frozenset(a.value for a in CLOCK_ACTIONS)


def clock_outcome(entry: Entry) -> str:
    if "approved" in entry.detail:
        return "approved" if entry.detail["approved"] else "refused"
    return "automatic" if entry.detail.get("automatic") else "asked"


CONSULTATION = Counter(
    "griddispatch_consultation_total",
    "Consultation steps recorded (会商): convene, give_opinion, record_outcome, consultation_unanswered",
    ["step"],
)
_CONSULTATION_STEPS = frozenset({"convene", "give_opinion", "record_outcome", "consultation_unanswered"})

REPORT_UP = Counter(
    "griddispatch_report_up_total",
    "Report-up steps recorded (上报): report_up, decide_report_up (outcome: take, assign or send_back), "
    "report_up_climbed (undecided by its decide-by: the rung above decides), report_up_realert (undecided at the top)",
    ["step", "outcome"],
)
_REPORT_UP_STEPS = frozenset({"report_up", "decide_report_up", "report_up_climbed", "report_up_realert"})


@dataclass(frozen=True, slots=True)
class Mark:
    cases: dict[uuid.UUID, Case]
    created: frozenset[uuid.UUID]
    facts: int
    waiting: dict[uuid.UUID, tuple[tuple[str, bytes], ...]]
    parked: tuple[tuple[str, uuid.UUID, bytes], ...]
    consumed: tuple[str, ...]


class UnitOfWork:
    def __init__(self, pool: asyncpg.Pool, ctx: Context) -> None:
        self._pool = pool
        self.ctx = ctx
        self._conn: Any = None
        self._tx: Transaction | None = None
        self._stored: dict[uuid.UUID, Case] = {}  # as loaded
        self._cases: dict[uuid.UUID, Case] = {}  # as they are now
        self._created: set[uuid.UUID] = set()
        self._facts: list[Fact] = []
        self._traces: list[Mapping[str, str]] = []  # beside each fact: the trace context of the event that caused it
        self.cause: Mapping[str, str] = {}  # the trace context of the event being applied (batch.py sets it)
        # actions waiting for their case's report (event id, bytes): stored ones, and those parked in this batch
        self._waiting: dict[uuid.UUID, tuple[tuple[str, bytes], ...]] = {}
        self._parked: list[tuple[str, uuid.UUID, bytes]] = []
        self._consumed: list[str] = []  # stored waiting actions applied in this batch: no longer waiting
        self.submitted: set[uuid.UUID] = set()  # cases intake accepted whose report dispatch has not seen yet

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._pool.acquire()
        try:  # a BEGIN that fails (a backend terminated under us) must not keep the connection: __aexit__ won't run
            self._tx = self._conn.transaction()
            await self._tx.start()
        except BaseException:
            self._tx = None
            await self._pool.release(self._conn)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)

    @property
    def conn(self) -> asyncpg.Connection:
        return self._conn

    # ---- loading ---------------------------------------------------------------------------------------------

    async def claim(self, event_ids: Sequence[str]) -> set[str]:
        return await repository.claim(self.conn, event_ids)

    async def unclaim(self, event_ids: Sequence[str]) -> None:
        """Forget that these events were processed (dead-lettered ones: a redelivery dead-letters them again)."""
        await repository.unclaim(self.conn, event_ids)

    async def lock(self, case_ids: Iterable[uuid.UUID], refs: Sequence[repository.DeadlineRef] = ()) -> None:
        wanted = set(case_ids) - set(self._cases)
        loaded = await repository.lock_cases(self.conn, wanted, refs)
        self._stored.update(loaded)
        self._cases.update(loaded)

    async def load_waiting(self, case_ids: Iterable[uuid.UUID]) -> None:
        """The stored actions waiting for these cases' reports (they stop waiting when the report is applied)."""
        for case_id, waiting in (await repository.pending(self.conn, case_ids)).items():
            self._waiting[case_id] = tuple(waiting)

    # ---- the identity map ------------------------------------------------------------------------------------

    def get(self, case_id: uuid.UUID) -> Case | None:
        return self._cases.get(case_id)

    def cases(self) -> Iterable[Case]:
        return self._cases.values()

    def add(self, changed: Changed, *, created: bool = False) -> None:
        """Take a command's result: the case as it is now, and its facts (to be stored and announced)."""
        case = changed.case
        if created:
            self._created.add(case.case_id)
        self._cases[case.case_id] = case
        self._facts.extend(changed.facts)
        self._traces.extend(self.cause for _ in changed.facts)

    def refuse(self, refusal: Refusal) -> None:
        self._facts.append(refusal)
        self._traces.append(self.cause)

    def park(self, event_id: str, case_id: uuid.UUID, value: bytes) -> None:
        """An action whose case's report is still on the way: it waits for it."""
        self._waiting[case_id] = (*self._waiting.get(case_id, ()), (event_id, value))
        self._parked.append((event_id, case_id, value))

    def waiting_for(self, case_id: uuid.UUID) -> tuple[bytes, ...]:
        """The actions waiting for this case's report, in arrival order, taken out of waiting."""
        waiting = self._waiting.pop(case_id, ())
        parked = {p[0] for p in self._parked}
        self._consumed.extend(event_id for event_id, _ in waiting if event_id not in parked)
        return tuple(value for _, value in waiting)

    def facts_count(self) -> int:
        return len(self._facts)

    def mark(self) -> Mark:
        return Mark(
            dict(self._cases),
            frozenset(self._created),
            len(self._facts),
            dict(self._waiting),
            tuple(self._parked),
            tuple(self._consumed),
        )

    def undo(self, mark: Mark) -> None:
        self._cases = dict(mark.cases)
        self._created = set(mark.created)
        del self._facts[mark.facts :]
        del self._traces[mark.facts :]
        self._waiting = dict(mark.waiting)
        self._parked = list(mark.parked)
        self._consumed = list(mark.consumed)

    # ---- writing ---------------------------------------------------------------------------------------------

    async def commit(self) -> list[OutboxRow]:
        """Write every change of the batch, stage every announcement, commit; returns the outbox rows staged."""
        conn = self.conn
        created = [c for i, c in self._cases.items() if i in self._created]
        changed = [c for i, c in self._cases.items() if i not in self._created and c != self._stored.get(i)]
        opened: list[tuple[uuid.UUID, CaseDeadline]] = []
        closed: list[CaseDeadline] = []
        for case in (*created, *changed):
            before = {d.deadline_id: d for d in self._stored[case.case_id].deadlines} if case in changed else {}
            for d in case.deadlines:
                if d.deadline_id not in before:
                    opened.append((case.case_id, d))
                elif d.status != before[d.deadline_id].status:
                    closed.append(d)
        await repository.insert_cases(conn, created)
        await repository.update_cases(conn, changed)
        await repository.append_history(conn, [f for f in self._facts if isinstance(f, Entry)])
        await repository.insert_deadlines(conn, opened)
        await repository.close_deadlines(conn, closed)
        await repository.stop_waiting(conn, self._consumed)
        await repository.park(conn, [p for p in self._parked if p[1] in self._waiting])
        staged: list[tuple[str, CloudEvent[Any]]] = []
        now = self.ctx.now()
        for fact, trace in zip(self._facts, self._traces, strict=True):
            staged.extend(announcements(fact, self.ctx.topics, self.ctx.rules.registry, now, trace))
        rows = await stage_many(conn, staged)
        assert self._tx is not None
        await self._tx.commit()
        self._tx = None
        for fact in self._facts:
            if isinstance(fact, Notice) and fact.role in ("lead", "assisting", "summoned"):
                ASSIGNED_TO_PERSON.labels(fact.role, "person" if fact.person else "nobody").inc()
            elif isinstance(fact, Entry) and fact.action in _SUPERVISION_STEPS:
                SUPERVISION.labels(fact.action, supervision_outcome(fact)).inc()
            elif isinstance(fact, Entry) and fact.action in _CLOCK_STEPS:
                CLOCK.labels(fact.action, clock_outcome(fact)).inc()
            elif isinstance(fact, Entry) and fact.action in _CONSULTATION_STEPS:
                CONSULTATION.labels(fact.action).inc()
            elif isinstance(fact, Entry) and fact.action in _REPORT_UP_STEPS:
                REPORT_UP.labels(fact.action, str(fact.detail.get("decision") or "-")).inc()
        return rows
