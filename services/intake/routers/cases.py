"""Reading cases and acting on them: GET /v1/cases, GET /v1/cases/{id}, POST /v1/cases/{id}/actions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query

from services.intake import act, case_names, clock, consult, report_up, supervise
from services.intake.case_queries import CaseFilter, list_cases
from services.intake.case_views import case_detail, case_summary, delivery_view, received, responsible_ids
from services.intake.console_metrics import CONSOLE_QUERY_SECONDS
from services.intake.deps import Client, Res, require
from services.intake.schemas import ActionAccepted, ActionIn, Page, Source, in_range, problems
from shared.api_clients import Scope
from shared.domain.lifecycle import State
from shared.errors import InvalidInput, NotFound
from shared.people import store as people_store
from shared.queries import case_events, cases, deadlines, submissions
from shared.queries.deliveries import deliveries_of
from shared.queries.visibility import visibility_of

router = APIRouter(prefix="/v1", tags=["cases"], responses=problems(401, 403, 422, 429))

CASE_STATES = tuple(s.value for s in State)
Fact = Literal[
    "received", "accepted_in_time", "resolved_in_time", "overdue", "escalated", "returned", "rated", "satisfied"
]


def _not_found(case_id: uuid.UUID) -> NotFound:
    # The same answer whether the case does not exist or belongs to someone else: nothing leaks.
    return NotFound(f"no case {case_id} that this client may see", case_id=str(case_id))


@router.get(
    "/cases/{case_id}",
    summary="A case: state, assignment, deadlines with their warning colours, history (timeline) and routing trace",
    description=(
        "`deadlines.items`: every deadline the case has had (accept, resolve, report_in, verify, follow_up), "
        "each with `warning`: `blue` on track, `yellow` inside the warning window (its first warning time has "
        "passed), `red` overdue, `none` no longer running (met or void); `deadlines.warning` is the most "
        "pressing colour of the running ones. `history` is the timeline: time, actor, action, `note`. "
        "`names`: the registry's name of every unit, branch and department code the case mentions; "
        "`allowed_actions`: per role (assignee, assisting, supervisor) the actions the case's state allows."
    ),
    responses=problems(404),
)
async def get_case(case_id: uuid.UUID, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.READ, Scope.SUBMIT)
    tz = ZoneInfo(res.settings.district_timezone)
    async with res.pool.acquire() as conn:
        row, submission = await submissions.case_or_submission(conn, visibility_of(client), case_id)
        if row is not None:
            events, due = await case_events.history(conn, case_id), await deadlines.of_case(conn, case_id)
            names = await people_store.names_of(conn, responsible_ids([row]))
            view = case_detail(row, events, client, tz, due, names=names)
            view["names"] = await case_names.names_of(conn, case_names.parties_in(view))
            view["allowed_actions"] = case_names.allowed_by_role(view["state"])
            return view
    if submission is not None:
        return received(submission)
    raise _not_found(case_id)


@router.get("/cases", response_model=Page, summary="Cases this client may see, newest first")
async def get_cases(
    client: Client,
    res: Res,
    unit: Annotated[
        str | None, Query(max_length=80, description="unit:<code>, branch:<code> or department:<code>")
    ] = None,
    place: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=r"^(unit:)?[A-Za-z0-9_.\-]{1,64}$",
            description="unit:<code> (or the code): cases that happened in this unit or inside it, whoever leads "
            "them now (what the map counts on it)",
        ),
    ] = None,
    state: Annotated[list[str] | None, Query(description="one or more states")] = None,
    matter: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[
        Literal["micro_grid", "grid", "community", "street", "district"] | None,
        Query(description="the level the case is handled at"),
    ] = None,
    source: Annotated[Source | None, Query(description="where the report came from")] = None,
    overdue: Annotated[bool | None, Query(description="only overdue (true) or only not overdue (false)")] = None,
    fact: Annotated[
        list[Fact] | None,
        Query(
            description="the cases behind a figure of the statistics (GET /v1/stats): those they count (not merged "
            "into another), with every fact named: accepted_in_time, resolved_in_time, overdue (a handling deadline "
            "fell due), escalated (at least once), returned, rated, satisfied; `received`: every case they count"
        ),
    ] = None,
    received_from: Annotated[datetime | None, Query(alias="from")] = None,
    received_to: Annotated[datetime | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    require(client, Scope.READ)
    states = tuple(state or ())
    unknown = [s for s in states if s not in CASE_STATES]
    if unknown:
        raise InvalidInput(f"unknown state(s) {unknown}; states are {', '.join(CASE_STATES)}", field="state")
    for name, value in (("from", received_from), ("to", received_to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone offset", field=name)
        try:
            in_range(value)
        except ValueError as exc:
            raise InvalidInput(f"{name}: {exc}", field=name) from exc
    where = place.removeprefix("unit:") if place else None
    filters = CaseFilter(
        unit,
        states,
        matter,
        overdue,
        received_from,
        received_to,
        cursor,
        limit,
        level,
        source,
        place=where,
        facts=tuple(dict.fromkeys(fact or ())),
    )
    async with res.pool.acquire() as conn:
        rows, next_cursor = await list_cases(conn, client, filters)
        running = await deadlines.running(conn, [r["case_id"] for r in rows])
        names = await people_store.names_of(conn, responsible_ids(rows))
    tz = ZoneInfo(res.settings.district_timezone)
    items = [case_summary(r, client, tz, running.get(r["case_id"], []), names=names) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/cases/{case_id}/deliveries",
    summary="Notifications sent about a case: channel, target, status, attempts, last error, times",
    description=(
        "Newest first, at most 500. Phone numbers and e-mail addresses are masked without the personal_data "
        "scope. `status`: pending (being sent or waiting for a retry at `next_attempt_at`), delivered, grouped "
        "(sent inside a grouped message), suppressed (over a rate ceiling or a repeat), dead (gave up)."
    ),
    responses=problems(404),
)
async def get_deliveries(case_id: uuid.UUID, client: Client, res: Res) -> dict[str, Any]:
    require(client, Scope.READ)
    async with res.pool.acquire() as conn:
        if await cases.visible_case(conn, visibility_of(client), case_id) is None:
            raise _not_found(case_id)
        with CONSOLE_QUERY_SECONDS.labels("deliveries").time():
            found = await deliveries_of(conn, case_id)
    return {"case_id": str(case_id), "items": [delivery_view(d, client) for d in found]}


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


@router.post(
    "/cases/{case_id}/actions",
    status_code=202,
    response_model=ActionAccepted,
    summary="Act on a case (accept, return, resolve, verify, rate, summon, redispatch, urge, supervise_order, ...)",
    description=(
        "Supervision (督办), by the supervising level (the rung above the lead, or a unit above it, with the "
        "supervise scope): `urge` (催办, `text` the reason), `supervise_order` (督办单: `text` the reason, `colour` "
        "yellow or red, `reply_by` optional); the lead answers with `reply_order` (`order_id`, `text` what was "
        "done). 403 `not_supervising` for a unit below the supervising level, 403 `order_not_yours` for a reply "
        "to an order addressed to another unit, 409 `unknown_order` for an order that is not open on the case. "
        "`redispatch` (command centre, supervise scope): `unit` is the new lead (unit code, department:<code> or "
        "branch:<code>), `text` the reason; the case is assigned to it with fresh deadlines and a CaseAssigned "
        "event, as dispatch assigns. 422 `unknown_unit` for a unit the registry does not have; 403 for a unit "
        "outside the caller's area. "
        "Report up (上报): the lead (its responsible person or its system) sends `report_up` with `text` the reason; "
        "the rung above the lead (or a unit above it, supervise scope) answers with `decide_report_up`: "
        "`decision` take (it leads), assign (`unit` a branch:<code> or department:<code> leads) or send_back "
        "(`text` the instruction). Undecided by its decide-by (the matter's reply_within_hours) it climbs a rung. "
        "403 `not_report_up_rung` (not the lead; not the rung waited for nor above it), `not_responsible` "
        "(a signed-in person not responsible for the case); 409 `report_up_pending`, `no_report_up`, "
        "`report_up_at_top`. "
        "Consultation (会商): a street or community over the case's place, or the district on behalf of the case's "
        "street (history: `detail.on_behalf_of`; supervise scope), sends `convene` with "
        "`invited` (unit:, branch:, department:), `text` the topic and optionally `opinions_by`; each invited party "
        "answers with `give_opinion` (`text` the opinion; role `invitee`) by then; the convener (or the district for "
        "a street convener) sends "
        "`record_outcome` with `unit` the decided lead, `assisting` and `text` the outcome, which re-dispatches the "
        "case. 403 `convener_not_allowed`, `not_invited`, `not_convener`; 409 `consultation_open`, "
        "`no_consultation`, `consultation_closed` (an answer after the deadline), `opinion_given`."
    ),
    responses=problems(
        400,
        404,
        409,
        403,
        413,
        415,
        503,
        _409="not allowed in the case's current state (`current_state` and `allowed` say what is), "
        "or the Idempotency-Key was used for a different action, or `unknown_order` (no such open order), "
        "or the clock's `extension_pending`, `suspension_pending`, "
        "`already_suspended`, `not_suspended`, `nothing_to_decide`",
        _403="this client is not a party to the case in that role; for a signed-in person also `forged_actor` "
        "(actor.id names someone else) and `unit_not_yours` (actor.unit is not one of theirs); `not_supervising`, "
        "`order_not_yours` (supervision); `not_lead` (the clock: only the lead asks for an extension or suspension)",
    ),
)
async def post_action(
    case_id: uuid.UUID, body: ActionIn, client: Client, res: Res, idempotency_key: IdempotencyKey = None
) -> ActionAccepted:
    require(client, Scope.ACT, Scope.SUPERVISE)
    event_id = act.action_event_id(client, idempotency_key)
    status_url = f"{res.public_url}/v1/cases/{case_id}"
    async with res.pool.acquire() as conn:
        body = await act.with_actor(conn, client, body)
        digest = act.action_hash(body)
        earlier = await act.earlier_action(conn, event_id, body)
        if earlier is None:
            row, submission = await submissions.case_or_submission(conn, visibility_of(client), case_id)
            if row is None and submission is None:
                raise _not_found(case_id)
            scope_keys = list((row or submission)["scope_keys"])  # type: ignore[index]
            if body.action == "redispatch":
                await act.check_redispatch(conn, client, body)
            body = await act.acting_unit(conn, client, body, row)
            await supervise.check(conn, client, body, row)
            await clock.check(conn, client, body, row)
            await report_up.check(conn, client, body, row)
            await consult.check(conn, client, body, row)
            chain = await act.unit_chain(conn, body.actor.unit)
            role = act.choose_role(client, body, row, scope_keys, chain)
            if row is not None:  # dispatch has recorded it: the lifecycle can be checked here and now
                act.check_lifecycle(row["state"], act.lifecycle_action(body), role, body.action)
            earlier = await act.record_and_publish(
                conn,
                res.producer,
                res.topics.actions,
                client,
                case_id,
                body,
                role,
                event_id,
                idempotency_key,
                digest,
                max_attachments=res.settings.max_attachments,
            )
    return ActionAccepted(
        action_id=str(earlier.event_id),
        case_id=str(case_id),
        action=body.action,
        status_url=status_url,
        replayed=earlier.replayed,
    )
