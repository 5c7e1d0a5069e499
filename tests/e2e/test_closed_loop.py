"""All four services together on the real broker and database: the closed loop, and a missed deadline.

intake (HTTP) -> dispatch (a worker process) -> escalation -> notify (webhooks to a local receiver).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.escalation.main import create_app as create_escalation
from services.intake.main import create_app as create_intake
from services.notify.main import create_app as create_notify
from shared.api_clients import create_client
from shared.settings import (
    PROJECT_ROOT,
    DatabaseSettings,
    EscalationSettings,
    IntakeSettings,
    KafkaSettings,
    NotifySettings,
    ServiceSettings,
)

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
POINT = {"lon": 108.9352, "lat": 34.2721}  # in micro-grid 610199004001001006


@dataclass
class Hooks:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, "event": json.loads(await request.read())})
        return web.Response(status=200)

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r["event"] for r in self.received if r["path"] == path]


@dataclass
class Loop:
    intake: httpx.AsyncClient
    notify: httpx.AsyncClient
    hooks: Hooks
    pool: Any
    keys: dict[str, str]


async def _until(check: Any, timeout_s: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
async def loop(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Loop]:
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}-loop{uuid.uuid4().hex[:5]}"}
    )
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "GRIDDISPATCH_DB_URL": database_settings.url,
    }
    subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE)],
        env=env,
        check=True,
        capture_output=True,
    )
    log = open(tmp_path_factory.mktemp("loop") / "dispatch.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "griddispatch.cli", "serve", "dispatch", "--port", "18111"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    hooks = Hooks()
    receiver = web.Application()
    receiver.router.add_route("POST", "/{tail:.*}", hooks.handle)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hooks.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    intake = create_intake(kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://i"))
    escalation = create_escalation(kafka, database_settings, ServiceSettings(), EscalationSettings(max_sleep_s=2))
    notify = create_notify(kafka, database_settings, ServiceSettings(), NotifySettings(backoff_base_s=0.2))
    try:
        deadline = time.monotonic() + 90
        while True:
            assert worker.poll() is None, "dispatch exited"
            try:
                if httpx.get("http://127.0.0.1:18111/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "dispatch not ready"
            await asyncio.sleep(0.3)
        async with (
            intake.router.lifespan_context(intake),
            escalation.router.lifespan_context(escalation),
            notify.router.lifespan_context(notify),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://i") as intake_http,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=notify), base_url="http://n") as notify_http,
        ):
            pool = intake.state.resources.pool
            keys = {}
            async with pool.acquire() as conn:
                for name, scopes, units, source in (
                    ("hotline", ["submit", "read", "act"], ["*"], "hotline"),
                    ("grid app", ["read", "act"], ["unit:610199004001"], "grid_app"),
                    ("street centre", ["read", "act", "supervise"], ["unit:610199004"], None),
                    ("gas company", ["read", "act"], ["department:gas"], None),
                ):
                    _, keys[name] = await create_client(conn, name=name, scopes=scopes, units=units, source=source)
            yield Loop(intake_http, notify_http, hooks, pool, keys)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()
        await runner.cleanup()


def _h(loop: Loop, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {loop.keys[who]}"}


async def _case(loop: Loop, case_id: str) -> dict[str, Any]:
    response = await loop.intake.get(f"/v1/cases/{case_id}", headers=_h(loop, "hotline"))
    body: dict[str, Any] = response.json()
    return body


async def _act(loop: Loop, who: str, case_id: str, body: dict[str, Any], state: str) -> None:
    response = await loop.intake.post(f"/v1/cases/{case_id}/actions", json=body, headers=_h(loop, who))
    assert response.status_code == 202, response.text

    async def reached() -> bool:
        return (await _case(loop, case_id))["state"] == state

    await _until(reached, what=f"{body['action']} -> {state}")


async def test_hotline_report_closes_the_loop(loop: Loop) -> None:
    hook = "/street-centre"
    sub = await loop.notify.post(
        "/v1/subscriptions",
        headers=_h(loop, "street centre"),
        json={"name": "街道指挥中心", "channel": "webhook", "target": loop.hooks.url + hook},
    )
    assert sub.status_code == 201, sub.text
    report = {
        "title": "楼道堆满杂物",
        "description": "3号楼楼道里堆满纸箱杂物",
        "location": POINT,
        "reporter": {"name": "王先生", "phone": "13812345678"},
    }
    accepted = (await loop.intake.post("/v1/reports", json=report, headers=_h(loop, "hotline"))).json()
    case_id = accepted["case_id"]

    async def assigned() -> bool:
        return (await _case(loop, case_id))["state"] == "assigned"

    await _until(assigned, what="dispatch")
    case = await _case(loop, case_id)
    lead = case["assignment"]["lead"]
    owed = [p for p in case["assignment"]["assisting"]]
    assert lead.startswith("unit:610199004001")  # a small matter stays in the grid
    await _act(loop, "grid app", case_id, {"action": "accept", "actor": {"id": "w1", "unit": lead}}, "accepted")
    for party in owed:  # co-assigned: each assisting unit's own system reports its part before the lead resolves
        async with loop.pool.acquire() as conn:
            _, loop.keys[party] = await create_client(conn, name=party, scopes=["read", "act"], units=[party])
        response = await loop.intake.post(
            f"/v1/cases/{case_id}/actions",
            headers=_h(loop, party),
            json={"action": "report_in", "actor": {"id": "dept", "unit": party}, "text": "已配合处置"},
        )
        assert response.status_code == 202, response.text

    async def parts_in() -> bool:
        history = [h["action"] for h in (await _case(loop, case_id))["history"]]
        return history.count("report_in") == len(owed)

    await _until(parts_in, what="every assisting unit's part")
    await _act(
        loop,
        "grid app",
        case_id,
        {"action": "resolve", "actor": {"id": "w1", "unit": lead}, "text": "已清理"},
        "resolved",
    )
    await _act(
        loop,
        "street centre",
        case_id,
        {"action": "verify", "actor": {"id": "c", "unit": "unit:610199004"}, "passed": True},
        "verified",
    )
    await _act(loop, "hotline", case_id, {"action": "rate", "actor": {"id": "resident"}, "score": 5}, "closed")
    history = [h["action"] for h in (await _case(loop, case_id))["history"]]
    expected = ["report", "assign", "accept", *["report_in"] * len(owed), "resolve", "verify_passed"]
    assert history == [*expected, "rate_satisfied", "close"]

    async def notified() -> bool:
        actions = [e["data"].get("action") for e in loop.hooks.events(hook) if e["subject"] == case_id]
        return "close" in actions

    await _until(notified, what="the street centre's webhook to hear the whole loop")
    types = {e["type"] for e in loop.hooks.events(hook) if e["subject"] == case_id}
    assert "cn.griddispatch.case.assigned.v1" in types and "cn.griddispatch.case.changed.v1" in types


async def test_a_missed_accept_by_escalates_and_the_next_rung_hears_of_it(loop: Loop) -> None:
    hook = "/gas"
    sub = await loop.notify.post(
        "/v1/subscriptions",
        headers=_h(loop, "gas company"),
        json={"name": "燃气公司", "channel": "webhook", "target": loop.hooks.url + hook},
    )
    assert sub.status_code == 201, sub.text
    report = {"title": "燃气味道很大", "description": "楼道里有很浓的燃气味", "location": POINT}
    case_id = (await loop.intake.post("/v1/reports", json=report, headers=_h(loop, "hotline"))).json()["case_id"]

    async def assigned() -> bool:
        return (await _case(loop, case_id))["state"] == "assigned"

    await _until(assigned, what="dispatch")
    before = (await _case(loop, case_id))["assignment"]["lead"]
    assert before.startswith("branch:gas")
    # time passes: the accept-by deadline falls due now (escalation sleeps until it, or NOTIFY wakes it)
    await loop.pool.execute(
        """UPDATE deadlines SET due_at = now(), next_fire_at = now(), warn_times = '{}'
           WHERE case_id = $1::uuid AND kind = 'accept' AND status = 'open'""",
        case_id,
    )

    async def escalated() -> bool:
        return (await _case(loop, case_id))["assignment"]["lead"] != before

    await _until(escalated, what="the escalation one rung up")
    after = await _case(loop, case_id)
    assert after["assignment"]["lead"] == "department:gas" and before in after["assignment"]["assisting"]
    assert [h["action"] for h in after["history"]][-2:] == ["escalate", "assign"]

    async def heard() -> bool:
        tiers = [e["data"].get("tier") for e in loop.hooks.events(hook) if e["subject"] == case_id]
        leads = [e["data"].get("assignee") for e in loop.hooks.events(hook) if e["type"].endswith("case.assigned.v1")]
        return "overdue" in tiers and "department:gas" in leads

    await _until(heard, what="the gas department to be told of the overdue case and its new assignment")
