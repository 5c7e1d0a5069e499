"""A new report: routed and opened as a case, or linked to the open case it duplicates."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from prometheus_client import Counter

from services.dispatch import announce, case_store
from services.dispatch.context import Context
from services.dispatch.progress import dump
from services.dispatch.steps import SYSTEM, assign
from services.dispatch.visibility import scope_keys
from shared.domain.lifecycle import CaseProgress, State
from shared.domain.routing import Decision, route
from shared.events import CloudEvent
from shared.events.facts import report_facts
from shared.events.types import Actor, ReportSubmitted

# Rules that mean the registry has gaps or a safety case could not be placed: worth a dashboard.
WATCHED_RULES = ("units.skip_unstaffed", "units.safety_unplaced_department", "units.safety_unplaced_district")
ROUTING_RULES = Counter(
    "griddispatch_routing_rule_decisions_total",
    "New cases whose routing decision used the rule (unstaffed units passed over, unplaced safety cases)",
    ["rule"],
)


def count_watched_rules(decision: Decision) -> set[str]:
    """Counts each watched rule once per decision; returns those that fired."""
    fired = {step.rule for step in decision.trace} & set(WATCHED_RULES)
    for rule in fired:
        ROUTING_RULES.labels(rule=rule).inc()
    return fired


def _row(report: ReportSubmitted, decision: Decision, ctx: Context) -> dict[str, Any]:
    loc = report.location
    return {
        "case_id": uuid.UUID(report.case_id),
        "case_number": report.case_number,
        "state": State.REPORTED.value,
        "source": report.source,
        "source_ref": report.source_ref,
        "matter_code": decision.matter,
        "level": decision.level.value,
        "place": decision.place,
        "title": report.title,
        "description": report.description,
        "location": json.dumps(loc.model_dump(exclude_none=True), ensure_ascii=False),
        "lon": loc.lon,
        "lat": loc.lat,
        "urgency": report.urgency,
        "households": report.households_affected,
        "reporter": json.dumps(report.reporter.model_dump(), ensure_ascii=False) if report.reporter else None,
        "attachments": list(report.attachments),
        "observed_at": report.observed_at,
        "received_at": report.received_at,
        "registry_version": ctx.version,
        "decision": json.dumps(decision.to_dict(), ensure_ascii=False, default=str),
        "progress": dump(CaseProgress()),
        "scope_keys": scope_keys(ctx.registry, [], decision.place, report.submitted_by),
    }


def _reporter(report: ReportSubmitted) -> Actor:
    return Actor(id=report.submitted_by or report.source, role="resident")


async def handle_report(conn: asyncpg.Connection, ctx: Context, event: CloudEvent[ReportSubmitted]) -> list[int]:
    report = event.data
    if await case_store.lock_case(conn, uuid.UUID(report.case_id)) is not None:
        return []  # the same case submitted again (a client retry after a partial failure): already opened
    decision = route(report_facts(report), ctx.registry, ctx.catalog, report.received_at, ctx.policy)
    count_watched_rules(decision)
    duplicate = None
    if decision.matter and report.location.lon is not None and report.location.lat is not None and not decision.triage:
        since = report.received_at - ctx.duplicates.window
        duplicate = await case_store.find_duplicate(
            conn, decision.matter, report.location.lon, report.location.lat, since, ctx.duplicates.radius_m
        )
    case = _row(report, decision, ctx)
    case["submitted_by"] = report.submitted_by
    if duplicate is not None:
        return await _merge(conn, ctx, event, case, duplicate)
    return await _open(conn, ctx, event, case, decision)


async def _reported(
    conn: asyncpg.Connection, ctx: Context, event: CloudEvent[ReportSubmitted], case: dict[str, Any]
) -> list[int]:
    stored = {k: v for k, v in case.items() if k != "submitted_by"}
    await case_store.insert_case(conn, stored)
    detail = {"case_number": case["case_number"], "source": case["source"], "source_ref": case["source_ref"]}
    actor = _reporter(event.data)
    seq = await case_store.append_event(
        conn, case["case_id"], event.id, "report", None, State.REPORTED.value, actor.model_dump(), detail, ctx.now()
    )
    return await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action="report",
        from_state=None,
        to_state=State.REPORTED.value,
        actor=actor,
        detail=detail,
        cause=event.id,
    )


async def _open(
    conn: asyncpg.Connection, ctx: Context, event: CloudEvent[ReportSubmitted], case: dict[str, Any], decision: Decision
) -> list[int]:
    ids = await _reported(conn, ctx, event, case)
    detail = {
        "lead": str(decision.lead),
        "assisting": [str(a) for a in decision.assisting],
        "level": decision.level.value,
        "matter": decision.matter,
        "triage": decision.triage,
        "rules": [step.rule for step in decision.trace],
    }
    _, more = await assign(
        conn,
        ctx,
        case,
        CaseProgress(),
        lead=str(decision.lead),
        assisting=[str(a) for a in decision.assisting],
        start=event.data.received_at,
        accept_by=decision.accept_by,
        resolve_by=decision.resolve_by,
        clock=decision.clock,
        warn_at=decision.warn_at,
        actor=SYSTEM,
        detail=detail,
        cause=event.id,
    )
    return ids + more


async def _merge(
    conn: asyncpg.Connection,
    ctx: Context,
    event: CloudEvent[ReportSubmitted],
    case: dict[str, Any],
    open_case: asyncpg.Record,
) -> list[int]:
    """A further report of an open problem: recorded as its own merged case, counted on the open one."""
    case.update(
        lead=open_case["lead"],
        assisting=list(open_case["assisting"]),
        merged_into=open_case["case_id"],
        scope_keys=sorted({*open_case["scope_keys"], *case["scope_keys"]}),
    )
    ids = await _reported(conn, ctx, event, case)
    into = str(open_case["case_id"])
    detail = {"into": into, "into_case_number": open_case["case_number"], "distance_m": round(open_case["distance"], 1)}
    progress = CaseProgress(merged_into=into, state=State.MERGED)
    await case_store.update_case(conn, case["case_id"], {"state": State.MERGED.value, "progress": dump(progress)})
    seq = await case_store.append_event(
        conn,
        case["case_id"],
        announce.derived_id(event.id, "merge"),
        "merge",
        State.REPORTED.value,
        State.MERGED.value,
        SYSTEM.model_dump(),
        detail,
        ctx.now(),
    )
    case["state"] = State.MERGED.value
    ids += await announce.change(
        conn,
        ctx,
        case,
        seq=seq,
        action="merge",
        from_state=State.REPORTED.value,
        to_state=State.MERGED.value,
        actor=SYSTEM,
        detail=detail,
        cause=event.id,
    )

    duplicates = open_case["duplicates"] + 1
    await case_store.update_case(conn, open_case["case_id"], {"duplicates": duplicates})
    link = {"report": str(case["case_id"]), "case_number": case["case_number"], "duplicates": duplicates}
    seq = await case_store.append_event(
        conn,
        open_case["case_id"],
        announce.derived_id(event.id, "link"),
        "link",
        open_case["state"],
        open_case["state"],
        SYSTEM.model_dump(),
        link,
        ctx.now(),
    )
    ids += await announce.change(
        conn,
        ctx,
        dict(open_case),
        seq=seq,
        action="link",
        from_state=open_case["state"],
        to_state=open_case["state"],
        actor=SYSTEM,
        detail=link,
        cause=event.id,
    )
    return ids
