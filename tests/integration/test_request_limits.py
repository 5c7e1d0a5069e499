"""Bad input to a served intake on the real broker and database: a specific 4xx, never a 400 or a traceback.

* A body over the limit, chunked or with a Content-Length, is 413 on every operation that takes one (reports,
  actions: problem+json; Open311: its error list), on a real uvicorn server; a chunked body within the limit still goes through.
* A report whose location is empty is 422 naming `location`; a coordinate that is NaN or infinite (as a JSON
  literal or a string) is 422 naming it and saying it must be a finite number.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.intake.main import create_app
from shared.settings import IntakeSettings, ServiceSettings
from tests import intake_fixtures
from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest, events_for

intake = intake_fixtures.intake  # the fixture, used by name

LIMIT = IntakeSettings().max_body_bytes
REPORT = {"title": "路口井盖丢失", "description": "", "location": {"lon": 108.9352, "lat": 34.2721}}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
async def served(intake: IntakeUnderTest) -> AsyncIterator[str]:
    """The intake app on uvicorn, on a port the kernel picks, with the test's broker and database."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(intake.kafka, intake.database, ServiceSettings(), IntakeSettings(public_url=base))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _chunked(body: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), chunk):
        yield body[start : start + chunk]


def _big_report(size: int) -> bytes:
    return json.dumps({**REPORT, "description": "字" * (size // 3)}, ensure_ascii=False).encode()


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:300]
    if response.request.url.path.startswith("/open311/"):  # in Open311's own shape there
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.json() == [{"code": 413, "description": f"request body larger than {LIMIT} bytes"}]
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/payload_too_large") and problem["max_bytes"] == LIMIT
    assert f"larger than {LIMIT} bytes" in problem["detail"]


async def test_an_8_mb_body_is_413_chunked_or_declared_on_every_operation(intake: IntakeUnderTest, served: str) -> None:
    caller = await intake.caller("submit", "read", "act")
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, lead="unit:610199004001", state="assigned")
    big = _big_report(8 * 1024 * 1024)
    paths = ["/v1/reports", f"/v1/cases/{case_id}/actions", "/open311/v2/requests.json"]
    async with httpx.AsyncClient(base_url=served, timeout=60, headers=caller.headers) as http:
        for path in paths:
            chunked = await http.post(path, content=_chunked(big), headers=JSON)
            assert "content-length" not in chunked.request.headers
            _assert_413(chunked)
            declared = await http.post(path, content=big, headers=JSON)
            assert int(declared.request.headers["content-length"]) == len(big)
            _assert_413(declared)
        just_over = await http.post("/v1/reports", content=_chunked(_big_report(LIMIT + 10)), headers=JSON)
        _assert_413(just_over)
        # nothing of a refused report was kept
        assert await intake.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", case_id) == 1


async def test_a_chunked_report_within_the_limit_is_accepted(intake: IntakeUnderTest, served: str) -> None:
    caller = await intake.caller("submit")
    text = "字" * 5000  # the longest description there is
    body = json.dumps({**REPORT, "source_ref": f"chunked-{uuid.uuid4()}", "description": text}, ensure_ascii=False)
    assert 15_000 < len(body.encode()) < LIMIT
    async with httpx.AsyncClient(base_url=served, timeout=30, headers=caller.headers) as http:
        response = await http.post("/v1/reports", content=_chunked(body.encode(), chunk=1000), headers=JSON)
    assert response.status_code == 202, response.text
    [event] = await events_for(intake.kafka, intake.topics.reports, response.json()["case_id"])
    assert event.data.description == text


def _report_with(location: str) -> bytes:
    return f'{{"title": "井盖丢失", "location": {location}}}'.encode()


@pytest.mark.parametrize("location", ["{}", '{"lon": null, "lat": null}', '{"address": null, "grid_code": null}'])
async def test_an_empty_location_is_422_naming_location(intake: IntakeUnderTest, location: str) -> None:
    caller = await intake.caller("submit")
    response = await intake.http.post("/v1/reports", content=_report_with(location), headers={**caller.headers, **JSON})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "location"
    assert problem["detail"] == "location: give coordinates (lon and lat), a grid code or an address"


@pytest.mark.parametrize(
    ("location", "field"),
    [
        ('{"lon": NaN, "lat": 34.27}', "location.lon"),
        ('{"lon": Infinity, "lat": 34.27}', "location.lon"),
        ('{"lon": 108.93, "lat": -Infinity}', "location.lat"),
        ('{"lon": 1e999, "lat": 34.27}', "location.lon"),
        ('{"lon": "NaN", "lat": 34.27}', "location.lon"),
        ('{"lon": 108.93, "lat": "inf"}', "location.lat"),
    ],
)
async def test_a_coordinate_that_is_not_finite_is_422_saying_so(
    intake: IntakeUnderTest, location: str, field: str
) -> None:
    caller = await intake.caller("submit")
    response = await intake.http.post("/v1/reports", content=_report_with(location), headers={**caller.headers, **JSON})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field
    assert problem["detail"] == f"{field}: Input should be a finite number"


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
async def test_open311_coordinates_that_are_not_finite_are_400_naming_them(intake: IntakeUnderTest, value: str) -> None:
    caller = await intake.caller("submit")
    form = {"api_key": caller.key, "service_code": "sanitation", "lat": "34.27", "long": value, "description": "x"}
    response = await intake.http.post("/open311/v2/requests.json", data=form)
    assert response.status_code == 400, response.text
    [error] = response.json()
    assert error["description"].startswith("long:") and "finite number" in error["description"]
