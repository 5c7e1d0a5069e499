"""Reading and acting on cases through intake, on the real database and broker, as each kind of client sees it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest, events_for

MARKET = "department:market_supervision"
CITY = "department:city_management"


async def test_a_department_sees_its_own_cases_only(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        ours = await insert_case(conn, lead=f"branch:market-{uuid.uuid4().hex[:4]}", scope_keys=[MARKET, "unit:610199"])
        theirs = await insert_case(conn, lead="branch:city-x", scope_keys=[CITY, "unit:610199"])
    market = await intake.caller("read", units=(MARKET,))
    assert (await intake.http.get(f"/v1/cases/{ours}", headers=market.headers)).status_code == 200
    hidden = await intake.http.get(f"/v1/cases/{theirs}", headers=market.headers)
    assert hidden.status_code == 404  # not 403: it does not even learn that the case exists
    assert str(theirs) not in hidden.text or "no case" in hidden.json()["detail"]
    listed = (await intake.http.get("/v1/cases", params={"limit": 200}, headers=market.headers)).json()["items"]
    ids = {item["case_id"] for item in listed}
    assert str(ours) in ids and str(theirs) not in ids


async def test_reporter_is_masked_without_the_personal_data_scope(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn)
    plain = await intake.caller("read")
    trusted = await intake.caller("read", "personal_data")
    masked = (await intake.http.get(f"/v1/cases/{case_id}", headers=plain.headers)).json()["reporter"]
    clear = (await intake.http.get(f"/v1/cases/{case_id}", headers=trusted.headers)).json()["reporter"]
    assert masked == {"name": "王**", "phone": "138****5678"}
    assert clear == {"name": "王先生", "phone": "13812345678"}
    listed = (await intake.http.get("/v1/cases", params={"limit": 200}, headers=plain.headers)).json()["items"]
    assert "13812345678" not in str(listed)


async def test_detail_carries_assignment_deadlines_history_and_trace(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, assisting=["unit:610199004"], state="assigned")
    reader = await intake.caller("read")
    body = (await intake.http.get(f"/v1/cases/{case_id}", headers=reader.headers)).json()
    assert body["state"] == "assigned"
    assert body["assignment"] == {
        "lead": "unit:610199004001",
        "assisting": ["unit:610199004"],
        "place": "610199004001001006",
    }
    assert body["deadlines"]["overdue"] is False and body["deadlines"]["accept_by"]
    assert body["deadlines"]["timezone"] == "Asia/Shanghai" and body["deadlines"]["accept_by_local"].endswith("+08:00")
    assert body["history"][0]["action"] == "assign" and body["history"][0]["actor"]["role"] == "system"
    assert body["routing"]["trace"][0]["rule"] == "locate.point_in_polygon"


async def test_list_filters_and_pagination(intake: IntakeUnderTest) -> None:
    unit = f"unit:T{uuid.uuid4().hex[:6]}"
    past = datetime.now(UTC) - timedelta(hours=1)
    async with intake.pool.acquire() as conn:
        made = [
            await insert_case(conn, scope_keys=[unit], received_at=past + timedelta(seconds=i), state=state)
            for i, state in enumerate(["assigned", "accepted", "assigned", "closed", "assigned"])
        ]
        late = await insert_case(conn, scope_keys=[unit], state="assigned", accept_by=past, received_at=past)
    reader = await intake.caller("read")
    everything = (
        await intake.http.get("/v1/cases", params={"unit": unit, "limit": 100}, headers=reader.headers)
    ).json()
    assert len(everything["items"]) == 6 and everything["next_cursor"] is None

    pages, cursor = [], None
    while True:
        params = {"unit": unit, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await intake.http.get("/v1/cases", params=params, headers=reader.headers)).json()
        pages.append([i["case_id"] for i in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    flat = [c for p in pages for c in p]
    assert len(flat) == 6 and len(set(flat)) == 6  # every case once, no gaps or repeats across pages
    assert flat[0] == str(made[-1])  # newest first

    assigned = (
        await intake.http.get("/v1/cases", params={"unit": unit, "state": "assigned"}, headers=reader.headers)
    ).json()
    assert len(assigned["items"]) == 4
    overdue = (
        await intake.http.get("/v1/cases", params={"unit": unit, "overdue": "true"}, headers=reader.headers)
    ).json()
    assert [i["case_id"] for i in overdue["items"]] == [str(late)]
    assert overdue["items"][0]["deadlines"]["overdue"] is True
    window = {
        "unit": unit,
        "from": (past + timedelta(seconds=1)).isoformat(),
        "to": (past + timedelta(seconds=3)).isoformat(),
    }
    assert len((await intake.http.get("/v1/cases", params=window, headers=reader.headers)).json()["items"]) == 2

    bad = await intake.http.get("/v1/cases", params={"state": "dreaming"}, headers=reader.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "state"
    assert (await intake.http.get("/v1/cases", params={"cursor": "garbage"}, headers=reader.headers)).json()[
        "field"
    ] == "cursor"


async def test_assignee_accepts_and_the_action_reaches_the_topic(intake: IntakeUnderTest) -> None:
    grid = "unit:610199004001"
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=grid, state="assigned")
    worker_app = await intake.caller("read", "act", units=(grid,), source="grid_app")
    body = {"action": "accept", "actor": {"id": "worker-7", "unit": grid}}
    headers = {**worker_app.headers, "Idempotency-Key": f"a-{uuid.uuid4()}"}
    response = await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers=headers)
    assert response.status_code == 202, response.text
    events = await events_for(intake.kafka, intake.topics.actions, str(case_id))
    assert len(events) == 1
    assert events[0].id == response.json()["action_id"]
    assert events[0].data.action == "accept" and events[0].data.actor.role == "assignee"

    # dispatch applies it; a retry of the same request is answered from the ledger, not refused by the new state
    async with intake.pool.acquire() as conn:
        await conn.execute("UPDATE cases SET state = 'accepted' WHERE case_id = $1", case_id)
    again = await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers=headers)
    assert again.status_code == 202 and again.json()["replayed"] is True
    assert len(await events_for(intake.kafka, intake.topics.actions, str(case_id))) == 1


async def test_illegal_action_gets_409_with_state_and_allowed(intake: IntakeUnderTest) -> None:
    grid = "unit:610199004001"
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=grid, state="assigned")
    worker_app = await intake.caller("act", units=(grid,))
    response = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "resolve", "actor": {"id": "w", "unit": grid}, "text": "done"},
        headers=worker_app.headers,
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/illegal_transition") and problem["current_state"] == "assigned"
    assert "accept" in problem["allowed"] and "return" in problem["allowed"] and "resolve" not in problem["allowed"]


async def test_only_parties_may_act_and_returns_need_a_reason(intake: IntakeUnderTest) -> None:
    grid = "unit:610199004001"
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=grid, state="assigned")
    stranger = await intake.caller("act", units=("*",))
    as_other = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "accept", "actor": {"id": "x", "unit": "unit:elsewhere"}},
        headers=stranger.headers,
    )
    assert as_other.status_code == 403 and as_other.json()["field"] == "actor.unit"
    claims_role = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "cancel", "actor": {"id": "x", "unit": grid, "role": "supervisor"}},
        headers=stranger.headers,
    )
    assert claims_role.status_code == 403 and claims_role.json()["field"] == "actor.role"
    no_reason = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "return", "actor": {"id": "x", "unit": grid}},
        headers=stranger.headers,
    )
    assert no_reason.status_code == 422


async def test_supervisor_summons_and_resident_rates(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        open_case = await insert_case(conn, state="accepted", scope_keys=["unit:610199004"])
    centre = await intake.caller("read", "supervise", units=("unit:610199004",))
    summon = await intake.http.post(
        f"/v1/cases/{open_case}/actions",
        json={
            "action": "summon",
            "actor": {"id": "duty-officer", "unit": "unit:610199004"},
            "departments": ["fire_rescue"],
        },
        headers=centre.headers,
    )
    assert summon.status_code == 202, summon.text
    event = (await events_for(intake.kafka, intake.topics.actions, str(open_case)))[0]
    assert event.data.actor.role == "supervisor" and event.data.payload["departments"] == ["fire_rescue"]

    hotline = await intake.caller("submit", "read", "act")
    async with intake.pool.acquire() as conn:
        verified = await insert_case(conn, state="verified", scope_keys=[hotline.client.own_key])
    rate = await intake.http.post(
        f"/v1/cases/{verified}/actions",
        json={"action": "rate", "actor": {"id": "resident"}, "score": 2, "text": "没修好"},
        headers=hotline.headers,
    )
    assert rate.status_code == 202, rate.text
    event = (await events_for(intake.kafka, intake.topics.actions, str(verified)))[0]
    assert event.data.action == "rate_unsatisfied" and event.data.actor.role == "resident"


async def test_units_and_matter_types_come_from_the_active_registry(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read")
    streets = (await intake.http.get("/v1/units", params={"level": "street"}, headers=reader.headers)).json()["items"]
    assert len(streets) == 4 and all(s["level"] == "street" for s in streets)
    children = (
        await intake.http.get("/v1/units", params={"parent": streets[0]["code"]}, headers=reader.headers)
    ).json()
    assert children["items"] and all(c["parent"] == streets[0]["code"] for c in children["items"])
    with_geometry = (
        await intake.http.get("/v1/units", params={"level": "district", "geometry": "true"}, headers=reader.headers)
    ).json()["items"]
    assert with_geometry[0]["boundary"]["type"] in ("Polygon", "MultiPolygon")
    matters = (await intake.http.get("/v1/matter-types", headers=reader.headers)).json()["items"]
    assert len(matters) >= 50 and {"code", "name", "name_en", "level", "keywords"} <= set(matters[0])
    assert (await intake.http.get("/v1/units")).status_code == 401


async def test_a_grid_app_acts_for_the_micro_grids_in_its_grid(intake: IntakeUnderTest) -> None:
    micro_grid = "unit:610199004001001006"
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=micro_grid, state="assigned")
    grid_app = await intake.caller("act", units=("unit:610199004001",))
    ok = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "accept", "actor": {"id": "w", "unit": micro_grid}},
        headers=grid_app.headers,
    )
    assert ok.status_code == 202, ok.text
    other_grid = await intake.caller("act", units=("unit:610199004002",))
    refused = await intake.http.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "accept", "actor": {"id": "w", "unit": micro_grid}},
        headers=other_grid.headers,
    )
    assert refused.status_code == 404  # another grid does not even learn that the case exists
