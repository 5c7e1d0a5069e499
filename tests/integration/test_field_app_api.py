"""What the field app (services/field_app/) needs from intake: its pages at /app/ and GET /v1/locate, on the real
database (the sample district imported) and broker."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY

from services.field_app.routes import FIELD_APP_DIR
from tests.e2e.console_stack import POINT
from tests.intake_fixtures import SAMPLE, IntakeUnderTest

pytestmark = pytest.mark.infra

MICRO_GRID = "610199004001001006"  # holds POINT
GRID = "610199004001001"


async def test_the_app_shell_manifest_and_service_worker_are_served_without_a_key(intake: IntakeUnderTest) -> None:
    assert (FIELD_APP_DIR / "index.html").exists()
    page = await intake.http.get("/app/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'rel="manifest"' in page.text
    manifest = await intake.http.get("/app/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/app/" and body["display"] == "standalone" and body["lang"] == "zh-CN"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in body["icons"]}
    worker = await intake.http.get("/app/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert worker.headers["service-worker-allowed"] == "/app/"
    assert worker.headers["cache-control"] == "no-cache"  # a new version of the app is picked up at once


def _lookups(method: str) -> float:
    return REGISTRY.get_sample_value("griddispatch_locate_lookups_total", {"method": method}) or 0.0


async def test_a_point_is_located_to_its_micro_grid_with_the_units_above(intake: IntakeUnderTest) -> None:
    worker = await intake.caller("read", units=(f"unit:{GRID}",), source="grid_app")
    counted = _lookups("point")
    answer = await intake.http.get("/v1/locate", params=POINT, headers=worker.headers)
    assert answer.status_code == 200, answer.text
    assert _lookups("point") == counted + 1
    place = answer.json()
    assert place["located"] is True and place["method"] == "point"
    assert place["unit"]["code"] == MICRO_GRID and place["unit"]["level"] == "micro_grid"
    assert place["grid"]["code"] == GRID and place["grid"]["name"]
    assert [u["level"] for u in place["chain"]] == ["micro_grid", "grid", "community", "street", "district"]
    assert "boundary" not in place["unit"]

    outlined = (
        await intake.http.get("/v1/locate", params={**POINT, "boundary": "true"}, headers=worker.headers)
    ).json()
    assert outlined["unit"]["boundary"]["type"] in ("Polygon", "MultiPolygon")
    assert outlined["grid"]["boundary"]["type"] in ("Polygon", "MultiPolygon")

    by_unit = (
        await intake.http.get("/v1/locate", params={"unit": f"unit:{MICRO_GRID}"}, headers=worker.headers)
    ).json()
    assert by_unit["unit"]["code"] == MICRO_GRID and by_unit["grid"]["code"] == GRID


async def test_a_point_outside_the_district_is_not_located(intake: IntakeUnderTest) -> None:
    worker = await intake.caller("read", units=(f"unit:{GRID}",), source="grid_app")
    answer = await intake.http.get("/v1/locate", params={"lon": 0.5, "lat": 0.5}, headers=worker.headers)
    assert answer.status_code == 200
    assert answer.json() == {"located": False, "method": None, "unit": None, "grid": None, "chain": []}


async def test_bad_look_ups_are_refused_with_a_problem(intake: IntakeUnderTest) -> None:
    worker = await intake.caller("read", units=(f"unit:{GRID}",), source="grid_app")
    cases = [
        ({"lon": "108.9"}, 422, "lat"),
        ({}, 422, "lon"),
        ({"lon": 200, "lat": 34}, 422, "lon"),
        ({"unit": "no-such-unit"}, 404, "unit"),
    ]
    for params, status, field in cases:
        answer = await intake.http.get("/v1/locate", params=params, headers=worker.headers)
        assert answer.status_code == status, (params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["type"].rsplit("/", 1)[-1] and field in json.dumps(problem), (params, problem)
    assert (await intake.http.get("/v1/locate", params=POINT)).status_code == 401


def test_the_sample_point_is_inside_the_sample_micro_grid() -> None:
    codes = {f["properties"]["code"] for f in json.loads((SAMPLE / "units.geojson").read_text())["features"]}
    assert MICRO_GRID in codes and GRID in codes
