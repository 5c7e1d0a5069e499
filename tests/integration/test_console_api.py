"""What the command-centre console needs from intake (and notify), on the real database and broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.intake.routers.console import CONSOLE_DIR
from services.notify.main import create_app as create_notify_app
from services.notify.streams import StreamHub
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings
from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra

DISTRICT = "610199"
STREET = "610199004"


async def test_config_names_notify_the_district_and_its_clock(intake: IntakeUnderTest) -> None:
    response = await intake.http.get("/console/config.json")
    assert response.status_code == 200
    assert response.json() == {"notify_url": "http://127.0.0.1:8003", "district": DISTRICT, "timezone": "Asia/Shanghai"}


async def test_the_console_page_is_served_without_a_key(intake: IntakeUnderTest) -> None:
    if not (CONSOLE_DIR / "index.html").exists():
        pytest.skip("the console's files are not in services/intake/console/ yet")
    page = await intake.http.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (await intake.http.get("/console/no-such-file.js")).status_code == 404


async def test_me_says_who_the_key_is_and_names_its_area(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", "supervise", units=(f"unit:{STREET}",), name="西关街道指挥中心")
    body = (await intake.http.get("/v1/me", headers=centre.headers)).json()
    assert body["name"] == "西关街道指挥中心"
    assert body["scopes"] == ["read", "supervise"] and body["units"] == [f"unit:{STREET}"]
    assert body["sees_all"] is False
    assert body["area"] == [
        {"unit": f"unit:{STREET}", "kind": "unit", "code": STREET, "name": "西关街道", "level": "street"}
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


async def test_map_counts_open_and_overdue_cases_per_grid_of_the_callers_area(intake: IntakeUnderTest) -> None:
    seen = [f"unit:{COMMUNITY}", f"unit:{MAP_STREET}", "unit:610199"]
    past = datetime.now(UTC) - timedelta(hours=1)
    async with intake.pool.acquire() as conn:
        await insert_case(conn, lead=f"unit:{GRID}001", place=f"{GRID}001", scope_keys=seen)  # its micro-grid
        await insert_case(conn, lead=f"unit:{GRID}", state="accepted", resolve_by=past, scope_keys=seen)  # overdue
        await insert_case(conn, lead=f"unit:{GRID}", state="closed", scope_keys=seen)  # done: not counted
        await insert_case(conn, lead=f"unit:{GRID}", scope_keys=["department:police"])  # not the street's to see
        await insert_case(conn, lead="unit:610199001001001", scope_keys=["unit:610199001"])  # another street
    centre = await intake.caller("read", "supervise", units=(f"unit:{MAP_STREET}",))
    response = await intake.http.get("/v1/map", headers=centre.headers)
    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    grids = {f["properties"]["code"]: f for f in collection["features"]}
    assert len(grids) == 12 and all(code.startswith(MAP_STREET) for code in grids)  # the street's 12 grids only
    ours = grids[GRID]
    assert ours["geometry"]["type"] == "Polygon"
    assert ours["properties"] == {
        "code": GRID,
        "name": "友谊社区第3网格",
        "level": "grid",
        "parent": COMMUNITY,
        "open": 2,
        "overdue": 1,
    }
    assert grids[f"{COMMUNITY}001"]["properties"]["open"] == 0

    community = (await intake.http.get("/v1/map", params={"unit": COMMUNITY}, headers=centre.headers)).json()
    assert sorted(f["properties"]["code"] for f in community["features"]) == [f"{COMMUNITY}00{i}" for i in (1, 2, 3)]
    micro = await intake.http.get(
        "/v1/map", params={"unit": f"unit:{GRID}", "level": "micro_grid"}, headers=centre.headers
    )
    counts = {f["properties"]["code"]: f["properties"]["open"] for f in micro.json()["features"]}
    assert counts[f"{GRID}001"] == 1 and sum(counts.values()) == 1  # the grid's own case sits on no micro-grid

    everyone = await intake.caller("read", units=("*",))
    district = (await intake.http.get("/v1/map", headers=everyone.headers)).json()
    assert len(district["features"]) == 48
    assert {f["id"]: f["properties"]["open"] for f in district["features"]}[GRID] == 3  # sees the police's too


async def test_map_refuses_units_outside_the_area(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", units=(f"unit:{MAP_STREET}",))
    for unit in ("610199001", "unit:610199", "nowhere"):
        refused = await intake.http.get("/v1/map", params={"unit": unit}, headers=centre.headers)
        assert refused.status_code == 404 and refused.json()["field"] == "unit", unit
    bad = await intake.http.get("/v1/map", params={"level": "planet"}, headers=centre.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "level"
    writer = await intake.caller("submit", units=(f"unit:{MAP_STREET}",))
    assert (await intake.http.get("/v1/map", headers=writer.headers)).status_code == 403
