"""Every service's /openapi.json, fetched as a client would (in process, no network), is a valid OpenAPI document
(openapi-spec-validator), names its operations as people would, says where it is served, and documents request
validation's 422 as the application/problem+json the services really send."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel, Field

from services.escalation.main import create_app as escalation_app
from services.intake.main import create_app as intake_app
from services.notify.main import create_app as notify_app
from shared.openapi_doc import camel_case, document_validation_as_problems, operation_ids
from shared.settings import OidcSettings
from shared.web import PROBLEM_JSON, install_problem_handlers

APPS: dict[str, Callable[[], FastAPI]] = {
    "intake": intake_app,
    "escalation": escalation_app,
    "notify": notify_app,
    # the single sign-on routes exist only when it is configured
    "intake+sso": lambda: intake_app(
        single_sign_on=OidcSettings(issuer="https://sso.example.test/realm", client_secret="s")
    ),
}
HUMAN = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)*$")  # camelCase words: submitReport, listCases
FASTAPI_DEFAULT = re.compile(r"_(get|post|put|patch|delete)$|_v1_|__")  # post_report_v1_reports_post


class Thing(BaseModel):
    name: str = Field(min_length=1)


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)]


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


@pytest.mark.parametrize("service", sorted(APPS))
async def test_operation_ids_are_unique_human_names(service: str) -> None:
    ids = [op.get("operationId", "") for op in operations(await fetch_document(APPS[service]()))]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    odd = [i for i in ids if not HUMAN.match(i) or FASTAPI_DEFAULT.search(i) or len(i) > 40]
    assert not odd, f"not human operationIds (name them in services/<service>/operation_ids.py): {odd}"
    assert {"checkLiveness", "checkReadiness", "getMetrics"} <= set(ids)


async def test_the_main_operations_have_the_names_clients_use() -> None:
    intake = {op["operationId"] for op in operations(await fetch_document(intake_app()))}
    assert {"submitReport", "listCases", "getCase", "actOnCase", "open311SubmitRequest"} <= intake
    notify = {op["operationId"] for op in operations(await fetch_document(notify_app()))}
    assert {"createSubscription", "listSubscriptions", "deleteSubscription", "streamUnitEvents"} <= notify


def test_a_route_added_later_is_named_from_its_function() -> None:
    name = operation_ids({"create": "createThing"})
    app = FastAPI(generate_unique_id_function=name)

    @app.get("/v1/things/{thing_id}/parts")
    async def list_thing_parts(thing_id: int) -> list[int]:
        return [thing_id]

    @app.post("/v1/things")
    async def create() -> int:
        return 1

    assert [op["operationId"] for op in operations(app.openapi())] == ["listThingParts", "createThing"]
    assert camel_case("get_on_duty") == "getOnDuty"


@pytest.mark.parametrize("service", sorted(APPS))
async def test_the_document_says_where_the_service_is_served(service: str) -> None:
    servers = (await fetch_document(APPS[service]()))["servers"]
    assert servers and all(re.match(r"^https?://[^/]+", s["url"]) and s["description"] for s in servers)


@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_422_is_documented_as_a_problem(service: str) -> None:
    document = await fetch_document(APPS[service]())
    answers = [op["responses"]["422"] for op in operations(document) if "422" in op["responses"]]
    assert all(list(a["content"]) == [PROBLEM_JSON] for a in answers)
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})
    if service != "escalation":
        assert answers, "no operation documents its 422"


async def test_the_documented_422_is_what_a_service_sends() -> None:
    """A route with no `responses` of its own: its 422, documented by FastAPI as HTTPValidationError, is
    rewritten to the Problem the shared handlers send, and the answer validates against that schema."""
    app = FastAPI(generate_unique_id_function=operation_ids({}))
    install_problem_handlers(app)
    document_validation_as_problems(app)

    @app.post("/v1/things", status_code=201)
    async def create_thing(thing: Thing) -> Thing:
        return thing

    documented = app.openapi()["paths"]["/v1/things"]["post"]["responses"]["422"]["content"]
    assert list(documented) == [PROBLEM_JSON]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as http:
        response = await http.post("/v1/things", json={"name": ""})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    Draft202012Validator(documented[PROBLEM_JSON]["schema"]).validate(response.json())
    assert response.json()["field"] == "name"
