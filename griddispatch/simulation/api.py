"""The intake HTTP API as the simulation's hotline, apps, cameras, units and command centre call it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 0: no answer (connection error, timeout)
    body: dict[str, Any]
    latency_s: float
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in (200, 202)


class IntakeApi:
    """Thin calls on an `httpx.AsyncClient` whose base URL is intake; never raises for an HTTP error."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _call(self, method: str, path: str, key: str, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        started = time.perf_counter()
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            return Answer(0, {"detail": f"{type(exc).__name__}: {exc}"}, time.perf_counter() - started)
        latency = time.perf_counter() - started
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:200]}
        retry = response.headers.get("Retry-After")
        return Answer(
            response.status_code,
            body if isinstance(body, dict) else {"items": body},
            latency,
            float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
        )

    async def submit(self, key: str, body: dict[str, Any], idempotency_key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self._call("POST", "/v1/reports", key, json=body, headers=headers)

    async def case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", f"/v1/cases/{case_id}", key)

    async def act(self, key: str, case_id: str, body: dict[str, Any], idempotency_key: str) -> Answer:
        return await self._call(
            "POST", f"/v1/cases/{case_id}/actions", key, json=body, headers={"Idempotency-Key": idempotency_key}
        )
