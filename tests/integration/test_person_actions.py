"""A signed-in person acting on cases: the actor comes from the token, through dispatch into the case history;
a forged actor or a unit not theirs is refused; notify's live stream takes the same token; nothing secret is
logged."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.notify.main import create_app as create_notify
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.dispatch_fixtures import *  # noqa: F403
from tests.dispatch_fixtures import DispatchUnderTest
from tests.intake_fixtures import events_for
from tests.people_rows import PASSWORD
from tests.sign_in_fixtures import *  # noqa: F403
from tests.sign_in_fixtures import MICRO_GRID, OTHER_GRID, SignInStack

pytestmark = pytest.mark.infra


def _type(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def test_an_action_as_a_person_lands_in_the_history_with_their_id_and_name(
    stack: SignInStack, dispatch: DispatchUnderTest
) -> None:
    report = await dispatch.report(title="楼道堆物", description="楼梯间堆满纸箱", matter_code="corridor_clutter")
    await dispatch.feed(report)
    case_id = report.subject
    assert (await dispatch.case(case_id))["lead"] == MICRO_GRID
    person_id, username = await stack.person(name="王小明", roles=[("grid_worker", MICRO_GRID)])
    signed = await stack.signed(username)

    accepted = await stack.http.post(
        f"/v1/cases/{case_id}/actions", json={"action": "accept", "actor": {}}, headers=signed.headers
    )
    assert accepted.status_code == 202, accepted.text
    (requested,) = await events_for(stack.kafka, stack.topics.actions, case_id)
    assert requested.data.actor.model_dump() == {
        "id": person_id,
        "role": "assignee",
        "unit": MICRO_GRID,
        "name": "王小明",
    }

    await dispatch.feed(requested, dispatch.runtime.topics.actions)
    assert (await dispatch.case(case_id))["state"] == "accepted"
    page = (await stack.http.get(f"/v1/cases/{case_id}", headers=signed.headers)).json()
    last = page["history"][-1]
    assert last["action"] == "accept"
    assert last["actor"] == {"id": person_id, "name": "王小明", "role": "assignee", "unit": MICRO_GRID}

    named_self = {"action": "comment", "text": "已联系居民", "actor": {"id": person_id, "unit": MICRO_GRID}}
    ok = await stack.http.post(f"/v1/cases/{case_id}/actions", json=named_self, headers=signed.headers)
    assert ok.status_code == 202, ok.text


async def test_an_action_naming_another_actor_or_another_unit_is_refused(stack: SignInStack) -> None:
    async with stack.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=MICRO_GRID, scope_keys=[MICRO_GRID, "unit:610199004001"])
    _, username = await stack.person(roles=[("grid_worker", MICRO_GRID)])
    signed = await stack.signed(username)
    url = f"/v1/cases/{case_id}/actions"

    forged = await stack.http.post(
        url, json={"action": "accept", "actor": {"id": "worker-0042"}}, headers=signed.headers
    )
    assert forged.status_code == 403 and _type(forged) == "forged_actor" and forged.json()["field"] == "actor.id"
    elsewhere = {"action": "accept", "actor": {"unit": OTHER_GRID}}
    refused = await stack.http.post(url, json=elsewhere, headers=signed.headers)
    assert refused.status_code == 403 and _type(refused) == "unit_not_yours"
    above = {"action": "accept", "actor": {"unit": "unit:610199004001"}}  # the grid above their micro-grid
    assert _type(await stack.http.post(url, json=above, headers=signed.headers)) == "unit_not_yours"

    system = await stack.key("read", "act")
    nameless = await stack.http.post(url, json={"action": "accept", "actor": {"unit": MICRO_GRID}}, headers=system)
    assert nameless.status_code == 422 and nameless.json()["field"] == "actor.id"  # a system names its person


async def test_a_worker_cannot_act_on_another_grids_case(stack: SignInStack) -> None:
    async with stack.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=OTHER_GRID, scope_keys=[OTHER_GRID, "unit:610199004"])
    _, username = await stack.person(roles=[("grid_worker", MICRO_GRID)])
    signed = await stack.signed(username)
    response = await stack.http.post(
        f"/v1/cases/{case_id}/actions", json={"action": "accept", "actor": {}}, headers=signed.headers
    )
    assert response.status_code == 404


@pytest.fixture(scope="module")
async def notify_url(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[str]:
    """The notify service, served by uvicorn on a free loopback port (its live stream needs a real connection)."""
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-n{uuid.uuid4().hex[:6]}"})
    await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    app = create_notify(kafka, database_settings, ServiceSettings(), NotifySettings())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _first_event(response: httpx.Response, event_id: str) -> dict[str, object]:
    async with asyncio.timeout(30):
        async for line in response.aiter_lines():
            if line.startswith("data:") and event_id in line:
                body: dict[str, object] = json.loads(line.removeprefix("data:"))
                return body
    raise AssertionError("the stream ended without the event")


async def test_notify_takes_a_persons_token_for_the_live_stream_and_refuses_it_once_signed_out(
    stack: SignInStack, notify_url: str
) -> None:
    unit = "unit:610199004"
    _, username = await stack.person(roles=[("duty_officer", unit)])
    signed = await stack.signed(username)
    event_id = str(uuid.uuid4())
    body = {"specversion": "1.0", "id": event_id, "type": "cn.griddispatch.case.changed.v1", "data": {"unit": unit}}
    await stack.pool.execute(
        "INSERT INTO stream_events (unit, event_id, type, body) VALUES ($1, $2, $3, $4)",
        unit,
        event_id,
        body["type"],
        json.dumps(body),
    )
    async with httpx.AsyncClient(base_url=notify_url, timeout=httpx.Timeout(10.0)) as http:
        params = {"access_token": signed.access, "since": "0"}
        async with http.stream("GET", f"/v1/streams/{unit}", params=params) as live:  # as EventSource sends it
            assert live.status_code == 200, (await live.aread()).decode()
            assert (await _first_event(live, event_id))["id"] == event_id
        elsewhere = await http.get("/v1/streams/unit:610199001", headers=signed.headers)
        assert elsewhere.status_code == 404  # another street's stream: as if it did not exist
        subscriptions = await http.get("/v1/subscriptions", headers=signed.headers)
        assert subscriptions.status_code == 403 and _type(subscriptions) == "api_key_required"

        await stack.http.post("/v1/auth/sign-out", headers=signed.headers)
        refused = await http.get(f"/v1/streams/{unit}", headers=signed.headers)
        assert refused.status_code == 401 and _type(refused) == "token_revoked"
        tampered = await http.get(f"/v1/streams/{unit}", params={"access_token": signed.access[:-3] + "abc"})
        assert tampered.status_code == 401 and _type(tampered) == "token_invalid"


async def test_no_password_or_token_reaches_the_logs_or_the_audit(
    stack: SignInStack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    person_id, username = await stack.person()
    await stack.sign_in(username, "Wrong-password-77")
    signed = await stack.signed(username)
    refreshed = (await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})).json()
    await stack.http.post("/v1/auth/refresh", json={"refresh_token": signed.refresh})  # reuse: revoked
    await stack.http.get("/v1/me", headers=signed.headers)
    await stack.http.get("/v1/me", headers={"Authorization": f"Bearer {signed.access}x"})
    out, err = capfd.readouterr()
    captured = out + err + caplog.text
    assert "signed_in" in captured  # the logs were captured at all
    audit = str([dict(r) for r in await stack.pool.fetch("SELECT * FROM people_audit WHERE person_id = $1", person_id)])
    secrets = [
        PASSWORD,
        "Wrong-password-77",
        signed.access,
        signed.refresh,
        refreshed["access_token"],
        refreshed["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in captured and secret not in audit
        assert secret[-20:] not in captured
