"""One scenario's run: a target stack, its service processes, the load, a fault, the drain and the ledger.

See the package docstring (`chaos/__init__.py`) for the API a scenario uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import asyncpg
import httpx
from aiokafka.errors import KafkaError

from chaos.ledger import Post, Snapshot, Violation, check, gather, summary
from chaos.load import SAMPLE, LoadDriver, LoadSettings
from chaos.receiver import WebhookReceiver
from chaos.supervisor import Supervisor
from shared.queries import cases

RECEIVER_PORT = 18349
Step = Callable[[], Awaitable[None]]
DRAIN_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, KafkaError)


class ExtraCheck(Protocol):
    """A scenario's own check beside the ledger (e.g. chaos.poison.DeadLetterCheck), run in the drain."""

    async def violations(self) -> list[Violation]: ...

    def figures(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class Target:
    bootstrap_servers: str
    db_url: str
    topic_prefix: str = "chaos"


@dataclass
class FaultRecord:
    name: str
    healed_s: float  # from the fault until the heal (restart, SIGCONT) was done
    recovered_s: float | None  # from the fault until every report accepted before the heal was assigned
    notes: dict[str, int] = field(default_factory=dict)  # what the fault measured (e.g. events in flight at a kill)


@dataclass
class Result:
    scenario: str
    counts: dict[str, int]
    violations: list[Violation]
    faults: list[FaultRecord]
    elapsed_s: float
    drain_s: float = 0.0  # from the end of the load until the ledger held
    outcomes: dict[str, int] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)  # the extra checks' (e.g. poison sent, dead letters)

    @property
    def ok(self) -> bool:
        return not self.violations

    def line(self) -> str:
        c = self.counts
        recovered = ", ".join(
            f"{f.name}: healed {f.healed_s:.1f}s, "
            + (f"recovered {f.recovered_s:.1f}s" if f.recovered_s is not None else "NOT recovered")
            + "".join(f" {k}={v}" for k, v in f.notes.items())
            for f in self.faults
        )
        figures = "".join(f" {k}={v}" for k, v in self.figures.items())
        verdict = "PASS" if self.ok else f"FAIL ({len(self.violations)} violations)"
        return (
            f"{self.scenario}: {verdict} accepted={c['accepted']} cases={c['cases']} merged={c['merged']} "
            f"deadlines_fired={c['deadlines_fired']}/{c['deadlines_due']} due "
            f"webhooks_delivered={c['webhooks_delivered']}/{c['webhook_events']} events "
            f"duplicates_seen={c['duplicates_seen']} "
            f"faults=[{recovered}]{figures} drain={self.drain_s:.0f}s elapsed={self.elapsed_s:.0f}s"
        )


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"griddispatch {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result.stdout


