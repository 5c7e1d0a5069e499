"""What every FastAPI service's OpenAPI document says the same way: operationIds with human names, the server
it answers on, and request validation's 422 as the application/problem+json the handlers really send.

Each service passes `operation_ids(...)` as FastAPI's `generate_unique_id_function`, once, so a route added later
is named without anyone remembering to: its endpoint function's name in camelCase (`get_roster` -> `getRoster`),
or the service's own name for it where the function's alone would be vague (`create` -> `createSubscription`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.web import PROBLEM_JSON, Problem

# The routes every service has (shared.web.health_router).
SHARED_OPERATION_IDS: Mapping[str, str] = {
    "healthz": "checkLiveness",
    "readyz": "checkReadiness",
    "metrics": "getMetrics",
}


def camel_case(name: str) -> str:
    """`get_on_duty` -> `getOnDuty`."""
    first, *rest = [p for p in name.split("_") if p]
    return first + "".join(p[:1].upper() + p[1:] for p in rest)


def operation_ids(names: Mapping[str, str]) -> Callable[[APIRoute], str]:
    """FastAPI's generate_unique_id_function: `names[endpoint name]`, else the endpoint's name in camelCase."""
    table = {**SHARED_OPERATION_IDS, **names}

    def operation_id(route: APIRoute) -> str:
        return table.get(route.name) or camel_case(route.name)

    return operation_id


def servers(url: str, description: str) -> list[dict[str, str]]:
    """The document's `servers`: where this instance is reached (its public URL when one is configured)."""
    return [{"url": url.rstrip("/") or "/", "description": description}]


def document_validation_as_problems(app: FastAPI) -> None:
    """FastAPI documents a route's 422 as `application/json` `HTTPValidationError`; every service sends it as a
    Problem (shared.web.install_problem_handlers), so the document says that, for routes added later too."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        problem = {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                answer = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
                if answer is not None and PROBLEM_JSON not in answer.get("content", {}):
                    answer["content"] = problem
                    answer["description"] = "invalid input: the problem's `field` names it, `errors` lists each"
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
            rest = (
                {k: v for k, v in document.items() if k != "components"},
                {k: v for k, v in schemas.items() if k != unused},
            )
            if f'"#/components/schemas/{unused}"' not in json.dumps(rest):
                schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
