"""Open311 as its clients expect, on the real broker and database: every error in GeoReport v2's own list (JSON, or
XML for .xml) with the statuses clients handle, in the order a server checks them (404 for no such endpoint and
405 for a method the endpoint does not take come before 415 for the body's type), and api_key taken wherever
common clients put it (a form field, a JSON field or a query parameter of a POST; a query parameter of a read).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import httpx
import pytest

from shared.settings import IntakeSettings
from tests import intake_fixtures
from tests.intake_fixtures import Caller, IntakeUnderTest

intake = intake_fixtures.intake  # the fixture, used by name

V2 = "/open311/v2"
JURISDICTION = IntakeSettings().open311_jurisdiction_id
FIELDS = {"service_code": "sanitation", "address_string": "北院门街道香米园社区3号楼", "description": "垃圾堆了三天"}


@pytest.fixture(scope="module")
async def caller(intake: IntakeUnderTest) -> Caller:
    return await intake.caller("submit", "read", units=())


def _errors(response: httpx.Response, status: int) -> str:
    """The one error of an Open311 answer, JSON or XML by the path's format, checked for shape; its description."""
    assert response.status_code == status, response.text[:300]
    if response.request.url.path.endswith(".xml"):
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        root = ET.fromstring(response.content)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"], response.text
        assert root.findtext("error/code") == str(status)
        return root.findtext("error/description") or ""
    assert response.headers["content-type"] == "application/json; charset=utf-8", response.text[:300]
    [error] = response.json()
    assert set(error) == {"code", "description"} and error["code"] == status, error
    description: str = error["description"]
    return description


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_no_such_endpoint_is_404_in_open311s_shape(intake: IntakeUnderTest, fmt: str) -> None:
    for method, path in [("GET", f"{V2}/nothing.{fmt}"), ("POST", f"{V2}/requests/x/y.{fmt}")]:
        response = await intake.http.request(method, path, content=b"a=b", headers={"Content-Type": "text/plain"})
        assert "no such endpoint" in _errors(response, 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_method_the_endpoint_does_not_take_is_405_before_the_body_type(
    intake: IntakeUnderTest, fmt: str
) -> None:
    deleted = await intake.http.delete(f"{V2}/requests.{fmt}")
    assert "not allowed" in _errors(deleted, 405) and "POST" in deleted.headers["Allow"]
    posted = await intake.http.post(f"{V2}/services.{fmt}", content=b"x", headers={"Content-Type": "text/plain"})
    assert "GET" in _errors(posted, 405) and posted.headers["Allow"] == "GET"


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_body_of_another_type_is_415_in_open311s_shape(
    intake: IntakeUnderTest, caller: Caller, fmt: str
) -> None:
    response = await intake.http.post(
        f"{V2}/requests.{fmt}", content=b"<x/>", headers={"Content-Type": "text/plain", **caller.headers}
    )
    assert _errors(response, 415).startswith("Content-Type: content type 'text/plain' is not accepted")


async def test_the_native_api_keeps_problem_json_and_the_same_order(intake: IntakeUnderTest, caller: Caller) -> None:
    plain = {"Content-Type": "text/plain", **caller.headers}
    missing = await intake.http.post("/v1/nothing", content=b"x", headers=plain)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong_method = await intake.http.put("/v1/reports", content=b"x", headers=plain)
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == "application/problem+json"
    wrong_type = await intake.http.post("/v1/reports", content=b"x", headers=plain)
    assert wrong_type.status_code == 415 and wrong_type.json()["field"] == "Content-Type"


async def test_unknown_jurisdiction_service_and_request_are_404_bad_input_400(
    intake: IntakeUnderTest, caller: Caller
) -> None:
    key = {"api_key": caller.key}
    cases = [
        (
            await intake.http.get(f"{V2}/services.json", params={"jurisdiction_id": "elsewhere.gov"}),
            404,
            "jurisdiction_id",
        ),
        (await intake.http.get(f"{V2}/services/no_such_matter.json"), 404, "service_code"),
        (await intake.http.get(f"{V2}/requests/GD-000000-000000.json", params=key), 404, "service_request_id"),
        (
            await intake.http.post(f"{V2}/requests.json", data={**FIELDS, **key, "jurisdiction_id": "elsewhere.gov"}),
            404,
            "jurisdiction_id",
        ),
        (
            await intake.http.post(f"{V2}/requests.json", data={**FIELDS, **key, "service_code": "nothing"}),
            404,
            "service_code",
        ),
        (await intake.http.post(f"{V2}/requests.json", data={**FIELDS, **key, "lat": "north"}), 400, "lat"),
        (await intake.http.get(f"{V2}/requests.json", params={**key, "status": "maybe"}), 400, "status"),
        (await intake.http.get(f"{V2}/requests.json"), 403, "api_key"),
    ]
    for response, status, field in cases:
        assert _errors(response, status).startswith(field), response.text


async def _posted(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    [posted] = response.json()
    number: str = posted["service_request_id"]
    return number


async def test_api_key_as_a_form_field_a_json_field_or_a_query_parameter_of_the_post(
    intake: IntakeUnderTest, caller: Caller
) -> None:
    url = f"{V2}/requests.json"
    numbers = [
        await _posted(await intake.http.post(url, data={**FIELDS, "api_key": caller.key})),
        await _posted(await intake.http.post(url, json={**FIELDS, "api_key": caller.key})),
        await _posted(await intake.http.post(url, params={"api_key": caller.key}, data=FIELDS)),
        await _posted(
            await intake.http.post(
                url,
                params={"api_key": caller.key},
                files={"service_code": (None, "sanitation"), "address_string": (None, "北院门")},
            )
        ),
        # every field in the query string and no body at all, as some clients post
        await _posted(await intake.http.post(url, params={**FIELDS, "api_key": caller.key})),
    ]
    assert len(set(numbers)) == 5
    # and each is readable with the key as a query parameter, as GeoReport v2 reads send it
    listed = await intake.http.get(
        f"{V2}/requests.json", params={"api_key": caller.key, "service_request_id": ",".join(numbers)}
    )
    assert listed.status_code == 200, listed.text
    assert [r["service_request_id"] for r in listed.json()] == numbers
    one = await intake.http.get(f"{V2}/requests/{numbers[-1]}.xml", params={"api_key": caller.key})
    assert one.status_code == 200 and ET.fromstring(one.content).findtext("request/service_request_id") == numbers[-1]


async def test_a_body_less_post_without_a_key_is_403_not_415(intake: IntakeUnderTest) -> None:
    response = await intake.http.post(f"{V2}/requests.json", params=FIELDS)
    assert _errors(response, 403).startswith("api_key:")
    unique = {**FIELDS, "description": f"no key {uuid.uuid4()}"}
    assert (await intake.http.post(f"{V2}/requests.xml", params=unique)).status_code == 403