class Harness:
    """Setup (registry, API client, webhook subscription, receiver), load, faults, drain and ledger."""

    def __init__(
        self,
        target: Target,
        supervisor: Supervisor,
        load: LoadSettings | None = None,
        receiver_port: int = RECEIVER_PORT,
    ) -> None:
        self.target = target
        self.supervisor = supervisor
        self.load_settings = load or LoadSettings()
        self.receiver = WebhookReceiver(port=receiver_port)
        self.faults: list[FaultRecord] = []
        self.started = time.monotonic()
        self.client_id = ""
        self.subscription_id = ""
        self.driver: LoadDriver | None = None
        self.checks: list[ExtraCheck] = []

    def add_check(self, extra: ExtraCheck) -> None:
        """A check of the scenario's own: the drain waits until it holds too, and its violations fail the run."""
        self.checks.append(extra)

    def prepare_database(self) -> None:
        """Migrations and the sample registry: before the services start (a worker waits for a registry)."""
        _cli(self.supervisor.env, "db", "migrate")
        _cli(self.supervisor.env, "registry", "import", str(SAMPLE), "--by", "chaos")

    def intake_urls(self) -> list[str]:
        return [p.url for p in self.supervisor.of("intake")]

    async def __aenter__(self) -> Harness:
        self.started = time.monotonic()
        created = json.loads(
            _cli(
                self.supervisor.env,
                *("clients", "create", "--name", "chaos load", "--source", "hotline", "--unit", "*"),
                *("--scope", "submit", "--scope", "read", "--scope", "act", "--rate-per-min", "1000000"),
            )
        )
        self.client_id = created["id"]
        await self.receiver.start()
        notify = self.supervisor.of("notify")[0]
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{notify.url}/v1/subscriptions",
                headers={"Authorization": f"Bearer {created['key']}"},
                json={"name": "chaos receiver", "channel": "webhook", "target": self.receiver.url},
            )
        if response.status_code != 201:
            raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")
        self.subscription_id = response.json()["id"]
        self.driver = LoadDriver(
            self.intake_urls, created["key"], self.client_id, self.target.db_url, self.load_settings
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.driver is not None:
            await self.driver.close()
        await self.receiver.stop()

    # --- phases ----------------------------------------------------------------------------------------------

    @property
    def load(self) -> LoadDriver:
        assert self.driver is not None, "use the harness as `async with`"
        return self.driver

    async def load_for(self, seconds: float) -> None:
        self.load.start()
        await asyncio.sleep(seconds)

    async def fault(
        self,
        name: str,
        action: Step,
        heal: Step,
        during_s: float = 5.0,
        recover_s: float = 240,
        notes: dict[str, int] | None = None,
    ) -> None:
        """`action`, load for `during_s`, `heal`; the load runs throughout. Records the time to recover, and
        `notes` (a dict the action may fill, e.g. how many events were in flight at a kill)."""
        self.load.start()
        began = time.monotonic()
        await action()
        await asyncio.sleep(during_s)
        await heal()
        healed = time.monotonic()
        before_heal = set(self.load.accepted)
        recovered = await self._until_assigned(before_heal, began + recover_s)
        record = FaultRecord(name, healed - began, recovered - began if recovered is not None else None)
        record.notes = dict(notes or {})
        self.faults.append(record)

    async def _until_assigned(self, case_ids: set[str], give_up_at: float) -> float | None:
        while time.monotonic() < give_up_at:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn = await asyncpg.connect(self.target.db_url, timeout=5)
                try:
                    done = await cases.count_routed(conn, [uuid.UUID(c) for c in case_ids])
                finally:
                    await conn.close()
                if done == len(case_ids):
                    return time.monotonic()
            await asyncio.sleep(0.5)
        return None

    async def snapshot(self) -> Snapshot:
        conn = await asyncpg.connect(self.target.db_url, timeout=10)
        try:
            return await gather(
                conn,
                self.target.topic_prefix,
                self.client_id,
                self.subscription_id,
                self.load.accepted,
                self.load.unanswered,
                [Post(p.key, p.event_id) for p in self.receiver.posts],
            )
        finally:
            await conn.close()

    async def drain(self, timeout_s: float = 300.0, settle_s: float = 5.0) -> list[Violation]:
        """Stop the load, then wait until the ledger holds (everything dispatched, fired, delivered) twice,
        `settle_s` apart, so that anything late (a paused worker's stale work) shows up. Work that arrives in
        between (a deadline coming due, the sweeper publishing what a killed worker left) is waited for too: what
        is wrong for good stays wrong until the timeout. Returns the last violations."""
        await self.load.stop()
        deadline = time.monotonic() + timeout_s
        violations: list[Violation] = []
        while time.monotonic() < deadline:
            violations = await self._violations_now()
            if not violations:
                await asyncio.sleep(settle_s)
                violations = await self._violations_now()
                if not violations:
                    return []
            await asyncio.sleep(1.0)
        return violations

    async def _violations_now(self) -> list[Violation]:
        try:
            return await self.violations()
        except DRAIN_ERRORS as exc:
            return [Violation("drain", "database or broker", repr(exc))]

    async def violations(self) -> list[Violation]:
        """The ledger's, then each extra check's."""
        found = check(await self.snapshot())
        for extra in self.checks:
            found += await extra.violations()
        return found

    async def check(self, scenario: str, drain_timeout_s: float = 300.0) -> Result:
        began = time.monotonic()
        violations = await self.drain(drain_timeout_s)
        drained = time.monotonic() - began
        snap = await self.snapshot()
        return Result(
            scenario=scenario,
            counts=summary(snap),
            violations=violations,
            faults=self.faults,
            elapsed_s=time.monotonic() - self.started,
            drain_s=drained,
            outcomes=dict(self.load.outcomes),
            figures={k: v for extra in self.checks for k, v in extra.figures().items()},
        )


async def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of a Prometheus counter's samples at `url`/metrics whose labels include `labels`."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] not in (name, f"{name}_total"):
            continue
        if labels and not all(f'{k}="{v}"' in head for k, v in labels.items()):
            continue
        total += float(value)
    return total


def describe(result: Result) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "ok": result.ok,
        **result.counts,
        "drain_s": result.drain_s,
        "elapsed_s": result.elapsed_s,
        "faults": {f.name: {"healed_s": f.healed_s, "recovered_s": f.recovered_s, **f.notes} for f in result.faults},
        "figures": result.figures,
        "violations": [str(v) for v in result.violations[:20]],
        "outcomes": result.outcomes,
    }
