"""A batch of events applied in arrival order inside one unit of work.

The batch is read in a few statements (claim the event ids, find the open cases near the new reports, lock
every case it touches with its deadlines, the actions waiting for its reports), then each event is one
command of the case aggregate, in memory. An event that fails is undone alone and comes back as dead (with
its reason); the others stay. What an event does is exactly what it did one at a time: a report sees the
cases opened by the reports before it in the same batch, an action the changes before it.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.dispatch import repository
from services.dispatch.context import Context
from services.dispatch.reports import count_watched_rules, new_case, reporter_of
from services.dispatch.unit_of_work import UnitOfWork
from shared.domain.case import Fired, Request, Who, act, fire, merge_report, open_case, refuse_unknown
from shared.domain.case.nearby import duplicate_of
from shared.domain.routing import Decision, route
from shared.errors import GridDispatchError, InvalidInput
from shared.events import CloudEvent, EventType, decode
from shared.events.facts import report_facts
from shared.events.types import ActionRequested, DeadlineFired, ReportSubmitted
from shared.logging import bind_context, get_logger
from shared.outbox import OutboxRow
from shared.tracing import consuming

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded event of the batch, with its original bytes (kept for a dead letter or a wait)."""

    event: CloudEvent[Any]
    raw: bytes
    decision: Decision | None = None  # a report's routing, when done ahead (`prepared`)
    refused: Dead | None = None  # why routing refused it, when done ahead


