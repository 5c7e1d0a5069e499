"""POST /v1/reports on the real broker and database: one case per report, 202 only once Kafka has it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.intake_fixtures import IntakeUnderTest, events_for

REPORT: dict[str, Any] = {
    "title": "路口井盖丢失",
    "description": "北院门与西大街路口的井盖不见了，晚上很危险",
    "location": {"lon": 108.9352, "lat": 34.2721},
    "reporter": {"name": "王先生", "phone": "13812345678"},
    "urgency": "high",
}


def _report(**changes: Any) -> dict[str, Any]:
    return {**REPORT, **changes}


async def test_report_is_accepted_once_and_lands_on_the_topic(intake: IntakeUnderTest) -> None:
    hotline = await intake.caller("submit", "read", units=("unit:610199004",))
    response = await intake.http.post("/v1/reports", json=_report(source_ref="T-1"), headers=hotline.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "received" and body["replayed"] is False
    assert body["case_number"].startswith("GD-") and len(body["case_number"]) == len("GD-261122-000001")
    assert body["status_url"] == f"http://intake.test/v1/cases/{body['case_id']}"
    assert response.headers["Location"] == body["status_url"]

    events = await events_for(intake.kafka, intake.topics.reports, body["case_id"])
    assert len(events) == 1
    event = events[0]
    assert event.type.value == "cn.griddispatch.report.submitted.v1" and event.subject == body["case_id"]
    assert event.data.case_number == body["case_number"]
    assert event.data.title == REPORT["title"] and event.data.location.lon == 108.9352
    assert event.data.source == "hotline" and event.data.source_ref == "T-1"
    assert event.data.submitted_by == str(hotline.client.id)

    status = await intake.http.get(f"/v1/cases/{body['case_id']}", headers=hotline.headers)
    assert status.status_code == 200  # never a bare 404 for an accepted case
    assert status.json()["state"] == "received" and status.json()["detail"] == "received, being dispatched"


async def test_retry_with_the_same_key_gives_the_same_case_and_no_second_event(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", source="grid_app")
    headers = {**app.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await intake.http.post("/v1/reports", json=_report(), headers=headers)
    second = await intake.http.post("/v1/reports", json=_report(), headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.json()["case_id"] == first.json()["case_id"]
    assert second.json()["case_number"] == first.json()["case_number"]
    assert second.json()["replayed"] is True
    assert len(await events_for(intake.kafka, intake.topics.reports, first.json()["case_id"])) == 1


async def test_concurrent_retries_make_one_case(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", source="grid_app")
    headers = {**app.headers, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(intake.http.post("/v1/reports", json=_report(), headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert sum(not r.json()["replayed"] for r in responses) == 1
    assert len(await events_for(intake.kafka, intake.topics.reports, responses[0].json()["case_id"])) == 1


async def test_same_key_with_another_body_is_refused(intake: IntakeUnderTest) -> None:
    app = await intake.caller("submit", source="grid_app")
    headers = {**app.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert (await intake.http.post("/v1/reports", json=_report(), headers=headers)).status_code == 202
    response = await intake.http.post("/v1/reports", json=_report(title="另一件事"), headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/idempotency_conflict") and problem["field"] == "Idempotency-Key"


async def test_same_source_ref_is_the_same_case(intake: IntakeUnderTest) -> None:
    hotline = await intake.caller("submit")
    ticket = f"12345-{uuid.uuid4().hex[:8]}"
    first = await intake.http.post("/v1/reports", json=_report(source_ref=ticket), headers=hotline.headers)
    again = await intake.http.post("/v1/reports", json=_report(source_ref=ticket), headers=hotline.headers)
    assert again.json()["case_id"] == first.json()["case_id"] and again.json()["replayed"] is True


async def test_authentication_and_scopes(intake: IntakeUnderTest) -> None:
    anonymous = await intake.http.post("/v1/reports", json=_report())
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]
    wrong = await intake.http.post("/v1/reports", json=_report(), headers={"Authorization": "Bearer gdk_nope"})
    assert wrong.status_code == 401
    reader = await intake.caller("read")
    forbidden = await intake.http.post("/v1/reports", json=_report(), headers=reader.headers)
    assert forbidden.status_code == 403 and forbidden.json()["type"].endswith("/forbidden")
    by_header = await intake.http.post(
        "/v1/reports", json=_report(), headers={"X-API-Key": (await intake.caller("submit")).key}
    )
    assert by_header.status_code == 202


async def test_revoked_key_stops_working(intake: IntakeUnderTest) -> None:
    from shared.api_clients import revoke_client

    caller = await intake.caller("submit")
    assert (await intake.http.post("/v1/reports", json=_report(), headers=caller.headers)).status_code == 202
    async with intake.pool.acquire() as conn:
        await revoke_client(conn, str(caller.client.id))
    assert (await intake.http.post("/v1/reports", json=_report(), headers=caller.headers)).status_code == 401


async def test_bad_reports_name_the_field(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    cases = [
        ({"location": {}}, "location"),
        ({"location": {"lon": 200, "lat": 34.2}}, "location.lon"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"attachments": ["http://example.org/a.jpg"]}, "attachments"),
        ({"attachments": ["https://example.org/a.jpg"] * 11}, "attachments"),
        ({"observed_at": "2026-11-22T09:00:00"}, "observed_at"),
        ({"observed_at": "2999-01-01T00:00:00+08:00"}, "observed_at"),
        ({"urgency": "now!"}, "urgency"),
        ({"households_affected": -1}, "households_affected"),
        ({"reporter": {"phone": "call me"}}, "reporter.phone"),
        ({"colour": "red"}, "colour"),
    ]
    for change, field in cases:
        response = await intake.http.post("/v1/reports", json=_report(**change), headers=caller.headers)
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, (change, response.json())
    no_source = await intake.caller("submit", source=None)
    response = await intake.http.post("/v1/reports", json=_report(), headers=no_source.headers)
    assert response.status_code == 422 and response.json()["field"] == "source"


async def test_body_size_and_content_type(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit")
    big = _report(description="字" * 200_000)
    too_large = await intake.http.post("/v1/reports", json=big, headers=caller.headers)
    assert too_large.status_code == 413 and too_large.json()["type"].endswith("/payload_too_large")
    as_text = await intake.http.post(
        "/v1/reports", content=b"title=x", headers={**caller.headers, "Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415 and as_text.json()["field"] == "Content-Type"
    broken = await intake.http.post(
        "/v1/reports", content=b"{not json", headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422


async def test_rate_limit_answers_429_with_retry_after(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit", rate_per_min=3)
    codes = [(await intake.http.post("/v1/reports", json=_report(), headers=caller.headers)) for _ in range(4)]
    assert [r.status_code for r in codes] == [202, 202, 202, 429]
    assert int(codes[-1].headers["Retry-After"]) >= 1
