"""Personal queues (我的待办): GET /v1/me/queue (the cases I am responsible for) and GET /v1/me/unit-queue (my
units' cases), due soonest first with their warning colours; GET /v1/cases/unstaffed (cases nobody answers for).

"Me" is the signed-in person (`client.person`); a system's API key has no queue (403 `no_person`).
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from services.intake.case_views import case_summary, responsible_ids
from services.intake.deps import Client, Res, require
from services.intake.schemas import problems
from shared.api_clients import ApiClient, Scope
from shared.domain.lifecycle import IN_HANDLING
from shared.errors import Forbidden
from shared.people import store as people_store
from shared.people.model import Person
from shared.queries import cases, deadlines
from shared.queries.states import values
from shared.queries.visibility import visibility_of

router = APIRouter(prefix="/v1", tags=["queues"], responses=problems(401, 403, 422, 429))
OPEN = values(IN_HANDLING)  # assigned, accepted, in progress, reopened: what a person still has to do
Limit = Annotated[int, Query(ge=1, le=500)]


class NoPerson(Forbidden):
    code = "no_person"


def person_of(client: ApiClient) -> Person:
    if client.person is None:
        raise NoPerson(
            "this API key belongs to a system, not a person: a queue is a signed-in person's", field="Authorization"
        )
    return client.person


async def _page(res: Res, client: ApiClient, rows: list[Any]) -> dict[str, Any]:
    tz = ZoneInfo(res.settings.district_timezone)
    async with res.pool.acquire() as conn:
        running = await deadlines.running(conn, [r["case_id"] for r in rows])
        names = await people_store.names_of(conn, responsible_ids(rows))
    items = []
    for r in rows:
        item = case_summary(r, client, tz, running.get(r["case_id"], []), names=names)
        item["due_next"] = r["due_next"].isoformat() if r["due_next"] else None
        items.append(item)
    return {"items": items, "count": len(items)}


@router.get(
    "/me/queue",
    summary="My queue: open cases I am responsible for (lead or an assisting part), due soonest first",
    description=(
        "Cases assigned, accepted, in progress or reopened whose responsible person is the signed-in person, "
        "ordered by the due time of the step they wait on (`due_next`: accept-by, then resolve-by); "
        "`deadlines.warning` is blue, yellow or red. 403 `no_person` for a system's API key."
    ),
)
async def my_queue(client: Client, res: Res, limit: Limit = 100) -> dict[str, Any]:
    require(client, Scope.READ)
    person = person_of(client)
    async with res.pool.acquire() as conn:
        rows = await cases.person_queue(conn, person.id, visibility_of(client), OPEN, limit)
    return {"person": person.id, **await _page(res, client, rows)}


@router.get(
    "/me/unit-queue",
    summary="My units' queue: open cases led or assisted by the units I hold a role in, due soonest first",
    description="Each item's `responsible` names who answers for it (null `lead`: nobody). 403 `no_person`.",
)
async def my_unit_queue(client: Client, res: Res, limit: Limit = 200) -> dict[str, Any]:
    require(client, Scope.READ)
    person = person_of(client)
    units = sorted(u for u in person.units if u != "*")
    async with res.pool.acquire() as conn:
        rows = await cases.units_queue(conn, units, visibility_of(client), OPEN, limit) if units else []
    return {"person": person.id, "units": units, **await _page(res, client, rows)}


@router.get(
    "/cases/unstaffed",
    summary="Open cases with no responsible person: their unit had nobody on duty and no head (flagged)",
)
async def unstaffed_cases(client: Client, res: Res, limit: Limit = 200) -> dict[str, Any]:
    require(client, Scope.READ, Scope.SUPERVISE)
    async with res.pool.acquire() as conn:
        rows = await cases.unstaffed(conn, visibility_of(client), OPEN, limit)
    return await _page(res, client, rows)