@dataclass(frozen=True, slots=True)
class Dead:
    """An event that cannot be processed: why, in a word and in a sentence."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Result:
    """Per event of the batch, in order: "applied", "no_change" (seen before, or nothing to do), or Dead."""

    outcomes: tuple[str | Dead, ...]
    staged: tuple[OutboxRow, ...]  # the outbox rows to publish once committed


def dead_of(exc: BaseException) -> Dead:
    """The reason a dead letter carries for an exception (a bug is logged with its traceback)."""
    if isinstance(exc, GridDispatchError):
        return Dead(str(exc.detail.get("reason") or exc.code), str(exc))
    if isinstance(exc, ValueError):
        return Dead("invalid_event", str(exc))
    log.error("processing_failed", error=repr(exc), trace=traceback.format_exc())
    return Dead("processing_error", repr(exc))


def _case_id(event: CloudEvent[Any]) -> uuid.UUID:
    return uuid.UUID(event.data.case_id)


def prepared(ctx: Context, item: Item) -> Item:
    """The item with its routing done (pure CPU: the worker does it for the next batch while the database
    writes the current one), or with why it was refused."""
    try:
        return replace(item, decision=_decide(ctx, item.event))
    except Exception as exc:  # noqa: BLE001 - routing refused it: dead, the rest goes on
        return replace(item, refused=dead_of(exc))


async def apply_batch(uow: UnitOfWork, ctx: Context, items: Sequence[Item]) -> Result:
    """Apply the batch and commit it; raises only what the database or the broker raise (the caller retries,
    or splits the batch to find the event the database refuses)."""
    outcomes: list[str | Dead] = ["no_change"] * len(items)
    fresh = await uow.claim([i.event.id for i in items])
    todo: list[int] = []
    for n, item in enumerate(items):
        if item.event.id in fresh:
            fresh.discard(item.event.id)  # the same event twice in one batch: the first one counts
            todo.append(n)
    decisions: dict[int, Decision] = {}
    for n in todo:
        item = items[n]
        if item.decision is None and item.refused is None:
            item = prepared(ctx, item)
        if item.refused is not None:
            outcomes[n] = item.refused
        elif item.decision is not None:
            decisions[n] = item.decision
    todo = [n for n in todo if not isinstance(outcomes[n], Dead)]
    await _load(uow, ctx, [items[n] for n in todo], [decisions[n] for n in todo if n in decisions])
    for n in todo:
        item = items[n]
        mark, before = uow.mark(), uow.facts_count()
        with (
            bind_context(case_id=item.event.subject, event_id=item.event.id, event_type=item.event.type.value),
            consuming(item.event, f"dispatch {item.event.type.value}") as trace,
        ):
            uow.cause = trace  # what this event causes carries its span's context
            try:
                changed = _apply(uow, ctx, item, decisions.get(n))
            except Exception as exc:  # noqa: BLE001 - one event's bug or bad data must not hold up the others
                uow.undo(mark)
                outcomes[n] = dead_of(exc)
                continue
        outcomes[n] = "applied" if changed or uow.facts_count() > before else "no_change"
    await uow.unclaim([items[n].event.id for n, o in enumerate(outcomes) if isinstance(o, Dead)])
    return Result(tuple(outcomes), tuple(await uow.commit()))


def _decide(ctx: Context, event: CloudEvent[Any]) -> Decision | None:
    """Routing for a report (pure): done first, so that the open cases near it are found in one statement."""
    if event.type is EventType.REPORT_SUBMITTED:
        report: ReportSubmitted = event.data
        rules = ctx.rules
        return route(report_facts(report), rules.registry, rules.catalog, report.received_at, rules.policy)
    if event.type in (EventType.ACTION_REQUESTED, EventType.DEADLINE_FIRED):
        return None
    raise InvalidInput(f"dispatch does not consume {event.type.value}", reason="unexpected_type")


async def _load(uow: UnitOfWork, ctx: Context, items: Sequence[Item], decisions: Sequence[Decision]) -> None:
    policy = ctx.rules.duplicates
    probes = []
    reports = [i.event.data for i in items if i.event.type is EventType.REPORT_SUBMITTED]
    for report, decision in zip(reports, decisions, strict=True):
        lon, lat = report.location.lon, report.location.lat
        if decision.matter and lon is not None and lat is not None and not decision.triage and policy.radius_m > 0:
            since = report.received_at - policy.window
            probes.append(repository.Probe(decision.matter, lon, lat, since, policy.radius_m))
    refs = [
        repository.DeadlineRef(_case_id(i.event), _uuid_or_none(i.event.data.deadline_id), i.event.data.kind,
                               i.event.data.assignee)
        for i in items
        if i.event.type is EventType.DEADLINE_FIRED
    ]  # fmt: skip
    touched = {_case_id(i.event) for i in items}
    await uow.lock(touched | await repository.nearby(uow.conn, probes), refs)
    report_ids = {uuid.UUID(r.case_id) for r in reports}
    await uow.load_waiting(report_ids - {c.case_id for c in uow.cases()})
    actions = {_case_id(i.event) for i in items if i.event.type is EventType.ACTION_REQUESTED}
    unknown = {c for c in actions if uow.get(c) is None}
    uow.submitted |= await repository.submitted(uow.conn, unknown)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _apply(uow: UnitOfWork, ctx: Context, item: Item, decision: Decision | None) -> bool:
    """One event's command; True when it changed something without a fact to show for it (an action parked).
    Its type is one dispatch consumes: `_decide` refused the others."""
    event = item.event
    if event.type is EventType.REPORT_SUBMITTED:
        assert decision is not None
        _report(uow, ctx, event, decision)
        return False
    if event.type is EventType.ACTION_REQUESTED:
        return _action(uow, ctx, event, item.raw)
    _deadline(uow, ctx, event)
    return False


def _report(uow: UnitOfWork, ctx: Context, event: CloudEvent[ReportSubmitted], decision: Decision) -> None:
    report, rules, now = event.data, ctx.rules, ctx.now()
    case_id = uuid.UUID(report.case_id)
    if uow.get(case_id) is not None:
        return  # the same case submitted again (a client retry after a partial failure): already opened
    count_watched_rules(decision)
    case = new_case(report, decision, rules)
    matter = decision.matter if not decision.triage else None
    lon, lat = report.location.lon, report.location.lat
    duplicate = duplicate_of(matter, lon, lat, report.received_at, uow.cases(), rules.duplicates)
    if duplicate is not None:
        into, distance = duplicate
        merged, linked = merge_report(case, into, distance, reporter_of(report), rules, now, cause=event.id)
        uow.add(merged, created=True)
        uow.add(linked)
    else:
        uow.add(open_case(case, decision, reporter_of(report), rules, now, cause=event.id), created=True)
    for raw in uow.waiting_for(case_id):  # actions that overtook the report, in the order they came
        waiting: CloudEvent[ActionRequested] = decode(raw)
        opened = uow.get(case_id)
        assert opened is not None
        uow.add(act(opened, _request(waiting.data), rules, ctx.now(), cause=waiting.id))


def _request(data: ActionRequested) -> Request:
    actor = Who(data.actor.id, data.actor.role, data.actor.unit, data.actor.name)
    return Request(data.action, actor, data.text, data.reason_code, dict(data.payload))


def _action(uow: UnitOfWork, ctx: Context, event: CloudEvent[ActionRequested], raw: bytes) -> bool:
    case_id = _case_id(event)
    case = uow.get(case_id)
    if case is None:
        if case_id in uow.submitted:
            uow.park(event.id, case_id, raw)  # its report is still on the way
            return True
        uow.refuse(refuse_unknown(event.data.case_id, _request(event.data), cause=event.id))
        return False
    uow.add(act(case, _request(event.data), ctx.rules, ctx.now(), cause=event.id))
    return False


def _deadline(uow: UnitOfWork, ctx: Context, event: CloudEvent[DeadlineFired]) -> None:
    data = event.data
    case = uow.get(_case_id(event))
    if case is None:
        return
    fired = Fired(data.deadline_id, data.kind, data.tier, data.due_at, data.assignee)
    changed = fire(case, fired, ctx.rules, ctx.now(), cause=event.id)
    if changed is not None:
        uow.add(changed)
