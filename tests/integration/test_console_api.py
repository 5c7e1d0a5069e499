"""What the command-centre console needs from intake (and notify), on the real database and broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.console.routes import CONSOLE_DIR
from services.intake.routers.console_config import sign_in_methods, tiles_of
from services.notify.main import create_app as create_notify_app
from services.notify.streams import StreamHub
from shared.settings import DatabaseSettings, IntakeSettings, KafkaSettings, NotifySettings
from tests.case_rows import append_events, insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra

DISTRICT = "610199"
STREET = "610199004"


async def test_config_names_notify_the_district_its_clock_and_the_ways_to_sign_in(intake: IntakeUnderTest) -> None:
    response = await intake.http.get("/console/config.json")
    assert response.status_code == 200
    assert response.json() == {
        "notify_url": "http://127.0.0.1:8003",
        "district": DISTRICT,
        "timezone": "Asia/Shanghai",
        # No single sign-on provider is configured here: the sign-in page shows no 统一身份认证 button.
        "sign_in": {"password": True, "oidc": False, "oidc_login_url": None, "api_key": True},
        "tiles": None,  # no tile layer configured: the offline outline map
    }


def test_a_configured_tile_layer_is_handed_to_the_console() -> None:
    settings = IntakeSettings(
        console_tiles_url="https://t{s}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=k",
        console_tiles_subdomains="01234567",
        console_tiles_attribution="天地图",
    )
    assert tiles_of(settings) == {
        "url": settings.console_tiles_url,
        "attribution": "天地图",
        "subdomains": "01234567",
        "crs": "wgs84",
        "max_zoom": 18,
    }
    assert tiles_of(IntakeSettings()) is None


async def test_the_console_page_is_served_without_a_key(intake: IntakeUnderTest) -> None:
    assert (CONSOLE_DIR / "index.html").exists()
    page = await intake.http.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (await intake.http.get("/console/no-such-file.js")).status_code == 404
    script = await intake.http.get("/console/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    bare = await intake.http.get("/console")
    assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/console/")


async def test_me_says_who_the_key_is_and_names_its_area(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", "supervise", units=(f"unit:{STREET}",), name="西关街道指挥中心")
    body = (await intake.http.get("/v1/me", headers=centre.headers)).json()
    assert body["name"] == "西关街道指挥中心"
    assert body["scopes"] == ["read", "supervise"] and body["units"] == [f"unit:{STREET}"]
    assert body["sees_all"] is False
    assert body["area"] == [
        {"unit": f"unit:{STREET}", "kind": "unit", "code": STREET, "name": "西关街道", "level": "street"}
    ]
    department = await intake.caller("read", units=("department:city_management", "branch:city_management-610199004"))
    area = (await intake.http.get("/v1/me", headers=department.headers)).json()["area"]
    assert [(a["unit"], a["name"], a["level"]) for a in area] == [
        ("branch:city_management-610199004", "西关综合执法中队", "branch"),
        ("department:city_management", "丰庆区城市管理和综合执法局", "department"),
    ]
    anonymous = await intake.http.get("/v1/me")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


async def test_notify_lets_the_console_read_streams_and_nothing_else(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, db_pool: asyncpg.Pool
) -> None:
    notify = NotifySettings(console_origins="http://127.0.0.1:8000, http://console.test")
    app = create_notify_app(kafka_settings, database_settings, notify=notify)
    # The stream's own parts without notify's consumer and worker: the CORS layer sits in front of them.
    hub = StreamHub(db_pool)
    await hub.start()
    app.state.pool, app.state.stream_hub = db_pool, hub
    try:
        await _cors_checks(app)
    finally:
        await hub.stop()


async def _cors_checks(app: FastAPI) -> None:
    preflight = {"Origin": "http://console.test", "Access-Control-Request-Method": "GET"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify.test") as http:
        allowed = await http.options(
            f"/v1/streams/unit:{STREET}",
            headers={**preflight, "Access-Control-Request-Headers": "authorization, last-event-id"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://console.test"
        assert "GET" in allowed.headers["access-control-allow-methods"]
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

        stranger = await http.options(f"/v1/streams/unit:{STREET}", headers={**preflight, "Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in stranger.headers

        post = await http.options(
            f"/v1/streams/unit:{STREET}", headers={**preflight, "Access-Control-Request-Method": "POST"}
        )
        assert post.status_code == 400  # streams are read, never written, from a browser

        # The answer (here a refusal: no key) carries the header, so the browser lets the page read it.
        refused = await http.get(f"/v1/streams/unit:{STREET}", headers={"Origin": "http://console.test"})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "http://console.test"

        other = await http.get("/v1/subscriptions", headers={"Origin": "http://console.test"})
        assert "access-control-allow-origin" not in other.headers


MAP_STREET = "610199003"
COMMUNITY = "610199003002"
GRID = "610199003002003"


async def _map(intake: IntakeUnderTest, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await intake.http.get("/v1/map", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _open_counts(intake: IntakeUnderTest, headers: dict[str, str], **params: str) -> dict[str, tuple[int, int]]:
    return {
        f["properties"]["code"]: (f["properties"]["open"], f["properties"]["overdue"])
        for f in (await _map(intake, headers, **params))["features"]
    }


def _grown(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


async def test_map_counts_every_open_case_where_it_lies_whoever_leads_it(intake: IntakeUnderTest) -> None:
    # The session's database holds other tests' cases too: the counts are compared with a reading before.
    seen = [f"unit:{COMMUNITY}", f"unit:{MAP_STREET}", "unit:610199"]
    past = datetime.now(UTC) - timedelta(hours=1)
    centre = await intake.caller("read", "supervise", units=(f"unit:{MAP_STREET}",))
    everyone = await intake.caller("read", units=("*",))
    before = await _open_counts(intake, centre.headers)
    before_totals = (await _map(intake, centre.headers))["totals"]
    before_micro = await _map(intake, centre.headers, unit=f"unit:{GRID}", level="micro_grid")
    before_district = await _open_counts(intake, everyone.headers)
    async with intake.pool.acquire() as conn:
        await insert_case(conn, lead=f"unit:{GRID}001", place=f"{GRID}001", scope_keys=seen)  # its micro-grid
        await insert_case(  # on the grid itself (no micro-grid holds the spot), overdue
            conn, lead=f"unit:{GRID}", place=GRID, state="accepted", resolve_by=past, scope_keys=seen
        )
        climbed = await insert_case(  # it climbed to the street, which leads it now: it still lies on the grid
            conn, lead=f"unit:{MAP_STREET}", place=f"{GRID}002", state="assigned", scope_keys=seen
        )
        await append_events(conn, climbed, "escalate")
        await insert_case(conn, lead="department:city_management", place=f"{GRID}003", scope_keys=seen)
        await insert_case(conn, lead=f"unit:{GRID}", place=GRID, state="closed", scope_keys=seen)  # done
        await insert_case(conn, lead=f"unit:{GRID}", place=GRID, scope_keys=["department:police"])  # not the street's
        await insert_case(conn, lead="unit:610199001001001", place="610199001001001", scope_keys=["unit:610199001"])
    collection = await _map(intake, centre.headers)
    assert collection["type"] == "FeatureCollection"
    grids = {f["properties"]["code"]: f for f in collection["features"]}
    assert len(grids) == 12 and all(code.startswith(MAP_STREET) for code in grids)  # the street's 12 grids only
    ours = grids[GRID]
    assert ours["geometry"]["type"] == "Polygon"
    assert ours["properties"]["name"] == "友谊社区第3网格" and ours["properties"]["parent"] == COMMUNITY
    assert (ours["properties"]["open"], ours["properties"]["overdue"]) == (before[GRID][0] + 4, before[GRID][1] + 1)
    assert grids[f"{COMMUNITY}001"]["properties"]["open"] == before[f"{COMMUNITY}001"][0]
    # every open case of the area once, and who leads those that are not the drawn level's own
    assert _grown(collection["totals"], before_totals) == {
        "open": 4, "overdue": 1, "escalated": 1, "led_above_level": 1, "led_by_departments": 1,
    }  # fmt: skip
    assert (
        collection["totals"]["open"]
        == sum(g["properties"]["open"] for g in grids.values()) + (collection["totals"]["outside_units_shown"])
    )

    # the panel lists exactly what the grid counts
    listed = await intake.http.get(
        "/v1/cases",
        params={"place": f"unit:{GRID}", "state": ["reported", "assigned", "accepted", "in_progress", "returned",
                                                   "escalated", "reopened"], "limit": "200"},
        headers=centre.headers,
    )  # fmt: skip
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == ours["properties"]["open"]
    assert sum(1 for c in listed.json()["items"] if c["deadlines"]["overdue"]) == ours["properties"]["overdue"]

    community = await _map(intake, centre.headers, unit=COMMUNITY)
    assert sorted(f["properties"]["code"] for f in community["features"]) == [f"{COMMUNITY}00{i}" for i in (1, 2, 3)]
    micro = await _map(intake, centre.headers, unit=f"unit:{GRID}", level="micro_grid")
    counts = {f["properties"]["code"]: f["properties"]["open"] for f in micro["features"]}
    earlier = {f["properties"]["code"]: f["properties"]["open"] for f in before_micro["features"]}
    assert _grown(counts, earlier) == {f"{GRID}001": 1, f"{GRID}002": 1, f"{GRID}003": 1}
    # the one on the grid itself lies on no micro-grid: counted in the totals as outside the units drawn
    assert _grown(micro["totals"], before_micro["totals"])["outside_units_shown"] == 1

    district = await _open_counts(intake, everyone.headers)
    assert len(district) == 48
    assert district[GRID][0] == before_district[GRID][0] + 5  # sees the police's too


async def test_map_refuses_units_outside_the_area(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", units=(f"unit:{MAP_STREET}",))
    for unit in ("610199001", "unit:610199", "nowhere"):
        refused = await intake.http.get("/v1/map", params={"unit": unit}, headers=centre.headers)
        assert refused.status_code == 404 and refused.json()["field"] == "unit", unit
    bad = await intake.http.get("/v1/map", params={"level": "planet"}, headers=centre.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "level"
    writer = await intake.caller("submit", units=(f"unit:{MAP_STREET}",))
    assert (await intake.http.get("/v1/map", headers=writer.headers)).status_code == 403


async def _deadline(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    kind: str,
    due_at: datetime,
    *,
    warn: list[datetime] | None = None,
    status: str = "open",
    party: str = "unit:610199004001",
) -> None:
    starts = due_at - timedelta(hours=4)
    await conn.execute(
        """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8)""",
        uuid.uuid4(),
        case_id,
        kind,
        party,
        starts,
        due_at,
        warn or [],
        status,
    )


async def test_case_page_shows_deadline_colours_the_timeline_with_notes_and_the_trace(
    intake: IntakeUnderTest,
) -> None:
    now = datetime.now(UTC)
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(
            conn,
            state="accepted",
            decision={
                "lead": "unit:610199004001",
                "trace": [{"rule": "locate.point_in_polygon", "reason": "the point lies in 邻里格6", "detail": {}}],
            },
            progress='{"owing": ["department:police"], "returned_by": ["unit:610199004002"]}',
        )
        await _deadline(conn, case_id, "accept", now - timedelta(hours=1), status="met")
        await _deadline(conn, case_id, "resolve", now + timedelta(hours=1), warn=[now - timedelta(minutes=5)])
        await _deadline(conn, case_id, "report_in", now + timedelta(hours=3), warn=[now + timedelta(hours=2)])
        await conn.execute(
            """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail)
               VALUES ($1, 2, $2, 'return', 'assigned', 'returned', $3, $4)""",
            case_id,
            str(uuid.uuid4()),
            '{"id": "worker-2", "role": "assignee", "unit": "unit:610199004002"}',
            '{"reason_code": "not_our_jurisdiction", "text": "不在本网格"}',
        )
    reader = await intake.caller("read")
    body = (await intake.http.get(f"/v1/cases/{case_id}", headers=reader.headers)).json()
    colours = {d["kind"]: (d["status"], d["warning"]) for d in body["deadlines"]["items"]}
    assert colours == {"accept": ("met", "none"), "resolve": ("open", "yellow"), "report_in": ("open", "blue")}
    assert body["deadlines"]["warning"] == "yellow"
    resolve = next(d for d in body["deadlines"]["items"] if d["kind"] == "resolve")
    assert resolve["due_at_local"].endswith("+08:00") and len(resolve["warn_at"]) == 1
    assert body["progress"]["owing"] == ["department:police"]
    assert body["progress"]["returned_by"] == ["unit:610199004002"]
    returned = body["history"][1]
    assert returned["action"] == "return" and returned["actor"]["id"] == "worker-2"
    assert returned["note"] == "[not_our_jurisdiction] 不在本网格" and returned["at"]
    assert body["routing"]["trace"] == [
        {"rule": "locate.point_in_polygon", "reason": "the point lies in 邻里格6", "detail": {}}
    ]

    async with intake.pool.acquire() as conn:
        await _deadline(conn, case_id, "verify", now - timedelta(minutes=1))  # passed: red wins
    again = (await intake.http.get(f"/v1/cases/{case_id}", headers=reader.headers)).json()
    assert again["deadlines"]["warning"] == "red"


async def test_list_filters_by_level_and_source_and_shows_the_colour(intake: IntakeUnderTest) -> None:
    unit = f"unit:T{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    async with intake.pool.acquire() as conn:
        street_camera = await insert_case(conn, scope_keys=[unit], level="street", source="camera")
        await insert_case(conn, scope_keys=[unit], level="grid", source="camera")
        grid_hotline = await insert_case(conn, scope_keys=[unit], level="grid", source="hotline")
        await _deadline(conn, grid_hotline, "accept", now - timedelta(minutes=1))
    reader = await intake.caller("read")

    async def ids(**params: str) -> list[str]:
        response = await intake.http.get("/v1/cases", params={"unit": unit, **params}, headers=reader.headers)
        assert response.status_code == 200, response.text
        return [i["case_id"] for i in response.json()["items"]]

    assert await ids(level="street") == [str(street_camera)]
    assert await ids(level="grid", source="hotline") == [str(grid_hotline)]
    assert len(await ids(source="camera")) == 2
    listed = (await intake.http.get("/v1/cases", params={"unit": unit}, headers=reader.headers)).json()["items"]
    assert {i["case_id"]: i["deadlines"]["warning"] for i in listed}[str(grid_hotline)] == "red"
    assert {i["deadlines"]["warning"] for i in listed if i["case_id"] != str(grid_hotline)} == {"none"}
    bad = await intake.http.get("/v1/cases", params={"source": "pigeon"}, headers=reader.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "source"


async def test_deliveries_of_a_case_with_personal_targets_masked(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, scope_keys=["unit:610199004"])
        rows = [
            ("cn.griddispatch.case.assigned.v1", "person:w1", "sms", "13812345678", "delivered", 1, None),
            ("cn.griddispatch.case.changed.v1", "subscription:x", "webhook", "https://dept.test/hook", "dead", 8,
             "HTTP 500 from https://dept.test/hook"),
        ]  # fmt: skip
        for event_type, recipient, channel, target, status, attempts, error in rows:
            delivery = await conn.fetchval(
                """INSERT INTO deliveries (event_id, event_type, case_id, recipient, channel, target, payload, status,
                                           attempts, last_error, delivered_at)
                   VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $9,
                           CASE WHEN $7 = 'delivered' THEN now() END) RETURNING id""",
                str(uuid.uuid4()),
                event_type,
                case_id,
                recipient,
                channel,
                target,
                status,
                attempts,
                error,
            )
            await conn.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, outcome) VALUES ($1, $2, 'failed')",
                delivery,
                attempts,
            )
    centre = await intake.caller("read", units=("unit:610199004",))
    response = await intake.http.get(f"/v1/cases/{case_id}/deliveries", headers=centre.headers)
    assert response.status_code == 200, response.text
    items = {i["channel"]: i for i in response.json()["items"]}
    assert items["sms"]["target"] == "138****5678" and items["sms"]["status"] == "delivered"
    assert items["sms"]["delivered_at"] and items["sms"]["last_attempt_at"]
    hook = items["webhook"]
    assert (hook["target"], hook["status"], hook["attempts"]) == ("https://dept.test/hook", "dead", 8)
    assert hook["last_error"] == "HTTP 500 from https://dept.test/hook" and hook["delivered_at"] is None

    trusted = await intake.caller("read", "personal_data", units=("unit:610199004",))
    clear = (await intake.http.get(f"/v1/cases/{case_id}/deliveries", headers=trusted.headers)).json()["items"]
    assert "13812345678" in {i["target"] for i in clear}
    stranger = await intake.caller("read", units=("unit:610199001",))
    hidden = await intake.http.get(f"/v1/cases/{case_id}/deliveries", headers=stranger.headers)
    assert hidden.status_code == 404


async def test_departments_and_their_branches_are_named(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read", units=("unit:610199004",))
    items = (await intake.http.get("/v1/departments", headers=reader.headers)).json()["items"]
    city = next(d for d in items if d["code"] == "city_management")
    assert city["name"] == "丰庆区城市管理和综合执法局"
    xiguan = {"code": "city_management-610199004", "name": "西关综合执法中队", "covers": ["610199004"]}
    assert xiguan in city["branches"]
    assert (await intake.http.get("/v1/departments")).status_code == 401


def test_single_sign_on_is_offered_once_intake_has_a_provider() -> None:
    app = FastAPI()
    assert sign_in_methods(app)["oidc"] is False
    app.state.oidc = object()  # what main.py keeps when GRIDDISPATCH_OIDC_ISSUER is set
    assert sign_in_methods(app) == {
        "password": True,
        "oidc": True,
        "oidc_login_url": "/v1/auth/oidc/login",
        "api_key": True,
    }
