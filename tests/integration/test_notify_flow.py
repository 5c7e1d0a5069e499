"""notify end to end on the real broker and database, against a real local HTTP receiver that misbehaves."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
import standardwebhooks
from aiohttp import web

from services.notify.main import create_app
from shared.api_clients import create_client
from shared.events import new_event
from shared.events.types import Actor, CaseAssigned, CaseChanged, DeadlineFired
from shared.kafka import ensure_topics, kafka_producer, publish
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests.case_rows import insert_case


@dataclass
class Receiver:
    """A webhook and SMS-gateway receiver on loopback; `script[path]` lists the answers to give in turn."""

    script: dict[str, list[str]] = field(default_factory=dict)
    seen: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=lambda: defaultdict(list))
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen[request.path].append((dict(request.headers), body))
        plan = self.script.get(request.path, [])
        answer = plan.pop(0) if plan else "200"
        if answer == "hang":
            await asyncio.sleep(3)
        if answer == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        if answer == "429":
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=int(answer) if answer.isdigit() else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


@dataclass
class Notify:
    http: httpx.AsyncClient
    kafka: KafkaSettings
    topics: Topics
    headers: dict[str, str]
    pool: object


@pytest.fixture
async def notify(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, receiver: Receiver
) -> AsyncIterator[Notify]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-n{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    settings = NotifySettings(
        webhook_timeout_s=1.0,
        max_attempts=3,
        backoff_base_s=0.2,
        backoff_max_s=1.0,
        group_window_s=3.0,  # wide enough that a loaded box fans a burst out inside it
        rate_per_hour=2,
        sms_gateway_url=f"{receiver.url}/sms",
        sms_gateway_key="k",
    )
    app = create_app(kafka, database_settings, ServiceSettings(), settings)
    async with app.router.lifespan_context(app):
        pool = app.state.pool
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = 'delivered' WHERE status = 'pending'"
            )  # others' leftovers
            _, key = await create_client(conn, name="market system", scopes=["read"], units=["*"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as http:
            yield Notify(http, kafka, topics, {"Authorization": f"Bearer {key}"}, pool)


async def _subscribe(n: Notify, channel: str, target: str, **filters: object) -> dict[str, object]:
    body = {"name": "t", "channel": channel, "target": target, **filters}
    response = await n.http.post("/v1/subscriptions", json=body, headers=n.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _case(n: Notify, **fields: object) -> str:
    async with n.pool.acquire() as conn:  # type: ignore[attr-defined]
        return str(await insert_case(conn, **fields))


async def _emit(n: Notify, topic: str, data: object, case_id: str) -> str:
    event = new_event(data, source="/tests", subject=case_id)  # type: ignore[arg-type]
    async with kafka_producer(n.kafka) as producer:
        await publish(producer, topic, event)
    return event.id


async def _until(check: object, timeout_s: float = 90, what: str = "") -> None:
    """Poll `check` until it holds; generous, since the first event waits for notify's consumer group join."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


def _assigned(case_id: str, assignee: str = "unit:610199004001") -> CaseAssigned:
    return CaseAssigned(
        case_id=case_id,
        case_number="GD-N-1",
        assignee=assignee,
        role="lead",
        matter_code="sanitation",
        level="grid",
        title="垃圾没人清运",
    )


@pytest.mark.parametrize("misbehaviour", ["500", "429", "hang", "drop"])
async def test_webhook_retries_until_delivered_signed_with_one_idempotency_key(
    notify: Notify, receiver: Receiver, misbehaviour: str
) -> None:
    path = f"/hook-{misbehaviour}-{uuid.uuid4().hex[:4]}"
    receiver.script[path] = [misbehaviour]
    sub = await _subscribe(notify, "webhook", receiver.url + path, event_types=["case.assigned"])
    case_id = await _case(notify)
    event_id = await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)

    async def delivered() -> bool:  # recorded once the receiver's answer is in, a moment after it saw the request
        listed = (
            await notify.http.get("/v1/deliveries", params={"subscription_id": sub["id"]}, headers=notify.headers)
        ).json()
        return bool(listed["items"]) and listed["items"][0]["status"] == "delivered"

    await _until(delivered, what="a retry that succeeds")
    attempts = receiver.seen[path]
    assert len(attempts) >= 2
    assert {h["Idempotency-Key"] for h, _ in attempts} == {event_id}
    for headers, body in attempts:
        assert headers["webhook-id"] == event_id  # a receiver verifies with the standardwebhooks package as is
        assert standardwebhooks.Webhook(sub["secret"]).verify(body, dict(headers))["id"] == event_id
        assert json.loads(body)["id"] == event_id
    listed = (
        await notify.http.get("/v1/deliveries", params={"subscription_id": sub["id"]}, headers=notify.headers)
    ).json()
    delivery = (await notify.http.get(f"/v1/deliveries/{listed['items'][0]['id']}", headers=notify.headers)).json()
    assert delivery["status"] == "delivered"
    assert [a["outcome"] for a in delivery["attempts"]][-1] == "delivered" and delivery["attempts"][0][
        "outcome"
    ] == "retry"


