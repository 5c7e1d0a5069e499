"""Every POST, PUT and PATCH operation of every HTTP service answers 413 to a body over its limit, chunked or not.

The operations come from each service's own OpenAPI document, so a route added later is held to it too. The
limit is enforced before routing and authentication, so the apps run without their lifespan (no broker, no
database); tests/integration/test_request_limits.py sends the same bodies to a served intake on the real stack.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.escalation.main import create_app as escalation_app
from services.intake.main import UPLOAD_OVERHEAD
from services.intake.main import create_app as intake_app
from services.intake.uploads import UPLOAD_PATHS
from services.notify.main import create_app as notify_app
from shared.settings import AttachmentSettings, IntakeSettings, NotifySettings

LIMITS = {"intake": IntakeSettings().max_body_bytes, "notify": NotifySettings().max_body_bytes}
APPS: dict[str, Callable[[], FastAPI]] = {"intake": intake_app, "notify": notify_app, "escalation": escalation_app}
OVERSIZE = 8 * 1024 * 1024
PHOTO_LIMIT = AttachmentSettings().max_bytes + UPLOAD_OVERHEAD  # a photo upload's multipart body
PATH_VALUES = {"fmt": "json"}  # a path parameter not named here gets a UUID (ids of cases, subscriptions)


def operations(service: str) -> list[tuple[str, str, str]]:
    """(method, concrete path, content type) of every operation that may carry a body."""
    document = APPS[service]().openapi()
    found = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method in ("post", "put", "patch"):
                media = next(iter(op.get("requestBody", {}).get("content", {})), "application/json")
                concrete = re.sub(
                    r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "3f1c8a52-9f5e-4e8e-9d43-6c1d2e0b7a11"), path
                )
                found.append((method.upper(), concrete, media))
    return found


CASES = [(service, *op) for service in ("intake", "notify") for op in operations(service)]


def test_the_operations_that_take_bodies_are_all_here() -> None:
    paths = {(s, m, p) for s, m, p, _ in CASES}
    assert ("intake", "POST", "/v1/reports") in paths
    assert ("intake", "POST", "/v1/cases/3f1c8a52-9f5e-4e8e-9d43-6c1d2e0b7a11/actions") in paths
    assert ("intake", "POST", "/open311/v2/requests.json") in paths
    assert ("notify", "POST", "/v1/subscriptions") in paths
    assert ("notify", "PATCH", "/v1/subscriptions/3f1c8a52-9f5e-4e8e-9d43-6c1d2e0b7a11") in paths
    assert operations("escalation") == []  # escalation takes no bodies; one added must join CASES


async def _chunks(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"name": "'
    for _ in range(total // chunk):
        yield b"x" * chunk
    yield b'"}'


def limit_of(service: str, path: str, media: str) -> tuple[int, str]:
    """The body limit of an operation and the problem that names it: photo uploads have their own."""
    if service == "intake" and path in UPLOAD_PATHS and media == "multipart/form-data":
        return PHOTO_LIMIT, "attachment_too_large"
    return LIMITS[service], "payload_too_large"


def _assert_413(response: httpx.Response, limit: int, code: str = "payload_too_large") -> None:
    assert response.status_code == 413, (response.request.method, response.request.url, response.text[:300])
    if response.request.url.path.startswith("/open311/"):  # GeoReport v2's own error list, for its clients
        assert response.headers["content-type"].startswith("application/json")
        (error,) = response.json()
        assert error["code"] == 413 and str(limit) in error["description"]
        return
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://griddispatch.dev/problems/{code}"
    assert body["max_bytes"] == limit and body["instance"] == response.request.url.path


@pytest.mark.parametrize(("service", "method", "path", "media"), CASES)
async def test_an_oversize_body_is_413_chunked_or_declared(service: str, method: str, path: str, media: str) -> None:
    transport = httpx.ASGITransport(app=APPS[service]())
    limit, code = limit_of(service, path, media)
    oversize = max(OVERSIZE, limit + 1024 * 1024)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        chunked = await http.request(method, path, content=_chunks(oversize), headers={"Content-Type": media})
        assert "content-length" not in chunked.request.headers
        _assert_413(chunked, limit, code)
        declared = await http.request(method, path, content=b"x" * oversize, headers={"Content-Type": media})
        assert declared.request.headers["content-length"] == str(oversize)
        _assert_413(declared, limit, code)
        just_over = await http.request(
            method, path, content=_chunks(limit + 64 * 1024), headers={"Content-Type": media}
        )
        _assert_413(just_over, limit, code)


async def test_the_limit_is_the_configured_one() -> None:
    app = notify_app(notify=NotifySettings(max_body_bytes=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n.test") as http:
        response = await http.post(
            "/v1/subscriptions", content=b"x" * 1001, headers={"Content-Type": "application/json"}
        )
        _assert_413(response, 1000)
        fits = await http.post("/v1/subscriptions", content=b"x" * 1000, headers={"Content-Type": "application/json"})
        assert fits.status_code != 413  # past the limit check: refused later (no key), not for its size
