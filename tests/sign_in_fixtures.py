"""Intake with a clock the test moves (token expiry, lockouts, idle sessions), and people who sign in to it.

Use from a test module with `from tests.sign_in_fixtures import *`. The app runs its lifespan on the real Kafka and
PostgreSQL, as tests/intake_fixtures.py's does; only the clock is the test's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.intake.main import create_app
from shared.api_clients import create_client
from shared.kafka import ensure_topics
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, AuthSettings, DatabaseSettings, IntakeSettings, KafkaSettings, ServiceSettings
from shared.topics import Topics
from tests.people_rows import PASSWORD, insert_person

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
MICRO_GRID = "unit:610199004001001006"  # where the sample point lies (tests/dispatch_fixtures.POINT)
OTHER_GRID = "unit:610199004002001"  # another grid of the same street


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Signed:
    """Tokens of one sign-in."""

    body: dict[str, Any]

    @property
    def access(self) -> str:
        token: str = self.body["access_token"]
        return token

    @property
    def refresh(self) -> str:
        token: str = self.body["refresh_token"]
        return token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class SignInStack:
    app: FastAPI
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    clock: Clock
    topics: Topics
    kafka: KafkaSettings
    auth: AuthSettings

    async def person(
        self, roles: Iterable[tuple[str, str]] = (("grid_worker", MICRO_GRID),), **kw: Any
    ) -> tuple[str, str]:
        async with self.pool.acquire() as conn:
            return await insert_person(conn, roles=roles, **kw)

    async def sign_in(self, login: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post("/v1/auth/sign-in", json={"login": login, "password": password})

    async def signed(self, login: str, password: str = PASSWORD) -> Signed:
        response = await self.sign_in(login, password)
        assert response.status_code == 200, response.text
        return Signed(response.json())

    async def key(self, *scopes: str, units: tuple[str, ...] = ("*",)) -> dict[str, str]:
        async with self.pool.acquire() as conn:
            _, key = await create_client(conn, name="test system", scopes=scopes, units=units, rate_per_min=10_000)
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
async def stack(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> AsyncIterator[SignInStack]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-s{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    clock = Clock()
    auth = AuthSettings()
    app = create_app(
        kafka, database_settings, ServiceSettings(), IntakeSettings(public_url="http://intake.test"), auth, clock
    )
    async with app.router.lifespan_context(app):
        pool = app.state.resources.pool
        async with pool.acquire() as conn:
            await import_directory(conn, SAMPLE, imported_by="tests")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as http:
            yield SignInStack(app, http, pool, clock, topics, kafka, auth)


__all__ = ["MICRO_GRID", "OTHER_GRID", "PASSWORD", "Clock", "SignInStack", "Signed", "stack"]
