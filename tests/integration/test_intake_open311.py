"""The Open311 GeoReport v2 face on the real broker and database: services, post, get, errors, XML, a real client."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.intake.main import create_app
from shared.settings import IntakeSettings, ServiceSettings
from tests import intake_fixtures
from tests.intake_fixtures import Caller, IntakeUnderTest, events_for

intake = intake_fixtures.intake  # the fixture, used by name

V2 = "/open311/v2"
JURISDICTION = IntakeSettings().open311_jurisdiction_id
BUILDING = "610199001001001001-01"  # in the sample registry: 桥梓口西路1号院1号楼

FORM: dict[str, str] = {
    "service_code": "sanitation",
    "lat": "34.2721",
    "long": "108.9352",
    "address_string": "北院门街道香米园社区3号楼",
    "description": "小区门口的垃圾堆了三天没人清运，气味很大",
    "first_name": "先生",
    "last_name": "王",
    "phone": "13812345678",
    "email": "wang@example.org",
    "device_id": "device-42",
    "media_url": "https://photos.example.org/rubbish.jpg",
}


def _form(caller: Caller, **changes: str | None) -> dict[str, str]:
    """The fields an Open311 client posts, with its api_key; a None change leaves the field out."""
    fields = {**FORM, "api_key": caller.key, "jurisdiction_id": JURISDICTION, **changes}
    return {k: v for k, v in fields.items() if v is not None}


async def _post(intake: IntakeUnderTest, data: dict[str, str], fmt: str = "json", **kw: Any) -> httpx.Response:
    return await intake.http.post(f"{V2}/requests.{fmt}", data=data, **kw)


def _error_of(response: httpx.Response, status: int) -> str:
    """The one Open311 error in a JSON answer, checked for shape; its description."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == status, body
    description: str = body[0]["description"]
    return description


async def _case_id(intake: IntakeUnderTest, number: str) -> uuid.UUID:
    case_id: uuid.UUID = await intake.pool.fetchval("SELECT case_id FROM submissions WHERE case_number = $1", number)
    return case_id


# -- services ----------------------------------------------------------------------------------------------


