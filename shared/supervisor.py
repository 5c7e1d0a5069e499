"""One supervisor for a service's long-running background work: nothing dies silently.

Each task is a named factory (a coroutine function), so it can be started again. A task that raises, or
returns while the service is not stopping, is logged at ERROR with its traceback, counted
(`griddispatch_task_restarts_total{task}`) and restarted after an exponential back-off; the back-off starts
over once a run has lasted `healthy_after_s`. While a task is down `ready` is false (/readyz answers 503
naming it); a task that failed more than `failure_limit` times within `failure_window_s` makes `healthy`
false too (/healthz answers 503, so an orchestrator restarts the process).

Work that something else schedules (faust's timers and agents) reports each run with `run_once`: a failing
run is logged and counted the same way, and the task reads as down until a run succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.logging import get_logger
from shared.metrics import TASK_RESTARTS, TASK_UP
from shared.settings import SupervisorSettings

log = get_logger(__name__)
Factory = Callable[[], Awaitable[None]]
T = TypeVar("T")


@dataclass(slots=True)
class TaskState:
    """What /readyz shows of one task."""

    name: str
    ok: bool = True
    error: str | None = None
    restarts: int = 0
    failures: deque[float] = field(default_factory=deque)  # monotonic times of recent failures

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "restarts": self.restarts}


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Supervisor:
    """Runs named coroutines until `stop`, restarting each one that ends."""

    def __init__(
        self,
        service: str,
        settings: SupervisorSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.settings = settings or SupervisorSettings()
        self.clock = clock
        self.stopping = asyncio.Event()  # tasks that can finish their current step take this as their stop
        self.states: dict[str, TaskState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, factory: Factory) -> None:
        """Run `factory()` under supervision from now on (a running event loop is needed)."""
        if name in self._tasks:
            raise ValueError(f"task {name!r} is already supervised")
        self._state(name)
        self._tasks[name] = asyncio.get_running_loop().create_task(self._keep(name, factory), name=name)

    async def run_once(self, name: str, work: Callable[[], Awaitable[T]]) -> T | None:
        """One run of work scheduled elsewhere (a timer's body): a failure is recorded and swallowed (None)."""
        state = self._state(name)
        try:
            result = await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded, counted and shown on /readyz; the scheduler runs it again
            self._failed(state, exc)
            return None
        self._up(state)
        return result

    async def stop(self, grace_s: float | None = None) -> None:
        """Let tasks finish their current step for up to `grace_s` (they watch `stopping`), then cancel them."""
        self.stopping.set()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.settings.stop_grace_s if grace_s is None else grace_s)
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("task_failed_at_stop", service=self.service, task=task.get_name(), error=describe(result))

    @property
    def ready(self) -> bool:
        return all(s.ok for s in self.states.values())

    @property
    def healthy(self) -> bool:
        return not self.failing()

    def failing(self) -> list[str]:
        """The tasks that failed more than the limit within the window."""
        now = self.clock()
        return [name for name, s in self.states.items() if self._recent(s, now) > self.settings.failure_limit]

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: state.as_dict() for name, state in sorted(self.states.items())}

    async def _keep(self, name: str, factory: Factory) -> None:
        state = self.states[name]
        delay = self.settings.backoff_initial_s
        while not self.stopping.is_set():
            self._up(state)
            started = self.clock()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the point of a supervisor: logged, counted, restarted
                error: BaseException = exc
            else:
                if self.stopping.is_set():
                    return
                error = RuntimeError("the task returned while the service was running")
            if self.clock() - started >= self.settings.healthy_after_s:
                delay = self.settings.backoff_initial_s  # it ran well for a while: this is a new failure
            self._failed(state, error, restart_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, self.settings.backoff_max_s)

    def _state(self, name: str) -> TaskState:
        state = self.states.get(name)
        if state is None:
            state = self.states[name] = TaskState(name)
            TASK_UP.labels(name).set(1)
            TASK_RESTARTS.labels(name)  # the series exists at 0 before the first failure
        return state

    def _up(self, state: TaskState) -> None:
        state.ok, state.error = True, None
        TASK_UP.labels(state.name).set(1)

    def _failed(self, state: TaskState, exc: BaseException, restart_in_s: float | None = None) -> None:
        now = self.clock()
        state.ok, state.error = False, describe(exc)
        state.restarts += 1
        state.failures.append(now)
        self._recent(state, now)
        TASK_UP.labels(state.name).set(0)
        TASK_RESTARTS.labels(state.name).inc()
        log.error(
            "task_failed",
            service=self.service,
            task=state.name,
            error=state.error,
            restarts=state.restarts,
            restart_in_s=restart_in_s,
            exc_info=exc,
        )
        if len(state.failures) > self.settings.failure_limit:
            log.error(
                "task_failing_repeatedly",
                service=self.service,
                task=state.name,
                failures=len(state.failures),
                window_s=self.settings.failure_window_s,
                message="/healthz now fails, so that the process is restarted",
            )

    def _recent(self, state: TaskState, now: float) -> int:
        while state.failures and now - state.failures[0] > self.settings.failure_window_s:
            state.failures.popleft()
        return len(state.failures)


async def wait_any(timeout_s: float, *events: asyncio.Event) -> None:
    """Sleep up to `timeout_s`, returning as soon as one of `events` is set (a loop's wake-up or its stop)."""
    if any(e.is_set() for e in events):
        return
    loop = asyncio.get_running_loop()
    waiters = [loop.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
