"""Every service's /openapi.json, fetched as a client would (in process, no network), is a valid OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from services.escalation.main import create_app as escalation_app
from services.intake.main import create_app as intake_app
from services.notify.main import create_app as notify_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "intake": intake_app,
    "escalation": escalation_app,
    "notify": notify_app,
}


async def fetch_document(app: FastAPI) -> dict[str, Any]:
    """GET /openapi.json through the ASGI transport (no lifespan: documenting needs no broker or database)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("service", sorted(APPS))
async def test_the_served_document_is_valid_openapi(service: str) -> None:
    document = await fetch_document(APPS[service]())
    assert document["openapi"].startswith("3.")
    validate(document)  # raises OpenAPIValidationError naming the first fault
    assert document["paths"], "a document without operations"
    assert "/healthz" in document["paths"] and "/readyz" in document["paths"]


async def test_notify_documents_its_live_stream_as_server_sent_events() -> None:
    document = await fetch_document(notify_app())
    answer = document["paths"]["/v1/streams/{unit}"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]


def test_the_validator_catches_a_broken_document() -> None:
    """The check above can fail: a response without its required description is refused."""
    broken = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {}}}}},
    }
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