async def test_services_are_the_active_matter_catalog(intake: IntakeUnderTest) -> None:
    codes = {r["code"] for r in await intake.pool.fetch("SELECT code FROM matter_types WHERE version_id = "
                                                        "(SELECT version_id FROM registry_active)")}  # fmt: skip
    response = await intake.http.get(f"{V2}/services.json", params={"jurisdiction_id": JURISDICTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    services = response.json()
    assert {s["service_code"] for s in services} == codes and len(codes) >= 20
    sanitation = next(s for s in services if s["service_code"] == "sanitation")
    assert sanitation == {
        "service_code": "sanitation",
        "service_name": "环境卫生",
        "description": "Sanitation and litter",
        "metadata": False,
        "type": "realtime",
        "keywords": sanitation["keywords"],
        "group": "micro_grid",
    }
    assert "垃圾" in sanitation["keywords"].split(",")


async def test_a_service_definition_and_an_unknown_service(intake: IntakeUnderTest) -> None:
    response = await intake.http.get(f"{V2}/services/sanitation.json")
    assert response.status_code == 200 and response.json() == {"service_code": "sanitation", "attributes": []}
    assert "service_code" in _error_of(await intake.http.get(f"{V2}/services/no_such_matter.json"), 404)


async def test_another_jurisdiction_is_not_found(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    for response in (
        await intake.http.get(f"{V2}/services.json", params={"jurisdiction_id": "city.example.gov"}),
        await intake.http.get(f"{V2}/services/sanitation.json", params={"jurisdiction_id": "city.example.gov"}),
        await _post(intake, _form(caller, jurisdiction_id="city.example.gov")),
    ):
        assert "jurisdiction_id" in _error_of(response, 404)


async def test_discovery_points_at_this_endpoint(intake: IntakeUnderTest) -> None:
    body = (await intake.http.get(f"{V2}/discovery.json")).json()
    endpoint = body["endpoints"][0]
    assert endpoint["url"] == "http://intake.test/open311/v2" and endpoint["specification"].endswith("GeoReport_v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}


# -- posting a request --------------------------------------------------------------------------------------


async def test_a_form_encoded_request_becomes_one_report_and_reads_back_open(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", "read", units=(), source=None, name="open311 app")
    response = await _post(intake, _form(app))
    assert response.status_code == 201, response.text
    [posted] = response.json()
    number = posted["service_request_id"]
    assert number.startswith("GD-") and posted["account_id"] is None
    assert number in posted["service_notice"] and "24 h" in posted["service_notice"]
    assert response.headers["Location"] == f"http://intake.test{V2}/requests/{number}.json"

    case_id = await _case_id(intake, number)
    [event] = await events_for(intake.kafka, intake.topics.reports, str(case_id))
    report = event.data
    assert report.source == "open311" and report.matter_code == "sanitation" and report.case_number == number
    assert report.title == "环境卫生：小区门口的垃圾堆了三天没人清运，气味很大"
    assert report.description == FORM["description"]
    assert (report.location.lat, report.location.lon) == (34.2721, 108.9352)
    assert report.location.address == FORM["address_string"]
    assert report.reporter is not None and (report.reporter.name, report.reporter.phone) == ("王先生", "138****5678")
    kept = await intake.pool.fetchval("SELECT reporter FROM submissions WHERE case_id = $1", case_id)
    assert json.loads(kept) == {"name": "王先生", "phone": "13812345678"}  # the topic masks it, the database keeps it
    assert report.attachments == (FORM["media_url"],)
    assert report.submitted_by == str(app.client.id)

    one = await intake.http.get(f"{V2}/requests/{number}.json", params={"api_key": app.key})
    assert one.status_code == 200, one.text
    [request] = one.json()
    assert request["service_request_id"] == number
    assert (request["status"], request["status_notes"]) == ("open", "received, being dispatched")
    assert request["requested_datetime"].endswith("+08:00")
    listed = (await intake.http.get(f"{V2}/requests.json", params={"api_key": app.key})).json()
    assert [(r["service_request_id"], r["status"], r["status_notes"]) for r in listed] == [
        (number, "open", "received, being dispatched")
    ]
    for text in (one.text, str(listed)):  # personal data never appears in Open311 reads
        assert "13812345678" not in text and "王先生" not in text and "wang@" not in text


async def test_json_body_and_the_authorization_header_work_too(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit", "read")
    body = {**FORM, "lat": 34.2721, "long": 108.9352}
    response = await intake.http.post(f"{V2}/requests.json", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    by_case_id = await intake.http.get(
        f"{V2}/requests/{await _case_id(intake, response.json()[0]['service_request_id'])}.json",
        headers={"X-API-Key": caller.key},
    )
    assert by_case_id.status_code == 200 and by_case_id.json()[0]["status"] == "open"


async def test_a_retry_with_the_same_idempotency_key_is_the_same_request(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    key = {"Idempotency-Key": f"o311-{uuid.uuid4()}"}
    first = await _post(intake, _form(caller), headers=key)
    again = await _post(intake, _form(caller), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    number = first.json()[0]["service_request_id"]
    assert again.json()[0]["service_request_id"] == number
    assert len(await events_for(intake.kafka, intake.topics.reports, str(await _case_id(intake, number)))) == 1
    changed = await _post(intake, _form(caller, description="另一件事"), headers=key)
    assert "Idempotency-Key" in _error_of(changed, 409)


async def test_a_building_code_as_address_id_places_the_report(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    response = await _post(intake, _form(caller, lat=None, long=None, address_string=None, address_id=BUILDING))
    assert response.status_code == 201, response.text
    case_id = await _case_id(intake, response.json()[0]["service_request_id"])
    [event] = await events_for(intake.kafka, intake.topics.reports, str(case_id))
    location = event.data.location
    assert location.grid_code == "610199001001001001" and location.address == "桥梓口西路1号院1号楼"
    assert (location.lon, location.lat) == (108.916322, 34.278534)
    unknown = await _post(intake, _form(caller, lat=None, long=None, address_string=None, address_id="nowhere"))
    assert _error_of(unknown, 400).startswith("address_id")


async def test_api_key_missing_bad_or_without_the_scope_is_403(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read")
    for data in (_form(reader, api_key=None), _form(reader, api_key="gdk_not-a-key"), _form(reader)):
        description = _error_of(await _post(intake, data), 403)
        assert "api_key" in description or "submit" in description
    assert _error_of(await intake.http.get(f"{V2}/requests.json"), 403).startswith("api_key")


async def test_bad_fields_are_400_or_404_naming_the_field(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    assert _error_of(await _post(intake, _form(caller, service_code=None)), 400).startswith("service_code")
    assert _error_of(await _post(intake, _form(caller, service_code="no_such_matter")), 404).startswith("service_code")
    nowhere = _form(caller, lat=None, long=None, address_string=None)
    assert "address_string" in _error_of(await _post(intake, nowhere), 400)
    cases = [
        ({"long": None}, "long"),
        ({"lat": "north"}, "lat"),
        ({"lat": "91"}, "lat"),
        ({"long": "-181"}, "long"),
        ({"media_url": "http://photos.example.org/a.jpg"}, "media_url"),
        ({"phone": "call me maybe"}, "phone"),
        ({"first_name": "名" * 51}, "first_name"),
        ({"description": "长" * 4001}, "description"),
        ({"service_code": "sanitation\x00"}, "service_code"),
    ]
    for change, field in cases:
        description = _error_of(await _post(intake, _form(caller, **change)), 400)
        assert description.startswith(field), (change, description)
    assert _error_of(await _post(intake, _form(caller), fmt="yaml"), 400).startswith("fmt")


async def test_a_broker_that_cannot_take_the_report_is_503_and_nothing_is_kept(intake: IntakeUnderTest) -> None:
    """A private app whose producer is closed under it: publishing fails exactly as with a broker that is down."""
    caller = await intake.caller("submit")
    app = create_app(intake.kafka, intake.database, ServiceSettings(), IntakeSettings(public_url="http://own.test"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://own.test") as http:
            assert (await http.post(f"{V2}/requests.json", data=_form(caller))).status_code == 201
            await app.state.resources.producer.stop()
            ticket = {"Idempotency-Key": f"down-{uuid.uuid4()}"}
            response = await http.post(f"{V2}/requests.json", data=_form(caller), headers=ticket)
    assert "retry" in _error_of(response, 503) and int(response.headers["Retry-After"]) >= 1
    kept = await intake.pool.fetchval(
        "SELECT count(*) FROM submissions WHERE client_id = $1 AND idempotency_key = $2",
        caller.client.id,
        ticket["Idempotency-Key"],
    )
    assert kept == 0


async def test_a_media_file_that_is_no_photo_is_refused(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")  # photos that are photos: tests/integration/test_attachments.py
    response = await _post(intake, _form(caller), files={"media": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert _error_of(response, 400).startswith("media: the file looks like image/jpeg but cannot be decoded")
    two = {"media": ("a.jpg", b"\xff\xd8\xff", "image/jpeg"), "other": ("b.jpg", b"\xff\xd8\xff", "image/jpeg")}
    assert _error_of(await _post(intake, _form(caller), files=two), 400).startswith("media: one file")


# -- reading requests ------------------------------------------------------------------------------------


async def test_reads_are_scoped_like_v1(intake: IntakeUnderTest) -> None:
    one = await intake.caller("submit", "read", units=(), name="app one")
    other = await intake.caller("submit", "read", units=(), name="app two")
    mine = (await _post(intake, _form(one))).json()[0]["service_request_id"]
    theirs = (await _post(intake, _form(other))).json()[0]["service_request_id"]
    seen = await intake.http.get(f"{V2}/requests/{theirs}.json", params={"api_key": one.key})
    assert theirs in _error_of(seen, 404)
    listed = await intake.http.get(
        f"{V2}/requests.json", params={"api_key": one.key, "service_request_id": f"{mine},{theirs}"}
    )
    assert [r["service_request_id"] for r in listed.json()] == [mine]


async def _as_dispatched(intake: IntakeUnderTest, number: str, **columns: Any) -> uuid.UUID:
    """Record the case as dispatch does (dispatch owns `cases`; this test stands in for it)."""
    case_id = await _case_id(intake, number)
    row = {
        "state": "in_progress",
        "lead": "branch:city_management-610199004",
        "resolve_by": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        **columns,
    }
    await intake.pool.execute(
        """INSERT INTO cases (case_id, case_number, state, source, matter_code, level, lead, title, description,
                              location, urgency, reporter, attachments, received_at, resolve_by, merged_into,
                              scope_keys, updated_at)
           SELECT case_id, case_number, $2::text, source, 'sanitation', 'micro_grid', $3::text, '环境卫生：垃圾',
                  $4::text, $5::jsonb, 'normal', '{"name": "王先生", "phone": "13812345678"}', $6::text[],
                  received_at, $7::timestamptz, $8::uuid, scope_keys, now()
           FROM submissions WHERE case_id = $1""",
        case_id,
        row["state"],
        row["lead"],
        FORM["description"],
        '{"lon": 108.9352, "lat": 34.2721, "address": "北院门街道香米园社区3号楼"}',
        [FORM["media_url"]],
        row["resolve_by"],
        row.get("merged_into"),
    )
    return case_id


async def test_a_dispatched_case_reads_as_an_open311_request(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", "read", units=())
    number = (await _post(intake, _form(app))).json()[0]["service_request_id"]
    await _as_dispatched(intake, number)
    [request] = (await intake.http.get(f"{V2}/requests/{number}.json", params={"api_key": app.key})).json()
    assert request["status"] == "open" and request["status_notes"] == "in_progress: being handled"
    assert request["agency_responsible"] == "西关综合执法中队"  # the lead branch's name in the active registry
    assert datetime.fromisoformat(request["expected_datetime"]) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert request["expected_datetime"].endswith("+08:00")
    assert (request["service_code"], request["service_name"]) == ("sanitation", "环境卫生")
    assert (request["lat"], request["long"]) == (34.2721, 108.9352)
    assert request["address"] == FORM["address_string"] and request["media_url"] == FORM["media_url"]
    assert request["description"] == FORM["description"] and "24 h" in request["service_notice"]
    assert "13812345678" not in str(request) and "王先生" not in str(request)

    async def listed(**params: str) -> list[str]:
        answer = await intake.http.get(f"{V2}/requests.json", params={"api_key": app.key, **params})
        assert answer.status_code == 200, answer.text
        return [r["service_request_id"] for r in answer.json()]

    assert number in await listed(status="open")
    assert number in await listed(service_code="waste_sorting,sanitation")
    assert number not in await listed(status="closed")
    assert number not in await listed(service_code="waste_sorting")
    assert number not in await listed(start_date=(datetime.now(UTC) + timedelta(hours=1)).isoformat())


async def test_cancelled_and_merged_cases_are_closed_with_the_reason(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", "read", units=())
    kept, dropped, duplicate = [(await _post(intake, _form(app))).json()[0]["service_request_id"] for _ in range(3)]
    kept_id = await _as_dispatched(intake, kept)
    dropped_id = await _as_dispatched(intake, dropped, state="cancelled")
    duplicate_id = await _as_dispatched(intake, duplicate, state="merged", merged_into=kept_id)
    for case_id, to_state, detail in (
        (dropped_id, "cancelled", '{"text": "居民撤回"}'),
        (duplicate_id, "merged", "{}"),
    ):
        await intake.pool.execute(
            """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail)
               VALUES ($1, 1, $2, $3, 'assigned', $4, '{"id": "centre-1", "role": "supervisor"}', $5)""",
            case_id,
            str(uuid.uuid4()),
            "cancel" if to_state == "cancelled" else "merge",
            to_state,
            detail,
        )
    answer = await intake.http.get(
        f"{V2}/requests.json", params={"api_key": app.key, "service_request_id": f"{dropped},{duplicate},{kept}"}
    )
    by_number = {r["service_request_id"]: r for r in answer.json()}
    assert [r["service_request_id"] for r in answer.json()] == [dropped, duplicate, kept]  # in the order asked
    assert (by_number[dropped]["status"], by_number[dropped]["status_notes"]) == ("closed", "cancelled: 居民撤回")
    assert by_number[duplicate]["status"] == "closed"
    assert by_number[duplicate]["status_notes"] == f"merged: a duplicate of case {kept}, which carries on"
    assert by_number[kept]["status"] == "open"
    closed = await intake.http.get(f"{V2}/requests.json", params={"api_key": app.key, "status": "closed"})
    assert {r["service_request_id"] for r in closed.json()} == {dropped, duplicate}


async def test_bad_search_parameters_are_400(intake: IntakeUnderTest) -> None:
    reader = await intake.caller("read")
    cases = [
        ({"start_date": "2026-11-01T00:00:00"}, "start_date"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "end_date"),
        ({"status": "pending"}, "status"),
        ({"service_request_id": ",".join(f"GD-{i}" for i in range(101))}, "service_request_id"),
    ]
    for params, field in cases:
        response = await intake.http.get(f"{V2}/requests.json", params={"api_key": reader.key, **params})
        assert _error_of(response, 400).startswith(field), (params, response.text)


# -- XML -------------------------------------------------------------------------------------------------


def _xml(response: httpx.Response, status: int = 200) -> ET.Element:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


async def test_xml_variants_parse(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit", "read", units=())
    services = _xml(await intake.http.get(f"{V2}/services.xml"))
    assert services.tag == "services" and "sanitation" in [s.findtext("service_code") for s in services]
    assert services.find("service/metadata") is not None and services.findtext("service/metadata") == "false"
    definition = _xml(await intake.http.get(f"{V2}/services/sanitation.xml"))
    assert definition.tag == "service_definition" and definition.findtext("service_code") == "sanitation"

    posted = _xml(await _post(intake, _form(caller), fmt="xml"), 201)
    number = posted.findtext("request/service_request_id")
    assert posted.tag == "service_requests" and number and number.startswith("GD-")
    one = _xml(await intake.http.get(f"{V2}/requests/{number}.xml", params={"api_key": caller.key}))
    assert one.findtext("request/status") == "open"
    assert one.findtext("request/status_notes") == "received, being dispatched"
    listed = _xml(await intake.http.get(f"{V2}/requests.xml", params={"api_key": caller.key}))
    assert [r.findtext("service_request_id") for r in listed] == [number]

    error = _xml(await intake.http.get(f"{V2}/services/no_such_matter.xml"), 404)
    assert error.tag == "errors" and error.findtext("error/code") == "404"
    assert "service_code" in (error.findtext("error/description") or "")


# -- a standard client, unchanged, against a real server ----------------------------------------------------


@pytest.fixture
async def served(intake: IntakeUnderTest) -> AsyncIterator[str]:
    """The intake app served by uvicorn on a free loopback port, on the test's broker and database."""
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


async def test_a_standard_open311_client_round_trip(
    intake: IntakeUnderTest, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """georeport (a GeoReport v2 client library) reads; it cannot post, so the post is the form POST clients send.

    georeport sends no api_key on reads; requests (under it) takes credentials for a host from a netrc file,
    and this server takes an API key sent as the HTTP Basic user name: configuration, not a changed client.
    """
    GeoReport = pytest.importorskip("georeport", reason="georeport, a dev extra, is not installed").GeoReport
    app = await intake.caller("submit", "read", units=(), source=None, name="citizen app")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {app.key} password -\n")
    monkeypatch.setenv("NETRC", str(netrc))
    client = GeoReport(f"{served}{V2}", jurisdiction=JURISDICTION)

    services = await asyncio.to_thread(client.get_service_list)
    assert "sanitation" in {s["service_code"] for s in services}
    assert await asyncio.to_thread(client.get_service_definition, "sanitation") == {
        "service_code": "sanitation",
        "attributes": [],
    }

    async with httpx.AsyncClient(base_url=served, trust_env=False) as http:
        posted = await http.post(f"{V2}/requests.json", data=_form(app))
    assert posted.status_code == 201, posted.text
    number = posted.json()[0]["service_request_id"]

    request = await asyncio.to_thread(client.get_service_request, number)
    assert (request["service_request_id"], request["status"]) == (number, "open")
    assert request["status_notes"] == "received, being dispatched"
    listed = await asyncio.to_thread(client.get_service_requests, service_request_id=number)
    assert [r["service_request_id"] for r in listed] == [number]

    as_xml = GeoReport(f"{served}{V2}", jurisdiction=JURISDICTION, output_format="xml")
    assert "sanitation" in {s["service_code"] for s in await asyncio.to_thread(as_xml.get_service_list)}
    assert (await asyncio.to_thread(as_xml.get_service_request, number))["status"] == "open"
