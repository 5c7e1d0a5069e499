"""Readiness: each dependency is checked for real (a metadata request, a query), concurrently, with a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from shared.db import check_database
from shared.errors import GridDispatchError
from shared.kafka import check_broker
from shared.metrics import DEPENDENCY_CHECK_SECONDS, DEPENDENCY_UP
from shared.settings import DatabaseSettings, KafkaSettings
from shared.supervisor import Supervisor

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    error: str | None = None
    seconds: float = 0.0


def standard_checks(kafka: KafkaSettings, database: DatabaseSettings) -> dict[str, Check]:
    """The checks every service needs: the broker and the database."""
    return {
        "kafka": lambda: check_broker(kafka, timeout_s=3.0),
        "postgres": lambda: check_database(database),
    }


async def run_checks(checks: Mapping[str, Check], timeout_s: float = 5.0) -> dict[str, CheckResult]:
    async def one(name: str, check: Check) -> tuple[str, CheckResult]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout_s)
            result = CheckResult(ok=True)
        except TimeoutError:
            result = CheckResult(ok=False, error=f"{name} did not answer within {timeout_s:.0f}s")
        except GridDispatchError as exc:
            result = CheckResult(ok=False, error=exc.message)
        elapsed = time.perf_counter() - started
        DEPENDENCY_CHECK_SECONDS.labels(name).observe(elapsed)
        DEPENDENCY_UP.labels(name).set(1 if result.ok else 0)
        return name, CheckResult(result.ok, result.error, round(elapsed, 4))

    pairs = await asyncio.gather(*(one(n, c) for n, c in checks.items()))
    return dict(pairs)


def tasks_part(supervisor: Supervisor | None) -> tuple[bool, dict[str, dict[str, object]]]:
    """Whether every background task runs, and each one's state, for /readyz's `tasks`."""
    if supervisor is None:
        return True, {}
    return supervisor.ready, supervisor.report()


def liveness(supervisor: Supervisor | None) -> tuple[int, dict[str, object]]:
    """/healthz: 200 while the process lives, 503 once a background task keeps dying (restart the process)."""
    failing = supervisor.failing() if supervisor is not None else []
    if not failing:
        return 200, {"status": "ok"}
    assert supervisor is not None
    limit = supervisor.settings
    return 503, {
        "status": "failing",
        "detail": f"{', '.join(failing)} failed more than {limit.failure_limit} times in {limit.failure_window_s:g}s",
        "tasks": supervisor.report(),
    }
