"""Alerts to people through notify on the real broker and database: the on-duty person first, then the unit's head,
then the next rung's person on duty; a unit nobody answers for alerts its head and is flagged. The SMS gateway is a
real local HTTP receiver; the persons, roles and rosters are rows of their own in the sample district."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time

import asyncpg
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from services.notify.main import create_app
from shared.events import new_event
from shared.events.types import CaseAssigned, DeadlineFired
from shared.kafka import ensure_topics, kafka_producer, publish
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests.case_rows import insert_case
from tests.people_rows import People, insert_person

GRID = "unit:610199004001001"  # its registry people: a grid head and a grid worker, with masked phones
OTHER_GRID = "unit:610199004001002"
COMMUNITY = "unit:610199004001"  # the rung above both; its registry duty officer has a masked phone
ALL_DAY = (clock_time(0), clock_time(0))  # equal start and end: a 24-hour shift, on duty whenever the test runs


@dataclass
class Gateway:
    """The SMS gateway: a real HTTP server on loopback, recording what it is asked to send."""

    sent: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.sent.append(json.loads(await request.read()))
        return web.Response(status=200)

    def to(self, phone: str) -> list[str]:
        return [m["text"] for m in self.sent if m["to"] == phone]


@dataclass
class Env:
    pool: asyncpg.Pool
    kafka: KafkaSettings
    topics: Topics
    gateway: Gateway
    people: People

    async def person(self, role: str, unit: str) -> tuple[str, str]:
        phone = f"13{uuid.uuid4().int % 10**9:09d}"
        async with self.pool.acquire() as conn:
            person, _ = await insert_person(conn, roles=[(role, unit)], phone=phone, password=None)
        self.people.persons.append(person)
        return person, phone

    async def emit(self, topic: str, data: object, case_id: str) -> str:
        event = new_event(data, source="/tests", subject=case_id)  # type: ignore[arg-type]
        async with kafka_producer(self.kafka) as producer:
            await publish(producer, topic, event)
        return event.id

    async def fanned_out(self, event_id: str) -> dict[str, str]:
        """Once notify has written the event (its stream rows and deliveries are one transaction): person ->
        phone of its deliveries to persons (other tests' subscriptions may hear of it too)."""
        await until(lambda: self.pool.fetchval("SELECT count(*) FROM stream_events WHERE event_id = $1", event_id))
        rows = await self.pool.fetch(
            "SELECT recipient, channel, target FROM deliveries WHERE event_id = $1 AND recipient LIKE 'person:%'",
            event_id,
        )
        assert {r["channel"] for r in rows} <= {"sms"}
        return {r["recipient"]: r["target"] for r in rows}


async def until(check: Callable[[], Awaitable[object]], timeout_s: float = 90, what: str = "") -> None:
    """Poll until `check` holds; generous, since the first event waits for notify's consumer group join."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


@pytest.fixture
async def env(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[Env]:
    gateway = Gateway()
    app_gw = web.Application()
    app_gw.router.add_route("POST", "/sms", gateway.handle)
    runner = web.AppRunner(app_gw)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gateway.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-p{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    conn = await asyncpg.connect(database_settings.url)
    try:  # the sample district: its units, and its people imported as persons (with the registry's masked phones)
        await import_directory(conn, PROJECT_ROOT / "data" / "sample-district", imported_by="tests")
    finally:
        await conn.close()
    settings = NotifySettings(group_window_s=0.2, rate_per_hour=1000, sms_gateway_url=f"{gateway.url}/sms")
    app = create_app(kafka, database_settings, ServiceSettings(), settings)
    try:
        async with app.router.lifespan_context(app):
            people = People(app.state.pool)
            try:
                yield Env(app.state.pool, kafka, topics, gateway, people)
            finally:
                await people.clean()
    finally:
        await runner.cleanup()


def _assigned(case_id: str, assignee: str, person: str | None) -> CaseAssigned:
    return CaseAssigned(
        case_id=case_id, case_number="GD-P-1", assignee=assignee, role="lead", matter_code="sanitation",
        level="grid", title="垃圾没人清运", person=person,
    )  # fmt: skip


def _fired(case_id: str, kind: str, tier: str, assignee: str = GRID) -> DeadlineFired:
    return DeadlineFired(
        case_id=case_id, deadline_id=str(uuid.uuid4()), kind=kind, tier=tier, due_at=datetime.now(UTC),
        assignee=assignee,
    )  # fmt: skip


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_on_duty_person_first_then_the_head_then_the_next_rungs_person_on_duty(env: Env) -> None:
    duty, duty_phone = await env.person("grid_worker", GRID)
    head, head_phone = await env.person("grid_head", GRID)
    officer, officer_phone = await env.person("duty_officer", COMMUNITY)
    await env.people.roster(GRID, (*ALL_DAY, [duty]))
    await env.people.roster(COMMUNITY, (*ALL_DAY, [officer]))
    async with env.pool.acquire() as conn:
        case_id = str(await insert_case(conn, lead=GRID, lead_person=duty, persons=[duty]))

    # step 1, a new case: only the person on duty, not everyone of the unit
    assigned = await env.emit(env.topics.assignments, _assigned(case_id, GRID, duty), case_id)
    assert await env.fanned_out(assigned) == {f"person:{duty}": duty_phone}
    await until(lambda: _async(any("新派单" in t for t in env.gateway.to(duty_phone))), what="the SMS to the duty")

    # step 2, not accepted within a step: the unit's heads too (the registry's head has a masked phone: skipped)
    undeliverable = _metric("griddispatch_notify_undeliverable_total")
    warning = await env.emit(env.topics.deadlines, _fired(case_id, "accept", "warning"), case_id)
    assert await env.fanned_out(warning) == {f"person:{duty}": duty_phone, f"person:{head}": head_phone}
    assert _metric("griddispatch_notify_undeliverable_total") == undeliverable + 1
    await until(lambda: _async(any("预警" in t for t in env.gateway.to(head_phone))), what="the warning to the head")
    assert not any("138****" in m["to"] or "*" in m["to"] for m in env.gateway.sent)  # nothing to a masked number

    # a resolve warning is the responsible person's alone
    resolve = await env.emit(env.topics.deadlines, _fired(case_id, "resolve", "warning"), case_id)
    assert await env.fanned_out(resolve) == {f"person:{duty}": duty_phone}

    # step 3, overdue: the next rung's person on duty as well, not everyone listed there
    overdue = await env.emit(env.topics.deadlines, _fired(case_id, "accept", "overdue"), case_id)
    assert await env.fanned_out(overdue) == {
        f"person:{duty}": duty_phone,
        f"person:{head}": head_phone,
        f"person:{officer}": officer_phone,
    }
    await until(lambda: _async(any("超时" in t for t in env.gateway.to(officer_phone))), what="overdue, next rung")
    streamed = await env.pool.fetch("SELECT unit FROM stream_events WHERE event_id = $1", overdue)
    assert {GRID, COMMUNITY} <= {r["unit"] for r in streamed}  # both consoles see it

    # the escalate tier fired with it pages nobody again (dispatch's move one rung up sends case.assigned)
    escalate = await env.emit(env.topics.deadlines, _fired(case_id, "accept", "escalate"), case_id)
    assert await env.fanned_out(escalate) == {}


async def test_a_unit_with_nobody_on_duty_alerts_its_head_and_is_flagged(env: Env) -> None:
    head, head_phone = await env.person("grid_head", OTHER_GRID)
    async with env.pool.acquire() as conn:  # dispatch found nobody: the case has no responsible person
        case_id = str(await insert_case(conn, lead=OTHER_GRID, lead_person=None))
    unstaffed = _metric("griddispatch_notify_unstaffed_total", level="grid")

    event_id = await env.emit(env.topics.assignments, _assigned(case_id, OTHER_GRID, None), case_id)
    # its heads: ours, and the registry's (a masked phone, no delivery); nobody else of the unit
    assert await env.fanned_out(event_id) == {f"person:{head}": head_phone}
    await until(lambda: _async(bool(env.gateway.to(head_phone))), what="the SMS to the head")
    bodies = await env.pool.fetch("SELECT unit, body::text AS body FROM stream_events WHERE event_id = $1", event_id)
    assert OTHER_GRID in {r["unit"] for r in bodies}
    assert all(json.loads(r["body"])["unstaffed"] is True for r in bodies)  # the console's live view shows it
    assert _metric("griddispatch_notify_unstaffed_total", level="grid") == unstaffed + 1


async def test_a_staffed_assignment_is_not_flagged(env: Env) -> None:
    duty, duty_phone = await env.person("grid_worker", OTHER_GRID)
    async with env.pool.acquire() as conn:
        case_id = str(await insert_case(conn, lead=OTHER_GRID, lead_person=duty))
    event_id = await env.emit(env.topics.assignments, _assigned(case_id, OTHER_GRID, duty), case_id)
    assert await env.fanned_out(event_id) == {f"person:{duty}": duty_phone}
    body = await env.pool.fetchval("SELECT body::text FROM stream_events WHERE event_id = $1 LIMIT 1", event_id)
    assert "unstaffed" not in json.loads(body)


async def test_an_assisting_partys_deadline_pages_its_own_responsible_person(env: Env) -> None:
    department = "department:city_management"
    duty, _ = await env.person("grid_worker", GRID)
    handler, handler_phone = await env.person("department_handler", department)
    async with env.pool.acquire() as conn:
        case_id = str(
            await insert_case(
                conn, lead=GRID, lead_person=duty, assisting=[department],
                part_persons=json.dumps({department: handler}), persons=[duty, handler],
            )
        )  # fmt: skip
    fired = await env.emit(env.topics.deadlines, _fired(case_id, "report_in", "warning", department), case_id)
    assert await env.fanned_out(fired) == {f"person:{handler}": handler_phone}  # not the lead's person


async def _async(value: object) -> object:
    return value
