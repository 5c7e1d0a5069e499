"""shared/body_limit.py on a real uvicorn server: 413 for a body over the limit, declared or chunked."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import BaseModel

from shared.body_limit import BodyLimit
from shared.web import install_problem_handlers

LIMIT = 64 * 1024


class Note(BaseModel):
    text: str


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/notes")
    async def post(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.put("/notes/{n}")
    async def put(n: int, note: Note) -> dict[str, int]:
        return {"n": n, "length": len(note.text)}

    @app.get("/notes")
    async def get() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, max_bytes=LIMIT)
    return app


def chunked(text_bytes: int, chunk: int = 16 * 1024) -> AsyncIterator[bytes]:
    """A JSON body of about `text_bytes`, sent in chunks without a Content-Length."""

    async def body() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        left = text_bytes
        while left > 0:
            yield b"a" * min(chunk, left)
            left -= chunk
        yield b'"}'

    return body()


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    """The app on a real uvicorn server, on a port the kernel picks."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(), log_config=None, access_log=False, lifespan="off")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    for _ in range(200):
        if uv.started:
            break
        await asyncio.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def assert_too_large(response: httpx.Response, path: str) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://griddispatch.dev/problems/payload_too_large"
    assert body["status"] == 413 and body["max_bytes"] == LIMIT and body["instance"] == path
    assert str(LIMIT) in body["detail"]


JSON = {"Content-Type": "application/json"}


def refused(framing: str) -> float:
    value = REGISTRY.get_sample_value("griddispatch_http_bodies_too_large_total", {"framing": framing})
    return value or 0.0


@pytest.mark.parametrize("size", [LIMIT + 1, 8 * 1024 * 1024])
async def test_a_chunked_body_over_the_limit_is_413(server: str, size: int) -> None:
    before = refused("streamed")
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        response = await http.post("/notes", content=chunked(size), headers=JSON)
        assert "content-length" not in response.request.headers  # it really went chunked
        assert_too_large(response, "/notes")
        put = await http.put("/notes/3", content=chunked(size), headers=JSON)
        assert_too_large(put, "/notes/3")
    assert refused("streamed") == before + 2


async def test_a_declared_body_over_the_limit_is_413(server: str) -> None:
    before = refused("declared")
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        response = await http.post("/notes", json={"text": "a" * (8 * 1024 * 1024)})
        assert int(response.request.headers["content-length"]) > LIMIT
        assert_too_large(response, "/notes")
    assert refused("declared") == before + 1


async def test_a_lying_content_length_is_counted(server: str) -> None:
    """A client that declares a small body and sends a big one is caught by the count, not the header."""
    app = make_app()
    body = b'{"text": "' + b"a" * (LIMIT * 2) + b'"}'
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/notes",
        "raw_path": b"/notes",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"20")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413


async def test_bodies_within_the_limit_pass_whole(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        streamed = await http.post("/notes", content=chunked(LIMIT - 100, chunk=1000), headers=JSON)
        assert streamed.status_code == 200 and streamed.json() == {"length": LIMIT - 100}
        declared = await http.post("/notes", json={"text": "字" * 1000})
        assert declared.status_code == 200 and declared.json() == {"length": 1000}
        assert (await http.get("/notes")).json() == {"status": "ok"}


async def test_over_the_limit_through_the_asgi_transport_too() -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert_too_large(await http.post("/notes", content=chunked(LIMIT * 3), headers=JSON), "/notes")
        ok = await http.post("/notes", content=chunked(10), headers=JSON)
        assert ok.status_code == 200 and ok.json() == {"length": 10}


async def test_past_the_drain_the_connection_is_closed() -> None:
    """A body that never ends is not read for ever: past the drain allowance the server stops listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app: Any = BodyLimit(make_app(), max_bytes=LIMIT, drain_bytes=LIMIT)
    uv = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if uv.started:
                break
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        total, sent = 256 * 1024 * 1024, 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal sent
            while sent < total:
                sent += 64 * 1024
                yield b"a" * (64 * 1024)

        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            try:
                response = await http.post("/notes", content=endless(), headers=JSON)
            except httpx.TransportError:
                pass  # cut off mid-body: what a client that writes before it reads sees
            else:
                assert_too_large(response, "/notes")
        assert sent < total / 4, f"the server read {sent} bytes of a body over its limit"
    finally:
        uv.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
