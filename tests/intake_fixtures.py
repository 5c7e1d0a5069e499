"""Fixtures for the intake service: the real app (lifespan and all) on the real Kafka and PostgreSQL.

Use from a test module with `from tests.intake_fixtures import *` (pytest picks up the fixtures).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
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


async def records_of(
    kafka: KafkaSettings, topic: str, settle_s: float = 2.0, timeout_s: float = 120.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on the topic: all that it held when called, then whatever else arrives until nothing new
    has for `settle_s`.

    The first part is read up to the partitions' end offsets, however long the first fetch takes (on a loaded
    machine it can take over 2 s, and "nothing for 2 s" then returned nothing at all); `settle_s` only bounds
    the wait for records still on their way.
    """
    found: list[ConsumerRecord[bytes, bytes]] = []

    def keep(batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for records in batch.values():
            found.extend(records)

    async with kafka_consumer(kafka, topic, group_id=None) as consumer:
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():  # every partition, once the consumer has the topic's metadata
            assert time.monotonic() < deadline, f"the broker does not describe {topic}"
            keep(await consumer.getmany(timeout_ms=200))
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            assert time.monotonic() < deadline, f"{topic} not read to its end in {timeout_s} s"
            keep(await consumer.getmany(*tps, timeout_ms=1000))
        while batch := await consumer.getmany(*tps, timeout_ms=int(settle_s * 1000)):
            keep(batch)
    return found


async def events_for(kafka: KafkaSettings, topic: str, key: str, settle_s: float = 2.0) -> list[CloudEvent[Any]]:
    """Every event on the topic with this key (read as `records_of` reads)."""
    return [decode(r.value) for r in await records_of(kafka, topic, settle_s) if r.key == key.encode()]
