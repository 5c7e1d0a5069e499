"""The supervision desk (督办台, GET /v1/supervision/desk) on the real database: the area's open cases the most
overdue first, then by urgency and escalations; its filters, and counts that are exactly the lists they open."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.case_rows import append_events, insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra


async def test_the_desk_sorts_filters_and_counts_what_it_lists(intake: IntakeUnderTest) -> None:
    scope = f"unit:T{uuid.uuid4().hex[:10]}"  # this test's cases alone are visible to its caller
    desk = await intake.caller("read", units=(scope,))
    now = datetime.now(UTC)
    h = timedelta(hours=1)
    async with intake.pool.acquire() as conn:

        async def case(title: str, **fields: object) -> str:
            return str(await insert_case(conn, title=title, scope_keys=[scope], **fields))

        accept_late = await case("待受理超时3小时", state="assigned", accept_by=now - 3 * h)
        resolve_late = await case(
            "处置超时1小时",
            state="accepted",
            urgency="high",
            resolve_by=now - h,
            progress=json.dumps({"escalations": 1}),
        )
        await append_events(conn, uuid.UUID(resolve_late), "escalate")
        department = await case(
            "部门牵头", lead="department:city_management", urgency="emergency", accept_by=now + 5 * h
        )
        summoned = await case(
            "部门未报到",
            state="in_progress",
            resolve_by=now + 2 * h,
            progress=json.dumps({"owing": ["department:gas"]}),
        )
        later = await case("普通案件", state="accepted", resolve_by=now + 9 * h)
        await case("已办结", state="closed")

    async def get(*filters: str) -> dict[str, object]:
        params = [("filter", f) for f in filters]
        answer = await intake.http.get("/v1/supervision/desk", params=params, headers=desk.headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    whole = await get()
    items = whole["items"]
    assert isinstance(items, list)
    # overdue first, the longest overdue first; then urgency (emergency first); then the next due time
    assert [i["case_id"] for i in items] == [accept_late, resolve_late, department, summoned, later]
    first, second = items[0], items[1]
    assert (first["due_kind"], first["overdue"]) == ("accept", True) and 3 * 3600 - 60 < first[
        "overdue_s"
    ] < 3 * 3600 + 60
    assert (second["due_kind"], second["escalations"], second["ever_escalated"]) == ("resolve", 1, True)
    assert items[2]["waiting_department"] is True and items[3]["summoned_pending"] == ["department:gas"]
    assert items[4]["overdue_s"] < 0  # time left
    assert whole["counts"] == {"all": 5, "overdue": 2, "escalated": 1, "waiting_department": 1, "summoned_pending": 1}
    assert whole["total"] == 5

    counts = whole["counts"]
    assert isinstance(counts, dict)
    for name in ("overdue", "escalated", "waiting_department", "summoned_pending"):
        chosen = await get(name)
        assert chosen["total"] == counts[name] == len(chosen["items"])  # type: ignore[arg-type]
    both = await get("overdue", "escalated")
    assert [i["case_id"] for i in both["items"]] == [resolve_late]  # type: ignore[union-attr]

    # the case list lists the escalated ones too (the statistics' figure opens it)
    listed = await intake.http.get("/v1/cases", params={"fact": "escalated"}, headers=desk.headers)
    assert [c["case_id"] for c in listed.json()["items"]] == [resolve_late]
    counted = await intake.http.get("/v1/cases", params={"fact": "received"}, headers=desk.headers)
    assert len(counted.json()["items"]) == 6  # the closed one too: every case the statistics count

    page = await intake.http.get("/v1/supervision/desk", params={"limit": "2", "offset": "2"}, headers=desk.headers)
    assert [i["case_id"] for i in page.json()["items"]] == [department, summoned]


async def test_the_desk_refuses_what_it_cannot_answer(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("read", units=("unit:610199004",))
    outside = await intake.http.get("/v1/supervision/desk", params={"place": "unit:610199001"}, headers=caller.headers)
    assert outside.status_code == 404 and outside.json()["field"] == "unit"
    unknown = await intake.http.get("/v1/supervision/desk", params={"filter": "late"}, headers=caller.headers)
    assert unknown.status_code == 422
    inside = await intake.http.get(
        "/v1/supervision/desk", params={"place": "unit:610199004001"}, headers=caller.headers
    )
    assert inside.status_code == 200 and inside.json()["place"] == "unit:610199004001"
    assert all(i["place"].startswith("610199004001") for i in inside.json()["items"])
