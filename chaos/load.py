"""Steady open-loop load through intake: reports at a fixed rate, accepts, and deadlines brought due.

Open loop: a report is sent at its scheduled time whether or not earlier ones were answered. Each report has an
Idempotency-Key of its own and is retried, with that key, on another intake process after a connection error,
a timeout or a 5xx (a client behind a load balancer does just that) until it is accepted or `give_up_s` passes.

Every few seconds the driver looks at the cases it caused: some it accepts (an action through intake), for some
it lets time pass (their accept-by deadline is moved to now, as the e2e tests do), so deadlines fire,
escalations re-route and webhooks go out while the faults happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from shared.domain.lifecycle import DueKind
from shared.domain.model import Level
from shared.queries import cases, deadlines
from shared.registry_files.load import load_directory
from shared.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
CASE_NAMESPACE = uuid.UUID("5b0f7d1e-3c59-4f7a-9a35-6f1b0f1c2d71")  # intake's: case id = f(client, key)
TEXTS = (
    ("路灯不亮", "小区门口路灯坏了"),
    ("垃圾没人清运", "垃圾堆了三天"),
    ("噪音扰民", "夜间施工"),
    ("井盖丢了", "路口井盖不见了"),
    ("占道经营", "门口摆摊"),
    ("楼道堆物", "楼道堆满杂物"),
)
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class LoadSettings:
    rate_per_s: float = 3.0
    accept_share: float = 0.3  # of new cases: accepted by their lead
    overdue_share: float = 0.3  # of new cases: their accept-by deadline falls due now
    act_every_s: float = 2.0
    give_up_s: float = 180.0
    request_timeout_s: float = 10.0
    seed: int = 8


@dataclass
class Burst:
    """A flood of reports (`LoadDriver.burst`): the case ids intake accepted so far, and its requests."""

    count: int
    accepted: set[str] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(t.done() for t in self.tasks)


@dataclass
class LoadDriver:
    intake_urls: Callable[[], Sequence[str]]
    api_key: str
    client_id: str
    db_url: str
    settings: LoadSettings = field(default_factory=LoadSettings)
    accepted: dict[str, float] = field(default_factory=dict)  # case id -> monotonic time of the 202
    unanswered: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)  # every HTTP answer or error, by status
    accepted_actions: int = 0
    overdue_cases: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rnd = random.Random(self.settings.seed)
        registry = load_directory(SAMPLE).registry
        self._points = [u.boundary.representative_point() for u in registry.units_at(Level.MICRO_GRID)]
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._handled: set[str] = set()
        self._rr = 0
        self._http = httpx.AsyncClient(
            timeout=self.settings.request_timeout_s,
            headers={"Authorization": f"Bearer {self.api_key}"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin the steady load (reports and actions), in the background."""
        if not self._loops:
            self._loops = [asyncio.create_task(self._submit_loop()), asyncio.create_task(self._act_loop())]

    async def stop(self) -> None:
        """Stop sending new work, and wait for every report in flight to be answered or given up."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.stop()
        await self._http.aclose()

    # --- reports ---------------------------------------------------------------------------------------------

    async def _submit_loop(self) -> None:
        interval = 1.0 / self.settings.rate_per_s
        next_at = time.monotonic()
        while True:
            task = asyncio.create_task(self._submit_one())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _report(self) -> dict[str, Any]:
        point = self._rnd.choice(self._points)
        title, text = self._rnd.choice(TEXTS)
        return {"title": title, "description": text, "location": {"lon": point.x, "lat": point.y}}

    def _next_url(self) -> str:
        urls = list(self.intake_urls())
        self._rr += 1
        return urls[self._rr % len(urls)]

    async def _post(self, path: str, body: dict[str, Any], key: str, give_up_at: float) -> httpx.Response | None:
        """POST with the same Idempotency-Key until a final answer; None when giving up without one."""
        delay = 0.2
        while time.monotonic() < give_up_at:
            try:
                response = await self._http.post(self._next_url() + path, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                self.outcomes[type(exc).__name__] += 1
            else:
                self.outcomes[str(response.status_code)] += 1
                if response.status_code not in RETRY_STATUSES:
                    return response
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        return None

    async def _submit_one(self, into: set[str] | None = None) -> None:
        key = f"chaos-{uuid.uuid4()}"
        response = await self._post("/v1/reports", self._report(), key, time.monotonic() + self.settings.give_up_s)
        if response is None:
            self.unanswered.add(str(uuid.uuid5(CASE_NAMESPACE, f"key:{self.client_id}:{key}")))
        elif response.status_code in (200, 201, 202):
            case_id = response.json()["case_id"]
            self.accepted[case_id] = time.monotonic()
            if into is not None:
                into.add(case_id)

    def burst(self, count: int, concurrency: int = 32) -> Burst:
        """`count` reports at once, beside the steady load (`concurrency` in flight at a time): a flood that
        queues up in front of dispatch. Same keys, retries and bookkeeping as the steady reports; `stop()`
        waits for them too."""
        flood = Burst(count)
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await self._submit_one(flood.accepted)

        for _ in range(count):
            task = asyncio.create_task(one())
            self._tasks.add(task)
            flood.tasks.append(task)
            task.add_done_callback(self._tasks.discard)
        return flood

    async def in_flight(self) -> int:
        return len(self._tasks)

    # --- actions and time ------------------------------------------------------------------------------------

    async def _act_loop(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                await asyncio.sleep(self.settings.act_every_s)
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self.db_url, timeout=5)
                    await self._act(conn)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                    self.outcomes["act_db_error"] += 1
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.terminate()
                    conn = None
        finally:
            if conn is not None and not conn.is_closed():
                conn.terminate()

    async def _act(self, conn: asyncpg.Connection) -> None:
        fresh = [c for c in self.accepted if c not in self._handled]
        if not fresh:
            return
        rows = await cases.assigned_leads(conn, [uuid.UUID(c) for c in fresh])
        due: list[uuid.UUID] = []
        accepts = []
        for row in rows:
            case_id = str(row["case_id"])
            self._handled.add(case_id)
            draw = self._rnd.random()
            if draw < self.settings.accept_share:
                accepts.append((case_id, row["lead"]))
            elif draw < self.settings.accept_share + self.settings.overdue_share:
                due.append(row["case_id"])
        if due:  # time passes for these: their accept-by falls due now, escalation fires it
            # every escalation worker wakes and they share the firing
            await deadlines.fall_due_now(conn, due, DueKind.ACCEPT)
            self.overdue_cases.update(str(c) for c in due)
        for case_id, lead in accepts:
            task = asyncio.create_task(self._accept(case_id, lead))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _accept(self, case_id: str, lead: str) -> None:
        body = {"action": "accept", "actor": {"id": "chaos-worker", "unit": lead}}
        key = f"chaos-accept-{case_id}"
        response = await self._post(
            f"/v1/cases/{case_id}/actions", body, key, time.monotonic() + self.settings.give_up_s
        )
        if response is not None and response.status_code == 202:
            self.accepted_actions += 1
        else:
            self.outcomes["accept_refused"] += 1
