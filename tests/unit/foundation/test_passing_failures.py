"""A request that meets a passing infrastructure failure answers 503 with Retry-After, never 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnsupportedVersionError
from fastapi import FastAPI

from shared.retriable import as_unavailable
from shared.web import install_problem_handlers

FAILURES = {
    "interface": asyncpg.InterfaceError("connection is closed"),
    "internal": asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    "shutdown": asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    "kafka-connection": KafkaConnectionError("No connection to node"),
    "kafka-timeout": KafkaTimeoutError(),
    "reset": ConnectionResetError("reset by peer"),
}


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fail/{name}")
    async def fail(name: str) -> None:
        if name == "bug":
            raise UnsupportedVersionError("not retriable")
        raise FAILURES[name]

    return app


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_a_passing_failure_is_a_503_problem_with_retry_after(name: str) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(f"/fail/{name}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    body = response.json()
    assert body["status"] == 503 and body["type"].endswith("unavailable")


async def test_a_kafka_error_that_is_not_retriable_stays_a_500() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/fail/bug")
    assert response.status_code == 500


def test_a_bug_is_not_called_passing() -> None:
    assert as_unavailable(ValueError("a bug")) is None
    assert as_unavailable(KeyError("x")) is None
