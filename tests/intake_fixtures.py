"""Fixtures for the intake service: the real app (lifespan and all) on the real Kafka and PostgreSQL.

Use from a test module with `from tests.intake_fixtures import *` (pytest picks up the fixtures).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.intake.main import create_app
from shared.api_clients import ApiClient, create_client
from shared.events import CloudEvent, decode
from shared.kafka import ensure_topics, kafka_consumer
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, IntakeSettings, KafkaSettings, ServiceSettings
from shared.topics import Topics

SAMPLE = PROJECT_ROOT / "data" / "sample-district"


@dataclass(frozen=True)
class Caller:
    """An API client of the intake service and its key."""

    client: ApiClient
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class IntakeUnderTest:
    app: FastAPI
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    topics: Topics
    kafka: KafkaSettings
    database: DatabaseSettings

    async def caller(
        self,
        *scopes: str,
        units: tuple[str, ...] = ("*",),
        source: str | None = "hotline",
        rate_per_min: int = 10_000,
        name: str = "test client",
    ) -> Caller:
        async with self.pool.acquire() as conn:
            client, key = await create_client(
                conn, name=name, scopes=scopes, units=units, source=source, rate_per_min=rate_per_min
            )
        return Caller(client, key)


@pytest.fixture(scope="module")
async def intake(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[IntakeUnderTest]:
    """The intake app with its own topic prefix, on the session's migrated database with the sample registry."""
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    app = create_app(kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://intake.test"))
    async with app.router.lifespan_context(app):
        pool = app.state.resources.pool
        async with pool.acquire() as conn:
            await import_directory(conn, SAMPLE, imported_by="tests")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as http:
            yield IntakeUnderTest(app, http, pool, topics, kafka, database_settings)


async def events_for(kafka: KafkaSettings, topic: str, key: str, settle_s: float = 2.0) -> list[CloudEvent[Any]]:
    """Every event on the topic with this key, reading until nothing new arrives for `settle_s`."""
    found: list[CloudEvent[Any]] = []
    async with kafka_consumer(kafka, topic, group_id=None) as consumer:
        while True:
            batch = await consumer.getmany(timeout_ms=int(settle_s * 1000))
            if not batch:
                return found
            for records in batch.values():
                found.extend(decode(r.value) for r in records if r.key == key.encode())
