"""The case aggregate's values: the case itself, its deadlines, and the facts a command emits.

Immutable throughout: a command (shared.domain.case.commands) takes a `Case` and returns a new one with the
facts it emits (`Entry`: one row of the case's history and its announcement; `Notice`: one assignee told;
`Refusal`: an action turned down). Nothing here does I/O: dispatch's repository loads and stores cases and
turns the facts into rows and events (services/dispatch/unit_of_work.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.case.clock import NO_CLOCK, Clock
from shared.domain.case.consultation import NO_CONSULTATION, Consultation
from shared.domain.catalog import MatterCatalog
from shared.domain.lifecycle import CaseProgress, DueKind, State
from shared.domain.model import MatterType
from shared.domain.registry import Registry
from shared.domain.routing import DEFAULT_POLICY, Policy, ReportFacts, Urgency
from shared.people.duty import EMPTY as NO_PEOPLE
from shared.people.duty import PeopleSnapshot

_NAMESPACE = uuid.UUID("0f3c2a53-2f1e-4d7b-8a63-5b2d6c1e9f40")


def derived_id(cause: str, purpose: str) -> str:
    """The id of what `cause` leads to for `purpose`: redoing the same work yields the same ids."""
    return str(uuid.uuid5(_NAMESPACE, f"{cause}/{purpose}"))


@dataclass(frozen=True, slots=True)
class Who:
    """Who did it: an id, the role it acted in, and the unit it acted for (the event contracts' Actor)."""

    id: str
    role: str
    unit: str | None = None
    name: str | None = None  # a signed-in person's name, as their token gave it

    def as_dict(self) -> dict[str, Any]:
        named = {"name": self.name} if self.name is not None else {}
        return {"id": self.id, "role": self.role, "unit": self.unit, **named}


SYSTEM = Who("dispatch", "system")


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"  # done, in time or late
    VOID = "void"  # no longer owed (a new assignment, the case ended, a re-alert replaced it)


@dataclass(frozen=True, slots=True)
class CaseDeadline:
    """One deadline of the case: who owes what by when, and whether it is still owed."""

    deadline_id: uuid.UUID
    kind: DueKind
    party: str
    starts_at: datetime
    due_at: datetime
    warn_times: tuple[datetime, ...] = ()
    status: DeadlineStatus = DeadlineStatus.OPEN
    created_at: datetime | None = None  # None: opened by a command not stored yet

    @property
    def is_open(self) -> bool:
        return self.status is DeadlineStatus.OPEN

    @property
    def first_fire(self) -> datetime:
        return min([*self.warn_times, self.due_at])


class OrderColour(StrEnum):
    YELLOW = "yellow"  # 黄牌督办: the supervising level's order
    RED = "red"  # 红牌督办: a yellow order went unanswered, the rung above issues it


@dataclass(frozen=True, slots=True)
class Order:
    """An open supervision order (督办单): the lead `to` owes a reply by `reply_by` (its ORDER_REPLY deadline,
    whose id is the order's id). Answered, escalated or voided orders live on in the history only."""

    order_id: str
    colour: OrderColour
    by: str  # the issuing level (unit:, department:)
    to: str  # the lead it is addressed to
    reply_by: datetime
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "colour": self.colour.value,
            "by": self.by,
            "to": self.to,
            "reply_by": self.reply_by.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> Order:
        return cls(
            str(data["order_id"]),
            OrderColour(data["colour"]),
            str(data["by"]),
            str(data["to"]),
            datetime.fromisoformat(str(data["reply_by"])),
            str(data.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class Supervision:
    """Who supervises the case (督办) and what it owes: since its lead was assigned (a new lead starts afresh)."""

    supervisor: str | None = None  # the rung put on the case at a missed deadline (policy `supervise`)
    misses: int = 0  # accept-by and resolve-by deadlines the current lead missed
    orders: tuple[Order, ...] = ()  # the open ones

    def order(self, order_id: str) -> Order | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def without(self, order_id: str) -> Supervision:
        return replace(self, orders=tuple(o for o in self.orders if o.order_id != order_id))

    def as_dict(self) -> dict[str, Any]:
        return {"supervisor": self.supervisor, "misses": self.misses, "orders": [o.as_dict() for o in self.orders]}

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Supervision:
        data = data or {}
        orders = tuple(Order.of(o) for o in data.get("orders", ()))
        return cls(data.get("supervisor"), int(data.get("misses", 0)), orders)


NO_SUPERVISION = Supervision()


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the case's history (`case_events`) and its `CaseChanged` announcement."""

    case_id: uuid.UUID
    seq: int
    event_id: str  # the history row's idempotency key
    action: str
    from_state: State | None
    to_state: State
    actor: Who
    detail: dict[str, Any]
    at: datetime
    cause: str  # the event that led to it: the announcement's id derives from it
    lead: str | None  # the case's lead and assisting parties once the entry is made
    assisting: tuple[str, ...]
    announced: bool = True  # a `rejected` entry is told through its Refusal instead
    responsible: str | None = None  # the lead's responsible person once the entry is made

    @property
    def announcement_id(self) -> str:
        return derived_id(self.cause, f"change/{self.seq}")


@dataclass(frozen=True, slots=True)
class Notice:
    """One assignee told the case is theirs (`CaseAssigned`): as lead, assisting, or summoned."""

    case_id: uuid.UUID
    case_number: str
    assignee: str
    role: str
    matter_code: str | None
    level: str
    accept_by: datetime | None
    resolve_by: datetime | None
    title: str
    cause: str
    person: str | None = None  # the assignee's responsible person for this case (None: nobody on duty)

    @property
    def announcement_id(self) -> str:
        return derived_id(self.cause, f"assign/{self.assignee}/{self.role}")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An action turned down (`ActionRejected`); on a known case its history holds a `rejected` entry too."""

    case_id: str
    action_event_id: str
    action: str
    actor: Who
    state: State | None
    code: str
    reason: str

    @property
    def announcement_id(self) -> str:
        return derived_id(self.action_event_id, "rejected")


Fact = Entry | Notice | Refusal


@dataclass(frozen=True, slots=True)
class Case:
    """A case as dispatch holds it: the `cases` row, its lifecycle progress, its deadlines and history position."""

    case_id: uuid.UUID
    case_number: str
    source: str
    title: str
    received_at: datetime
    state: State = State.REPORTED
    progress: CaseProgress = field(default_factory=CaseProgress)
    source_ref: str | None = None
    matter_code: str | None = None
    level: str | None = None
    lead: str | None = None  # as the row shows it: a merged report shows the lead of the case it joined
    assisting: tuple[str, ...] = ()
    place: str | None = None
    description: str = ""
    location: dict[str, Any] = field(default_factory=dict)
    urgency: str = Urgency.NORMAL.value
    households: int = 0
    reporter: dict[str, Any] | None = None
    attachments: tuple[str, ...] = ()
    observed_at: datetime | None = None
    accept_by: datetime | None = None
    resolve_by: datetime | None = None
    merged_into: uuid.UUID | None = None
    duplicates: int = 0
    registry_version: str | None = None
    decision: dict[str, Any] | None = None
    scope_keys: tuple[str, ...] = ()
    submitted_by: str | None = None  # the API client that submitted it (not a column: its scope key is)
    lead_person: str | None = None  # the lead unit's responsible person (派单到人); None: nobody on duty, no head
    part_persons: tuple[tuple[str, str], ...] = ()  # (assisting party, its responsible person), by party
    supervision: Supervision = NO_SUPERVISION  # its supervisor, missed deadlines and open supervision orders
    seq: int = 0  # the last history entry's sequence number
    deadlines: tuple[CaseDeadline, ...] = ()  # the open ones, and any a command or a fired event refers to
    clock: Clock = NO_CLOCK  # extensions and suspension (延期, 挂起) asked, approved, in force
    consultation: Consultation = NO_CONSULTATION  # the open consultation (会商): invited, opinions, by when

    @property
    def lon(self) -> float | None:
        value = self.location.get("lon")
        return float(value) if value is not None else None

    @property
    def lat(self) -> float | None:
        value = self.location.get("lat")
        return float(value) if value is not None else None

    def facts(self, *, excluded: frozenset[Any] = frozenset(), returns: int = 0) -> ReportFacts:
        """What routing needs to know about the case (to route it again, or to compute fresh deadlines)."""
        loc = self.location
        return ReportFacts(
            title=self.title,
            description=self.description,
            matter=self.matter_code,
            lon=loc.get("lon"),
            lat=loc.get("lat"),
            grid_code=loc.get("grid_code"),
            address=loc.get("address"),
            urgency=Urgency(self.urgency),
            households=self.households,
            duplicates=self.duplicates,
            excluded=excluded,
            returns=returns,
        )

    @property
    def persons(self) -> tuple[str, ...]:
        """Every responsible person of the case (the lead's, then the parts'): whose queue it is in."""
        named = [self.lead_person] if self.lead_person else []
        return tuple(dict.fromkeys([*named, *(p for _, p in self.part_persons)]))

    def person_of(self, party: str) -> str | None:
        """The responsible person of the lead or of an assisting party."""
        if party == self.lead:
            return self.lead_person
        return dict(self.part_persons).get(party)

    def open_deadlines(self) -> tuple[CaseDeadline, ...]:
        return tuple(d for d in self.deadlines if d.is_open)

    def deadline(self, deadline_id: str) -> CaseDeadline | None:
        try:
            key = uuid.UUID(deadline_id)
        except ValueError:
            return None
        return next((d for d in self.deadlines if d.deadline_id == key), None)

    def latest_deadline(self, kind: DueKind, party: str) -> CaseDeadline | None:
        """The party's most recent deadline of that kind (one opened by a command counts as the newest)."""
        matching = [d for d in self.deadlines if d.kind is kind and d.party == party]
        if not matching:
            return None
        return max(matching, key=lambda d: (d.created_at is None, d.created_at or d.starts_at))


_CASE_FIELDS = tuple(f.name for f in fields(Case))
_CASE_FIELD_SET = frozenset(_CASE_FIELDS)


def evolve(case: Case, **changes: Any) -> Case:
    """`dataclasses.replace` for a Case, without running __init__ again (a command makes a dozen: replace was a
    twentieth of dispatch's time per report, bench.dispatch)."""
    if not changes.keys() <= _CASE_FIELD_SET:
        raise TypeError(f"Case has no field {', '.join(sorted(changes.keys() - _CASE_FIELD_SET))}")
    new = object.__new__(Case)
    for name in _CASE_FIELDS:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(case, name))
    return new


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """A new report is the same problem as an open case of the same matter this close, this recent."""

    radius_m: float = 100.0
    window: timedelta = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class AfterCarePolicy:
    """How long a command centre has to verify a resolved case, and a resident to rate a verified one."""

    verify_within_days: float = 2.0  # working days
    follow_up_within_hours: float = 72.0  # calendar hours; then the case closes without a rating


@dataclass(frozen=True)
class Rules:
    """Everything a command consults besides the case: the registry, the catalog and the policies."""

    registry: Registry
    catalog: MatterCatalog
    version: str  # the registry version routing decisions are recorded with
    policy: Policy = DEFAULT_POLICY
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    after_care: AfterCarePolicy = field(default_factory=AfterCarePolicy)
    deadline_scale: float = 1.0  # every deadline's allowance times this (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE)
    people: PeopleSnapshot = NO_PEOPLE  # persons, roles and rosters: who answers for an assigned unit

    def matter(self, code: str | None) -> MatterType | None:
        return self.catalog.get(code) if code is not None and code in self.catalog else None


@dataclass(frozen=True, slots=True)
class Changed:
    """What a command did to one case: the case as it is now, and the facts it emitted, in order."""

    case: Case
    facts: tuple[Fact, ...] = ()