async def _async(value: bool) -> bool:
    return value


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_a_refusing_receiver_lands_in_the_dead_letter_list_and_can_be_replayed(
    notify: Notify, receiver: Receiver
) -> None:
    path = f"/hook-bad-{uuid.uuid4().hex[:4]}"
    receiver.script[path] = ["400"]
    flaky = f"/hook-down-{uuid.uuid4().hex[:4]}"
    receiver.script[flaky] = ["503", "503", "503"]
    bad = await _subscribe(notify, "webhook", receiver.url + path, event_types=["case.assigned"])
    down = await _subscribe(notify, "webhook", receiver.url + flaky, event_types=["case.assigned"])
    case_id = await _case(notify)
    await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)

    async def both_dead() -> bool:
        dead = (await notify.http.get("/v1/deliveries", params={"status": "dead"}, headers=notify.headers)).json()[
            "items"
        ]
        return {d["subscription_id"] for d in dead} >= {bad["id"], down["id"]}

    await _until(both_dead, what="both deliveries in the dead-letter list")
    assert len(receiver.seen[path]) == 1  # a 400 is not retried
    assert len(receiver.seen[flaky]) == 3  # 503 is, up to max_attempts
    dead = (
        await notify.http.get(
            "/v1/deliveries", params={"status": "dead", "subscription_id": down["id"]}, headers=notify.headers
        )
    ).json()
    replay = await notify.http.post(f"/v1/deliveries/{dead['items'][0]['id']}/replay", headers=notify.headers)
    assert replay.status_code == 200
    await _until(lambda: _async(len(receiver.seen[flaky]) == 4), what="the replay")


async def test_a_burst_to_one_person_is_one_message_and_escalations_pass_through(
    notify: Notify, receiver: Receiver
) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    await _subscribe(notify, "sms", phone)
    case_id = await _case(notify)
    receiver.seen["/sms"].clear()
    for n in range(4):
        data = CaseChanged(
            case_id=case_id,
            seq=n + 2,
            action="comment",
            from_state="assigned",
            to_state="assigned",
            actor=Actor(id="x", role="supervisor"),
            detail={"text": f"备注{n}"},
        )
        await _emit(notify, notify.topics.case_events, data, case_id)
    escalate = DeadlineFired(
        case_id=case_id,
        deadline_id=str(uuid.uuid4()),
        kind="accept",
        tier="escalate",
        due_at=datetime.now(UTC),
        assignee="unit:610199004001",
    )
    await _emit(notify, notify.topics.deadlines, escalate, case_id)

    def texts() -> list[str]:
        return [json.loads(b)["text"] for h, b in receiver.seen["/sms"] if json.loads(b)["to"] == phone]

    def escalation(text: str) -> bool:
        return "升级" in text or "超时" in text

    await _until(lambda: _async(any(escalation(t) for t in texts())), what="the escalation SMS")
    # Emitted last, sent first: the escalation went at once, not held by the grouping window.
    assert escalation(texts()[0]), texts()
    await _until(lambda: _async(len(texts()) >= 2), what="the grouped digest")

    async def settled() -> bool:  # every delivery to this phone sent or grouped: no further message can come
        pending = await notify.pool.fetchval(  # type: ignore[attr-defined]
            "SELECT count(*) FROM deliveries WHERE target = $1 AND status = 'pending'", phone
        )
        return bool(pending == 0)

    await _until(settled, what="the burst's deliveries settled")
    assert len(texts()) == 2  # four comments in one burst: one message
    assert "4" in texts()[1] and "13812345678" not in "".join(texts())


async def test_a_rate_ceiling_holds_back_the_third_message_in_an_hour(notify: Notify, receiver: Receiver) -> None:
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    await _subscribe(notify, "sms", phone, event_types=["case.assigned"])

    def sent() -> list[bytes]:
        return [b for _, b in receiver.seen["/sms"] if json.loads(b)["to"] == phone]

    async def state_of(case_id: str) -> str | None:
        row = await notify.pool.fetchrow(  # type: ignore[attr-defined]
            """SELECT status, next_attempt_at > now() + interval '30 minutes' AS held FROM deliveries
               WHERE target = $1 AND case_id = $2::uuid""",
            phone,
            case_id,
        )
        if row is None:
            return None
        return "held" if row["status"] == "pending" and row["held"] else str(row["status"])

    # One at a time, each sent before the next is emitted: separate messages, not one grouped digest.
    for n in range(2):
        case_id = await _case(notify)
        await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)
        await _until(lambda n=n: _async(len(sent()) == n + 1), what=f"message {n + 1} sent")
        await _until(lambda c=case_id: _is(state_of(c), "delivered"), what=f"delivery {n + 1} recorded")
    case_id = await _case(notify)
    await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)
    await _until(lambda: _is(state_of(case_id), "held"), what="the third held back by the ceiling")
    assert len(sent()) == 2  # the ceiling is 2 an hour in this test


