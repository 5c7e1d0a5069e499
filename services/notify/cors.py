"""CORS for the live streams only: the intake console (another origin) reads them from the browser.

Every other route of notify stays same-origin: a browser page elsewhere cannot call the subscription API.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

STREAMS_PREFIX = "/v1/streams/"


class StreamCors:
    """Answers CORS (preflight included) for GET /v1/streams/*, for the listed origins; passes the rest through."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET"],
            allow_headers=["Authorization", "X-API-Key", "Last-Event-ID", "Cache-Control"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(STREAMS_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
