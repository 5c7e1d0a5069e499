"""A webhook receiver that records every delivery: its Idempotency-Key and the CloudEvent id it carried."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    key: str
    event_id: str
    event_type: str
    subject: str


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    posts: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/chaos"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.posts.append(
            Received(
                key=request.headers.get("Idempotency-Key", ""),
                event_id=str(body.get("id", "")),
                event_type=str(body.get("type", "")),
                subject=str(body.get("subject", "")),
            )
        )
        return web.Response(status=200)

    def keys(self) -> Counter[str]:
        return Counter(p.key for p in self.posts)

    def duplicates(self) -> int:
        """Posts beyond the first with the same key: at-least-once redeliveries a receiver drops."""
        return len(self.posts) - len(self.keys())
