"""/readyz asks the real broker and database, and says which one is missing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.health import standard_checks
from shared.settings import DatabaseSettings, KafkaSettings
from shared.web import health_router


def _client(kafka: KafkaSettings, database: DatabaseSettings) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(health_router(standard_checks(kafka, database)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_ready_when_both_answer(kafka_settings: KafkaSettings, database_settings: DatabaseSettings) -> None:
    async with _client(kafka_settings, database_settings) as client:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["kafka"]["ok"] is True
        assert response.json()["checks"]["postgres"]["ok"] is True
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        metrics = (await client.get("/metrics")).text
        assert 'griddispatch_dependency_up{dependency="kafka"} 1.0' in metrics


async def test_not_ready_names_the_missing_broker(database_settings: DatabaseSettings) -> None:
    async with _client(KafkaSettings(bootstrap_servers="127.0.0.1:1"), database_settings) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["postgres"]["ok"] is True
        assert "127.0.0.1:1" in body["checks"]["kafka"]["error"]


async def test_not_ready_names_the_missing_database(kafka_settings: KafkaSettings) -> None:
    bad = DatabaseSettings(url="postgresql://u:p@127.0.0.1:1/x", connect_timeout_s=1)
    async with _client(kafka_settings, bad) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert "GRIDDISPATCH_DB_URL" in response.json()["checks"]["postgres"]["error"]
        assert response.json()["checks"]["kafka"]["ok"] is True
