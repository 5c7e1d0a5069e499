"""The typed `data` of each event type. The `type` attribute of the envelope selects the model.

Types are reverse-DNS names with a version suffix, so a consumer can refuse a version it does not know
instead of misreading it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.lifecycle import DueKind, Tier


class EventType(StrEnum):
    REPORT_SUBMITTED = "cn.griddispatch.report.submitted.v1"
    ACTION_REQUESTED = "cn.griddispatch.action.requested.v1"
    DEADLINE_FIRED = "cn.griddispatch.deadline.fired.v1"
    CASE_CHANGED = "cn.griddispatch.case.changed.v1"
    CASE_ASSIGNED = "cn.griddispatch.case.assigned.v1"
    ACTION_REJECTED = "cn.griddispatch.action.rejected.v1"
    PROBE = "cn.griddispatch.probe.v1"


class Contract(BaseModel):
    """Base of every event payload: strict about unknown fields so typos fail loudly at the producer."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Urgency = Literal["low", "normal", "high", "emergency"]


def location_problem(lon: float | None, lat: float | None, grid_code: str | None, address: str | None) -> str | None:
    """What a location lacks, or None: a point (lon and lat together), a grid code or an address, at least one."""
    if (lon is None) != (lat is None):
        return "lon and lat come together"
    if lon is None and not (grid_code or "").strip() and not (address or "").strip():
        return "give coordinates (lon and lat), a grid code or an address"
    return None


class Location(Contract):
    """Where a report is (WGS84 coordinates, a grid code, an address): never empty, coordinates finite."""

    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    grid_code: str | None = None
    address: str | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Location:
        problem = location_problem(self.lon, self.lat, self.grid_code, self.address)
        if problem is not None:
            raise ValueError(problem)
        return self


class Reporter(Contract):
    name: str | None = None
    phone: str | None = None


class ReportSubmitted(Contract):
    """A report accepted by intake (or published by an app's bulk sync): the first event of a case."""

    case_id: str
    case_number: str
    source: str  # hotline, grid_app, camera, department, open311
    source_ref: str | None = None  # the source's own id, e.g. the hotline ticket number
    matter_code: str | None = None
    title: str
    description: str = ""
    location: Location
    urgency: Urgency = "normal"
    households_affected: int = Field(0, ge=0)
    reporter: Reporter | None = None
    observed_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    received_at: datetime
    submitted_by: str | None = None  # the API client that submitted it: it may follow the case afterwards


class Actor(Contract):
    id: str  # a signed-in person's id (from their token), or what a system's client names
    role: str  # assignee, assisting, supervisor, resident, system
    unit: str | None = None
    name: str | None = None  # the signed-in person's name; None for systems and actors named by a client


class ActionRequested(Contract):
    """Someone asks for an action on a case; dispatch applies it through the lifecycle or rejects it."""

    case_id: str
    action: str
    actor: Actor
    reason_code: str | None = None
    text: str | None = None
    payload: dict[str, object] = Field(default_factory=dict)


class DeadlineFired(Contract):
    """A deadline reached a warning tier, became overdue, or is escalated."""

    case_id: str
    deadline_id: str
    kind: DueKind
    tier: Tier
    due_at: datetime
    assignee: str
    scheduled_at: datetime | None = None  # when this tier was due to fire (its lag is the event time minus this)


class CaseChanged(Contract):
    """The audit trail: one event per transition of a case, as recorded in PostgreSQL."""

    case_id: str
    seq: int = Field(ge=1)
    action: str
    from_state: str | None
    to_state: str
    actor: Actor
    lead: str | None = None
    assisting: tuple[str, ...] = ()
    detail: dict[str, object] = Field(default_factory=dict)
    responsible: str | None = None  # the lead's responsible person (派单到人) after this entry; None: nobody


class CaseAssigned(Contract):
    """What an assignee (unit, branch or department) receives: the case is theirs to accept."""

    case_id: str
    case_number: str
    assignee: str
    role: str  # lead, assisting, or summoned (a department a command centre called to the case)
    matter_code: str | None
    level: str
    accept_by: datetime | None = None
    resolve_by: datetime | None = None
    title: str
    person: str | None = None  # the assignee's responsible person for this case; None: nobody on duty, no head


class ActionRejected(Contract):
    """Dispatch refused an action: the sender learns why (the case's state, the rule) from this event."""

    case_id: str
    action_event_id: str
    action: str
    actor: Actor
    state: str | None  # None: the case is unknown
    code: str
    reason: str


class Probe(Contract):
    """A harmless event used by readiness checks and infrastructure tests."""

    note: str = ""


EVENT_TYPES: dict[EventType, type[Contract]] = {
    EventType.REPORT_SUBMITTED: ReportSubmitted,
    EventType.ACTION_REQUESTED: ActionRequested,
    EventType.DEADLINE_FIRED: DeadlineFired,
    EventType.CASE_CHANGED: CaseChanged,
    EventType.CASE_ASSIGNED: CaseAssigned,
    EventType.ACTION_REJECTED: ActionRejected,
    EventType.PROBE: Probe,
}
