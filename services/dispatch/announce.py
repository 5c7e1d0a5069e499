"""What dispatch publishes for the facts a command emits: the audit trail, assignments (also per department),
refusals. Pure: each fact becomes (topic, event) pairs the unit of work stages in the outbox.

Event ids are derived from the event that caused them (shared.domain.case.derived_id), so redoing the same
work yields the same ids and every consumer can drop what it has already seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.domain.case import SYSTEM as SYSTEM_WHO
from shared.domain.case import Entry, Fact, Notice, Refusal, Who, derived_id
from shared.domain.registry import Registry
from shared.events import CloudEvent
from shared.events.envelope import trusted_event
from shared.events.types import ActionRejected, Actor, CaseAssigned, CaseChanged
from shared.topics import Topics

SOURCE = "/griddispatch/dispatch"
__all__ = ["SOURCE", "SYSTEM", "announcements", "department_of", "derived_id"]


def _actor(who: Who) -> Actor:
    return Actor.model_construct(id=who.id, role=who.role, unit=who.unit, name=who.name)


SYSTEM = Actor(
    id=SYSTEM_WHO.id, role=SYSTEM_WHO.role, unit=SYSTEM_WHO.unit
)  # dispatch itself, as the contracts name it


def department_of(registry: Registry, assignee: str) -> str | None:
    kind, _, code = assignee.partition(":")
    if kind == "branch" and code in registry.branches:
        return registry.branches[code].department
    return code if kind == "department" else None


def announcements(
    fact: Fact, topics: Topics, registry: Registry, at: datetime, trace: Mapping[str, str] | None = None
) -> list[tuple[str, CloudEvent[Any]]]:
    """The (topic, event) pairs that tell the world about one fact (a history entry's at its own time, the
    others at `at`), carrying `trace`, the trace context of what caused it. Built from values the aggregate
    has checked: not validated again."""
    if isinstance(fact, Entry):
        if not fact.announced:
            return []
        changed = CaseChanged.model_construct(
            case_id=str(fact.case_id),
            seq=fact.seq,
            action=fact.action,
            from_state=fact.from_state.value if fact.from_state else None,
            to_state=fact.to_state.value,
            actor=_actor(fact.actor),
            lead=fact.lead,
            assisting=fact.assisting,
            detail=fact.detail,
            responsible=fact.responsible,
        )
        event = trusted_event(
            changed, source=SOURCE, subject=str(fact.case_id), event_id=fact.announcement_id, time=fact.at, trace=trace
        )
        return [(topics.case_events, event)]
    if isinstance(fact, Notice):
        assigned = CaseAssigned.model_construct(
            case_id=str(fact.case_id),
            case_number=fact.case_number,
            assignee=fact.assignee,
            role=fact.role,
            matter_code=fact.matter_code,
            level=fact.level,
            accept_by=fact.accept_by,
            resolve_by=fact.resolve_by,
            title=fact.title,
            person=fact.person,
        )
        notice = trusted_event(
            assigned, source=SOURCE, subject=str(fact.case_id), event_id=fact.announcement_id, time=at, trace=trace
        )
        pairs: list[tuple[str, CloudEvent[Any]]] = [(topics.assignments, notice)]
        department = department_of(registry, fact.assignee)
        if department is not None:
            pairs.append((topics.department_assignments(department), notice))
        return pairs
    assert isinstance(fact, Refusal)
    rejected = ActionRejected.model_construct(
        case_id=fact.case_id,
        action_event_id=fact.action_event_id,
        action=fact.action,
        actor=_actor(fact.actor),
        state=fact.state.value if fact.state else None,
        code=fact.code,
        reason=fact.reason,
    )
    refused = trusted_event(
        rejected, source=SOURCE, subject=fact.case_id, event_id=fact.announcement_id, time=at, trace=trace
    )
    return [(topics.case_events, refused)]
