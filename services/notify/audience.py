"""Who hears of an event: pure rules over the event, the case, the subscriptions and the registry's people.

* the live stream of every party of the case (lead, assisting), of every unit it lies in or is assigned under
  (its `unit:` scope keys: a command centre's console streams its whole area), and of the party a deadline
  concerns;
* subscriptions whose client may see the case and whose filters (units, matter types, event types, levels) match;
* the persons an assignment or a fired deadline pages (services/notify/paging.py: the responsible person, then the
  unit's heads, then the next rung's responsible person), by SMS;
* the reporter (and the reporters of reports merged into the case) when it is accepted, resolved, and asked to rate;
  the reporter of a report merged into an open case, when it is merged (with the open case's number).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.lifecycle import URGENT_TIERS
from shared.events import CloudEvent, EventType

REPORTER_ACTIONS = frozenset({"merge", "accept", "resolve", "verify_passed", "close"})  # merge: 已合并


@dataclass(frozen=True, slots=True)
class CaseView:
    """What the rules need to know about the event's case (from the cases table)."""

    case_id: str
    lead: str | None
    assisting: tuple[str, ...]
    scope_keys: frozenset[str]
    matter_code: str | None
    level: str | None
    urgency: str
    reporter_phones: tuple[str, ...] = ()  # the reporter, and reporters of reports merged into this case
    lead_person: str | None = None  # the lead's responsible person (None: nobody was on duty, no head)
    part_persons: Mapping[str, str] = field(default_factory=dict)  # assisting party -> its responsible person


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    id: str
    channel: str
    target: str
    client_units: frozenset[str]  # the owning client's visibility ("*" sees all)
    client_key: str  # client:<id>: it also sees what it submitted
    units: frozenset[str] = frozenset()
    matter_types: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    phone: str


@dataclass(frozen=True, slots=True)
class Recipient:
    key: str  # subscription:<id>, person:<id>, reporter:<case>:<n>
    channel: str  # webhook, sms, email
    target: str
    subscription_id: str | None = None


@dataclass(frozen=True, slots=True)
class Audience:
    streams: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    urgent: bool
    extra: dict[str, Any] = field(default_factory=dict)  # CloudEvents extension attributes for the stream rows


def short_type(event_type: EventType) -> str:
    """cn.griddispatch.case.assigned.v1 -> case.assigned: the name subscriptions filter on."""
    return ".".join(event_type.value.split(".")[2:-1])


def is_urgent(event: CloudEvent[Any], case: CaseView | None) -> bool:
    if event.type is EventType.DEADLINE_FIRED and event.data.tier in URGENT_TIERS:
        return True
    return case is not None and case.urgency == "emergency"


def _matches(sub: SubscriptionView, event: CloudEvent[Any], case: CaseView | None) -> bool:
    keys = case.scope_keys if case else frozenset()
    visible = "*" in sub.client_units or bool(keys & (sub.client_units | {sub.client_key}))
    if not visible:
        return False
    if sub.units and not keys & sub.units:
        return False
    if sub.event_types and short_type(event.type) not in sub.event_types:
        return False
    if sub.matter_types and (case is None or case.matter_code not in sub.matter_types):
        return False
    return not (sub.levels and (case is None or case.level not in sub.levels))


def audience(
    event: CloudEvent[Any],
    case: CaseView | None,
    subscriptions: Iterable[SubscriptionView],
    paged: Sequence[Person] = (),
    next_rung: str | None = None,
    *,
    unstaffed: bool = False,
) -> Audience:
    """Everyone who hears of `event`; `paged` are the persons its escalation policy pages, with deliverable phones.

    `next_rung` is the unit above the party a fired deadline concerns: its console streams warnings, overdue
    cases and escalations. `unstaffed`: nobody answers for the party; the stream rows carry `unstaffed: true`.
    """
    streams: set[str] = set()
    recipients: list[Recipient] = []
    if case is not None:
        streams.update(p for p in (case.lead, *case.assisting) if p)
        # and every unit the case lies in or is assigned under: a command centre streams its whole area
        streams.update(k for k in case.scope_keys if k.startswith("unit:"))
    data = event.data
    if event.type in (EventType.CASE_ASSIGNED, EventType.DEADLINE_FIRED):
        streams.add(data.assignee)
        if next_rung is not None and event.type is EventType.DEADLINE_FIRED:
            streams.add(next_rung)
        recipients += [Recipient(f"person:{p.id}", "sms", p.phone) for p in paged]
    elif event.type is EventType.CASE_CHANGED and data.action in REPORTER_ACTIONS and case is not None:
        recipients += [
            Recipient(f"reporter:{case.case_id}:{n}", "sms", phone) for n, phone in enumerate(case.reporter_phones)
        ]
    for sub in subscriptions:
        if _matches(sub, event, case):
            recipients.append(Recipient(f"subscription:{sub.id}", sub.channel, sub.target, sub.id))
    extra: dict[str, Any] = {"unstaffed": True} if unstaffed else {}
    return Audience(tuple(sorted(streams)), tuple(recipients), is_urgent(event, case), extra)
