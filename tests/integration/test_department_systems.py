"""Department systems act as they read (issue 20 item 3), on the real broker and database through the HTTP APIs.

* A key made as docs/intake-api.md shows (`--unit department:market_supervision`) accepts and resolves a case its
  branch leads, end to end through intake and dispatch; on another department's case it is refused.
* The report's record on the reports topic, read back from Kafka, carries the reporter's phone masked; the case
  still has the full phone (notify texts the reporter with it).
* Notify: a key subscribes to every unit it may read (a micro-grid below its street, a branch of its department);
  DELETE deletes (gone from the list, 404, its deliveries kept); unknown matter types are 422 naming them.
* A NUL or %-encoded bytes that are not UTF-8 in a URL's path or query are 400 naming the parameter.
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
from shared.events import CloudEvent
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.dispatch_fixtures import POINT, DispatchUnderTest
from tests.intake_fixtures import IntakeUnderTest, events_for

pytestmark = pytest.mark.infra

MARKET = "department:market_supervision"
CITY = "department:city_management"
BRANCH = "branch:market_supervision-610199004"  # the market branch of the street the sample point lies in
PHONE = "13812345210"


async def _act(intake: IntakeUnderTest, headers: dict[str, str], case_id: str, body: dict[str, Any]) -> httpx.Response:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    return await intake.http.post(f"/v1/cases/{case_id}/actions", json=body, headers={**headers, **key})


async def _apply(intake: IntakeUnderTest, dispatch: DispatchUnderTest, case_id: str, action_id: str) -> CloudEvent[Any]:
    """Hands the action intake published to dispatch, as its worker would."""
    [requested] = [e for e in await events_for(intake.kafka, intake.topics.actions, case_id) if e.id == action_id]
    await dispatch.feed(requested, dispatch.runtime.topics.actions)
    return requested


async def test_a_department_key_accepts_and_resolves_its_branchs_case_and_the_topic_masks_the_phone(
    intake: IntakeUnderTest, dispatch: DispatchUnderTest
) -> None:
    hotline = await intake.caller("submit", "read")
    report = {
        "title": "超市卖过期食品",
        "description": "小区门口超市卖过期牛奶，孩子喝了拉肚子",
        "matter_code": "food_safety",
        "location": POINT,
        "reporter": {"name": "王女士", "phone": PHONE},
    }
    submitted = await intake.http.post("/v1/reports", json=report, headers=hotline.headers)
    assert submitted.status_code in (201, 202), submitted.text
    case_id = submitted.json()["case_id"]

    [on_topic] = await events_for(intake.kafka, intake.topics.reports, case_id)
    assert on_topic.data.reporter.phone == "138****5210" and on_topic.data.reporter.name == "王女士"
    [record] = [r for r in await _records(intake, case_id)]
    assert PHONE not in record and "138****5210" in record  # the bytes on Kafka, not only the decoded event

    await dispatch.feed(on_topic)  # dispatch reads the masked report, the full phone comes from the database
    case = await dispatch.case(case_id)
    assert case["lead"] == BRANCH and case["state"] == "assigned", dict(case)
    assert json.loads(case["reporter"]) == {"name": "王女士", "phone": PHONE}  # what notify texts

    market = await intake.caller("read", "act", units=(MARKET,), source=None, name="市场监管局")
    assert (await intake.http.get(f"/v1/cases/{case_id}", headers=market.headers)).status_code == 200
    accepted = await _act(intake, market.headers, case_id, {"action": "accept", "actor": {"id": "msa-zhao"}})
    assert accepted.status_code == 202, accepted.text
    requested = await _apply(intake, dispatch, case_id, accepted.json()["action_id"])
    assert requested.data.actor.unit == BRANCH and requested.data.actor.role == "assignee"
    assert (await dispatch.case(case_id))["state"] == "accepted"

    helpers = await intake.caller("read", "act", source=None)  # the assisting parties report in first
    for party in (await dispatch.case(case_id))["assisting"]:
        done = await _act(
            intake, helpers.headers, case_id, {"action": "report_in", "actor": {"id": "h", "unit": party}}
        )
        assert done.status_code == 202, done.text
        await _apply(intake, dispatch, case_id, done.json()["action_id"])
    resolve = {"action": "resolve", "text": "已下架过期食品，立案调查", "actor": {"id": "msa-zhao", "unit": BRANCH}}
    resolved = await _act(intake, market.headers, case_id, resolve)
    assert resolved.status_code == 202, resolved.text
    await _apply(intake, dispatch, case_id, resolved.json()["action_id"])
    page = (await intake.http.get(f"/v1/cases/{case_id}", headers=market.headers)).json()
    assert page["state"] == "resolved" and page["history"][-1]["action"] == "resolve"
    assert page["reporter"]["phone"] == "138****5210"  # read without the personal_data scope: masked

    city = await intake.caller("read", "act", units=(CITY,), source=None)
    unseen = await _act(intake, city.headers, case_id, {"action": "progress", "text": "x", "actor": {"id": "c-1"}})
    assert unseen.status_code == 404, unseen.text  # another department does not even see it


async def _records(intake: IntakeUnderTest, case_id: str) -> list[str]:
    from tests.intake_fixtures import records_of

    found = await records_of(intake.kafka, intake.topics.reports)
    return [r.value.decode() for r in found if r.key == case_id.encode()]


async def test_a_department_key_is_refused_on_another_departments_case_it_can_see(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        theirs = await insert_case(
            conn, lead="branch:city_management-610199004", scope_keys=[CITY, MARKET, "unit:610199004"]
        )
        ours = await insert_case(conn, lead=BRANCH, scope_keys=[MARKET, "unit:610199004"])
    market = await intake.caller("read", "act", units=(MARKET,), source=None)
    for unit in (None, MARKET, "branch:city_management-610199004"):
        body = {"action": "accept", "actor": {"id": "msa-zhao", **({"unit": unit} if unit else {})}}
        refused = await _act(intake, market.headers, str(theirs), body)
        assert refused.status_code == 403, (unit, refused.text)
    as_department = await _act(
        intake, market.headers, str(ours), {"action": "accept", "actor": {"id": "m", "unit": MARKET}}
    )
    assert as_department.status_code == 202, as_department.text  # the department names itself: its branch acts
    [event] = [e for e in await events_for(intake.kafka, intake.topics.actions, str(ours))]
    assert event.data.actor.unit == BRANCH
    other_branch = {"action": "accept", "actor": {"id": "m", "unit": "branch:market_supervision-610199001"}}
    assert (await _act(intake, market.headers, str(ours), other_branch)).status_code == 403  # not on this case


# --- notify ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def notify(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[Any]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-s{uuid.uuid4().hex[:6]}"})
    await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    app = notify_app(kafka, database_settings, ServiceSettings(), NotifySettings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as http:
            http.pool = app.state.pool  # type: ignore[attr-defined]
            yield http


async def _key(notify: Any, *units: str) -> dict[str, str]:
    async with notify.pool.acquire() as conn:
        _, key = await create_client(conn, name=f"sub {uuid.uuid4().hex[:6]}", scopes=["read"], units=units)
    return {"Authorization": f"Bearer {key}"}


SUB = {"name": "街道指挥中心", "channel": "webhook", "target": "https://street.example.gov.cn/hooks"}


async def test_a_key_subscribes_to_every_unit_it_may_read(notify: Any) -> None:
    street = await _key(notify, "unit:610199004")
    micro_grid = "unit:610199004001001006"
    # the same rule as its live stream (services/notify/auth.py sees_unit): a street reads its micro-grids
    made = await notify.post("/v1/subscriptions", json={**SUB, "units": [micro_grid]}, headers=street)
    assert made.status_code == 201, made.text
    outside = await notify.post(
        "/v1/subscriptions", json={**SUB, "units": ["unit:610199001", micro_grid]}, headers=street
    )
    assert outside.status_code == 422 and outside.json()["field"] == "units", outside.text
    assert outside.json()["units"] == ["unit:610199001"]

    market = await _key(notify, MARKET)
    branch = await notify.post("/v1/subscriptions", json={**SUB, "units": [BRANCH, MARKET]}, headers=market)
    assert branch.status_code == 201, branch.text
    theirs = await notify.post(
        "/v1/subscriptions", json={**SUB, "units": ["branch:city_management-610199004"]}, headers=market
    )
    assert theirs.status_code == 422 and theirs.json()["units"] == ["branch:city_management-610199004"]
    patched = await notify.patch(
        f"/v1/subscriptions/{made.json()['id']}", json={"units": ["unit:610199004001"]}, headers=street
    )
    assert patched.status_code == 200 and patched.json()["units"] == ["unit:610199004001"], patched.text


async def test_unknown_matter_types_are_422_naming_them(notify: Any) -> None:
    headers = await _key(notify, "*")
    body = {**SUB, "matter_types": ["food_safety", "astrology", "ufo_sighting"]}
    refused = await notify.post("/v1/subscriptions", json=body, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "matter_types", refused.text
    assert refused.json()["unknown"] == ["astrology", "ufo_sighting"] and "astrology" in refused.json()["detail"]
    made = await notify.post("/v1/subscriptions", json={**SUB, "matter_types": ["food_safety"]}, headers=headers)
    assert made.status_code == 201, made.text
    patched = await notify.patch(
        f"/v1/subscriptions/{made.json()['id']}", json={"matter_types": ["nope"]}, headers=headers
    )
    assert patched.status_code == 422 and patched.json()["unknown"] == ["nope"]


async def test_delete_deletes_and_keeps_the_delivery_history(notify: Any) -> None:
    headers = await _key(notify, "*")
    made = (await notify.post("/v1/subscriptions", json=SUB, headers=headers)).json()
    sub_id = made["id"]
    delivered = await notify.pool.fetchval(
        """INSERT INTO deliveries (event_id, event_type, recipient, subscription_id, channel, target, payload, status)
           VALUES ($1, 'cn.griddispatch.case.assigned.v1', $2, $3, 'webhook', $4, '{}', 'delivered') RETURNING id""",
        str(uuid.uuid4()),
        f"subscription:{sub_id}",
        uuid.UUID(sub_id),
        SUB["target"],
    )
    pending = await notify.pool.fetchval(
        """INSERT INTO deliveries (event_id, event_type, recipient, subscription_id, channel, target, payload)
           VALUES ($1, 'cn.griddispatch.case.assigned.v1', $2, $3, 'webhook', $4, '{}') RETURNING id""",
        str(uuid.uuid4()),
        f"subscription:{sub_id}",
        uuid.UUID(sub_id),
        SUB["target"],
    )
    assert (await notify.delete(f"/v1/subscriptions/{sub_id}", headers=headers)).status_code == 204
    assert (await notify.get(f"/v1/subscriptions/{sub_id}", headers=headers)).status_code == 404
    listed = (await notify.get("/v1/subscriptions", headers=headers)).json()["items"]
    assert sub_id not in {s["id"] for s in listed}
    again = await notify.patch(f"/v1/subscriptions/{sub_id}", json={"active": True}, headers=headers)
    assert again.status_code == 404  # not a pause: it cannot be resumed
    assert (await notify.delete(f"/v1/subscriptions/{sub_id}", headers=headers)).status_code == 404
    history = (await notify.get(f"/v1/deliveries?subscription_id={sub_id}", headers=headers)).json()["items"]
    assert {d["id"]: d["status"] for d in history} == {delivered: "delivered", pending: "suppressed"}


# --- a NUL or bad UTF-8 in the URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/streams/unit:6101%00", "path"),
        ("/v1/streams/unit:6101%FF", "path"),
        ("/v1/deliveries?status=dead%00", "status"),
        ("/v1/deliveries?status=%C3%28", "status"),
        ("/v1/deliveries?sub%FFscription=x", "sub\ufffdscription"),
    ],
)
async def test_notify_refuses_an_unreadable_url_with_400_naming_it(notify: Any, url: str, field: str) -> None:
    response = await notify.get(url, headers=await _key(notify, "*"))
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert response.json()["type"].endswith("/unreadable_parameter")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/v1/cases/{uuid.uuid4()}%00", "path"),
        ("/v1/cases/%E4%B8", "path"),
        ("/v1/cases?state=assigned%00", "state"),
        ("/v1/cases?unit=unit:%FF", "unit"),
    ],
)
async def test_intake_refuses_an_unreadable_url_with_400_naming_it(
    intake: IntakeUnderTest, url: str, field: str
) -> None:
    reader = await intake.caller("read")
    response = await intake.http.get(url, headers=reader.headers)
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert response.headers["content-type"] == "application/problem+json"
