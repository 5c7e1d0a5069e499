"""Bodies that are not storable text, on the real intake and notify with the real broker and database: 400 naming
the field (problem+json, or Open311's error list on its paths), never a 500, never mojibake kept.

* JSON nested about 1,000 deep (once a 500 on Open311) and 500 deep (once accepted) is 400 on /v1/reports, on
  Open311 and on notify's subscriptions.
* A NUL in a subscription's name, matter_types or target (once a 500) is 400 naming it; nothing is stored.
* Raw bytes that are not UTF-8 in an Open311 form body (once kept as Latin-1 mojibake), raw or %-encoded,
  form-encoded or multipart, are 400 naming the field; raw UTF-8 is taken as the very text.
* Notify refuses a body over its limit with 413 and a NUL in a stream's unit with 400 naming `path`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.notify.main import create_app as notify_app
from shared.api_clients import create_client
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests import intake_fixtures
from tests.intake_fixtures import Caller, IntakeUnderTest, events_for

intake = intake_fixtures.intake  # the fixture, used by name

V2 = "/open311/v2"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REPORT = {"title": "路口井盖丢失", "location": {"lon": 108.9352, "lat": 34.2721}}
SUBSCRIPTION = {"name": "市场监管局工单系统", "channel": "webhook", "target": "https://market.example.gov.cn/hooks"}


def _deep(depth: int, leaf: dict[str, Any]) -> bytes:
    """A JSON object whose `description` is nested `depth` arrays deep, the rest of `leaf` beside it."""
    head = json.dumps(leaf, ensure_ascii=False)[:-1]
    return f'{head}, "description": {"[" * depth}{"]" * depth}}}'.encode()


def _problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json", response.text[:300]
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["field"] == field, problem
    return problem


def _open311_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json; charset=utf-8", response.text[:300]
    [error] = response.json()
    assert error["code"] == status, error
    description: str = error["description"]
    return description


@pytest.fixture(scope="module")
async def caller(intake: IntakeUnderTest) -> Caller:
    return await intake.caller("submit", "read")


@pytest.mark.parametrize("depth", [1000, 500, 33])
async def test_deep_json_is_400_on_reports_and_open311(intake: IntakeUnderTest, caller: Caller, depth: int) -> None:
    report = await intake.http.post("/v1/reports", content=_deep(depth, REPORT), headers={**caller.headers, **JSON})
    problem = _problem(report, 400, "body")
    assert problem["type"].endswith("/unreadable_body") and "nested deeper than 32 levels" in problem["detail"]
    fields = {"api_key": caller.key, "service_code": "sanitation", "address_string": "北院门"}
    posted = await intake.http.post(f"{V2}/requests.json", content=_deep(depth, fields), headers=JSON)
    assert _open311_error(posted, 400) == "body: nested deeper than 32 levels"
    as_xml = await intake.http.post(f"{V2}/requests.xml", content=_deep(depth, fields), headers=JSON)
    assert as_xml.status_code == 400 and as_xml.headers["content-type"].startswith("text/xml")
    assert b"<errors><error><code>400</code><description>body: nested deeper" in as_xml.content


async def test_json_as_deep_as_a_body_needs_is_still_taken(intake: IntakeUnderTest, caller: Caller) -> None:
    location = {"lon": 108.9352, "lat": 34.2721, "address": "北院门"}
    report = {
        **REPORT,
        "source_ref": f"shallow-{uuid.uuid4()}",
        "location": location,
        "attachments": ["https://a.example/p.jpg"],
    }
    response = await intake.http.post("/v1/reports", json=report, headers=caller.headers)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"service_code=sanitation&address_string=%E5%8C%97&description=caf\xe9", "description"),
        (b"service_code=sanitation&address_string=%E5%8C%97&description=caf%E9", "description"),
        (b"service_code=sanitation&address_string=\xb1\xb1\xd4\xba", "address_string"),  # GBK, not UTF-8
        (b"service_code=sanitation&address_string=a%00b", "address_string"),
    ],
)
async def test_an_open311_form_field_that_is_not_utf8_is_400_naming_it(
    intake: IntakeUnderTest, caller: Caller, body: bytes, field: str
) -> None:
    before = await intake.pool.fetchval("SELECT count(*) FROM submissions WHERE client_id = $1", caller.client.id)
    response = await intake.http.post(
        f"{V2}/requests.json", content=body + f"&api_key={caller.key}".encode(), headers=FORM
    )
    description = _open311_error(response, 400)
    assert description.startswith(f"{field}: ") and ("UTF-8" in description or "NUL" in description), description
    after = await intake.pool.fetchval("SELECT count(*) FROM submissions WHERE client_id = $1", caller.client.id)
    assert after == before


async def test_an_open311_multipart_field_that_is_not_utf8_is_400_naming_it(
    intake: IntakeUnderTest, caller: Caller
) -> None:
    parts = [("api_key", caller.key.encode()), ("service_code", b"sanitation"), ("address_string", b"caf\xe9")]
    body = b"".join(
        f'--b0und\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in parts
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b0und"}
    response = await intake.http.post(f"{V2}/requests.json", content=body + b"--b0und--\r\n", headers=headers)
    assert _open311_error(response, 400) == "address_string: not valid UTF-8"


async def test_raw_utf8_in_an_open311_form_is_kept_as_the_very_text(intake: IntakeUnderTest, caller: Caller) -> None:
    text = "小区门口的垃圾堆了三天没人清运 🚮"
    body = f"api_key={caller.key}&service_code=sanitation&address_string=北院门&description={text}".encode()
    response = await intake.http.post(f"{V2}/requests.json", content=body, headers=FORM)
    assert response.status_code == 201, response.text
    number = response.json()[0]["service_request_id"]
    case_id = await intake.pool.fetchval(
        "SELECT case_id FROM submissions WHERE client_id = $1 AND case_number = $2", caller.client.id, number
    )
    [event] = await events_for(intake.kafka, intake.topics.reports, str(case_id))
    assert event.data.description == text


# --- notify ----------------------------------------------------------------------------------------------------

NOTIFY_LIMIT = 8 * 1024


@pytest.fixture(scope="module")
async def notify(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], Any]]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-u{uuid.uuid4().hex[:6]}"})
    await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    app = notify_app(kafka, database_settings, ServiceSettings(), NotifySettings(max_body_bytes=NOTIFY_LIMIT))
    async with app.router.lifespan_context(app):
        pool = app.state.pool
        async with pool.acquire() as conn:
            _, key = await create_client(conn, name=f"unreadable {uuid.uuid4().hex[:6]}", scopes=["read"], units=["*"])
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is the 500 a server sends
        async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as http:
            yield http, {"Authorization": f"Bearer {key}"}, pool


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "市场监管局\x00"}, "name"),
        ({"matter_types": ["sanitation", "a\x00b"]}, "matter_types.1"),
        ({"target": "https://market.example.gov.cn/\x00"}, "target"),
        ({"units": ["\ud800"]}, "units.0"),
    ],
)
async def test_a_nul_in_a_subscription_is_400_naming_the_field_and_nothing_is_kept(
    notify: tuple[httpx.AsyncClient, dict[str, str], Any], change: dict[str, Any], field: str
) -> None:
    http, headers, pool = notify
    name = f"nul {uuid.uuid4().hex[:8]}"
    body = json.dumps({**SUBSCRIPTION, "name": name, **change})  # ensure_ascii: the lone surrogate as \ud800
    response = await http.post("/v1/subscriptions", content=body, headers={**headers, **JSON})
    problem = _problem(response, 400, field)
    assert problem["type"].endswith("/unreadable_body"), problem
    assert await pool.fetchval("SELECT count(*) FROM subscriptions WHERE name LIKE $1", "nul %") == 0


async def test_deep_or_undecodable_subscription_bodies_are_400_and_large_ones_413(
    notify: tuple[httpx.AsyncClient, dict[str, str], Any],
) -> None:
    http, headers, _ = notify
    deep = await http.post("/v1/subscriptions", content=_deep(1000, SUBSCRIPTION), headers={**headers, **JSON})
    assert "nested deeper" in _problem(deep, 400, "body")["detail"]
    latin1 = json.dumps(SUBSCRIPTION, ensure_ascii=False).replace("市场监管局工单系统", "caf\xe9").encode("latin-1")
    assert _problem(await http.post("/v1/subscriptions", content=latin1, headers={**headers, **JSON}), 400, "name")
    big = json.dumps({**SUBSCRIPTION, "matter_types": ["x" * 100] * 200}).encode()
    assert len(big) > NOTIFY_LIMIT
    too_large = await http.post("/v1/subscriptions", content=big, headers={**headers, **JSON})
    assert too_large.status_code == 413 and too_large.json()["max_bytes"] == NOTIFY_LIMIT, too_large.text
    made = await http.post("/v1/subscriptions", json=SUBSCRIPTION, headers=headers)
    assert made.status_code == 201, made.text
    patched = await http.patch(
        f"/v1/subscriptions/{made.json()['id']}", content=b'{"matter_types": ["a\\u0000"]}', headers={**headers, **JSON}
    )
    _problem(patched, 400, "matter_types.0")


async def test_a_nul_in_a_stream_unit_is_400_naming_it(notify: tuple[httpx.AsyncClient, dict[str, str], Any]) -> None:
    http, headers, _ = notify
    response = await http.get("/v1/streams/unit:6101%00", headers=headers)
    assert _problem(response, 400, "path")["type"].endswith("/unreadable_parameter")
    listed = await http.get("/v1/deliveries?status=dead%00", headers=headers)
    _problem(listed, 400, "status")