async def test_the_lead_unit_stream_gets_the_event(notify: Notify) -> None:
    case_id = await _case(notify, lead="unit:610199004001")
    event_id = await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)

    async def streamed() -> bool:
        return bool(
            await notify.pool.fetchval(  # type: ignore[attr-defined]
                "SELECT count(*) FROM stream_events WHERE unit = 'unit:610199004001' AND event_id = $1", event_id
            )
        )

    await _until(streamed, what="the stream row")
    # The street and the district the case lies in hear of it too: their command centres' consoles stream them.
    areas = await notify.pool.fetch(  # type: ignore[attr-defined]
        "SELECT unit FROM stream_events WHERE event_id = $1 ORDER BY unit", event_id
    )
    assert {"unit:610199004", "unit:610199"} <= {r["unit"] for r in areas}


async def test_subscriptions_are_validated_and_secrets_rotate(notify: Notify) -> None:
    bad = await notify.http.post(
        "/v1/subscriptions", json={"name": "x", "channel": "webhook", "target": "ftp://x"}, headers=notify.headers
    )
    assert bad.status_code == 422
    sub = await _subscribe(notify, "webhook", "https://example.invalid/hook")
    rotated = (await notify.http.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=notify.headers)).json()
    assert rotated["secret"] != sub["secret"] and rotated["rotating"] is True
    assert "secret" not in (await notify.http.get(f"/v1/subscriptions/{sub['id']}", headers=notify.headers)).json()
    assert (await notify.http.get("/v1/subscriptions")).status_code == 401


async def test_a_worker_killed_mid_delivery_leaves_it_to_another(notify: Notify, receiver: Receiver) -> None:
    from datetime import timedelta

    from services.notify.main import channels_of
    from services.notify.worker import DeliveryWorker

    path = f"/hook-resume-{uuid.uuid4().hex[:4]}"
    sub = await _subscribe(notify, "webhook", receiver.url + path, event_types=["case.assigned"])
    case_id = await _case(notify)
    event = new_event(_assigned(case_id), source="/tests", subject=case_id)
    from shared.events import encode

    # What a worker killed mid-send leaves behind: the delivery leased (its attempt counted), never finished.
    now = datetime.now(UTC)
    delivery_id = await notify.pool.fetchval(  # type: ignore[attr-defined]
        """INSERT INTO deliveries (event_id, event_type, case_id, recipient, subscription_id, channel, target, payload,
                                   attempts, next_attempt_at)
           VALUES ($1, $2, $3::uuid, $4, $5::uuid, 'webhook', $6, $7, 1, $8) RETURNING id""",
        event.id,
        event.type.value,
        case_id,
        f"subscription:{sub['id']}",
        sub["id"],
        receiver.url + path,
        encode(event).value,
        now + timedelta(seconds=31),
    )
    await asyncio.sleep(1.0)
    assert receiver.seen[path] == []  # nobody touches it while the lease holds
    later = now + timedelta(seconds=40)  # another worker, after the lease ran out
    settings = NotifySettings(webhook_timeout_s=1.0)
    async with httpx.AsyncClient() as http:
        second = DeliveryWorker(notify.pool, channels_of(settings, http), settings, clock=lambda: later)  # type: ignore[arg-type]
        assert await second.tick() >= 1
    row = await notify.pool.fetchrow("SELECT status, attempts FROM deliveries WHERE id = $1", delivery_id)  # type: ignore[attr-defined]
    assert row["status"] == "delivered" and row["attempts"] == 2
    assert [h["Idempotency-Key"] for h, _ in receiver.seen[path]] == [event.id]


async def test_a_rotation_signs_with_both_secrets_until_the_old_one_is_retired(
    notify: Notify, receiver: Receiver
) -> None:
    """Through the real stack: after rotate-secret both secrets verify; after retire-previous-secret only the new."""
    path = f"/hook-rotate-{uuid.uuid4().hex[:4]}"
    sub = await _subscribe(notify, "webhook", receiver.url + path, event_types=["case.assigned"])
    old = str(sub["secret"])
    new = (await notify.http.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=notify.headers)).json()
    case_id = await _case(notify)
    first = await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)
    await _until(lambda: _async(len(receiver.seen[path]) >= 1), what="the post during the rotation")
    headers, body = receiver.seen[path][0]
    for secret in (old, new["secret"]):
        assert standardwebhooks.Webhook(secret).verify(body, dict(headers))["id"] == first
    retired = await notify.http.post(f"/v1/subscriptions/{sub['id']}/retire-previous-secret", headers=notify.headers)
    assert retired.status_code == 200 and retired.json()["rotating"] is False
    case_id = await _case(notify)
    await _emit(notify, notify.topics.assignments, _assigned(case_id), case_id)
    await _until(lambda: _async(len(receiver.seen[path]) >= 2), what="the post after the retirement")
    headers, body = receiver.seen[path][-1]
    assert standardwebhooks.Webhook(new["secret"]).verify(body, dict(headers))
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old).verify(body, dict(headers))
