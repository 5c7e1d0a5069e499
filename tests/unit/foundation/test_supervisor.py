"""The supervisor: a task that ends is logged, counted, shown as down and restarted with back-off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from shared.health import liveness, tasks_part
from shared.settings import SupervisorSettings
from shared.supervisor import Supervisor, wait_any

FAST = SupervisorSettings(
    backoff_initial_s=0.05, backoff_max_s=0.2, healthy_after_s=0.5, failure_limit=3, failure_window_s=30
)


def restarts(task: str) -> float:
    return REGISTRY.get_sample_value("griddispatch_task_restarts_total", {"task": task}) or 0.0


def up(task: str) -> float | None:
    return REGISTRY.get_sample_value("griddispatch_task_up", {"task": task})


async def until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_crash_is_logged_counted_shown_and_restarted() -> None:
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(time.monotonic())
        if len(runs) <= 2:
            raise ValueError(f"boom {len(runs)}")
        await asyncio.Event().wait()  # the third run stays up

    supervisor = Supervisor("test", FAST)
    before = restarts("flaky")
    with capture_logs() as logs:
        supervisor.start("flaky", flaky)
        await until(lambda: len(runs) >= 1 and not supervisor.ready)
        assert tasks_part(supervisor)[1]["flaky"]["ok"] is False
        assert "ValueError: boom" in str(tasks_part(supervisor)[1]["flaky"]["error"])
        assert up("flaky") == 0
        await until(lambda: len(runs) == 3 and supervisor.ready)
        await supervisor.stop(grace_s=0.1)
    failed = [e for e in logs if e["event"] == "task_failed"]
    assert [e["log_level"] for e in failed] == ["error", "error"]
    assert {e["task"] for e in failed} == {"flaky"}
    assert all(isinstance(e["exc_info"], ValueError) for e in failed)  # rendered as a traceback by format_exc_info
    assert restarts("flaky") - before == 2
    assert supervisor.report()["flaky"] == {"ok": True, "error": None, "restarts": 2}
    assert [e["restart_in_s"] for e in failed] == [0.05, 0.1]  # the back-off doubles
    assert runs[1] - runs[0] >= 0.05 and runs[2] - runs[1] >= 0.1  # and is waited


async def test_a_task_that_returns_while_running_is_a_failure() -> None:
    calls = 0

    async def returns() -> None:
        nonlocal calls
        calls += 1

    supervisor = Supervisor("test", FAST)
    with capture_logs() as logs:
        supervisor.start("returns", returns)
        await until(lambda: calls >= 2)
    await supervisor.stop()
    assert "returned while the service was running" in logs[0]["error"]
    assert supervisor.report()["returns"]["restarts"] >= 1


async def test_a_task_that_keeps_dying_fails_healthz_and_the_back_off_is_bounded() -> None:
    runs: list[float] = []

    async def dies() -> None:
        runs.append(time.monotonic())
        raise RuntimeError("always")

    supervisor = Supervisor("test", FAST)
    with capture_logs() as logs:
        supervisor.start("dies", dies)
        assert liveness(supervisor)[0] == 200
        await until(lambda: len(runs) > FAST.failure_limit + 2)
        status, body = liveness(supervisor)
        await supervisor.stop()
    assert status == 503 and "dies" in str(body["detail"])
    waits = [e["restart_in_s"] for e in logs if e["event"] == "task_failed"]
    assert waits[:4] == [0.05, 0.1, 0.2, 0.2]  # doubled, then held at the bound
    assert any(e["event"] == "task_failing_repeatedly" for e in logs)


async def test_the_back_off_starts_over_after_a_healthy_run() -> None:
    runs = 0

    async def long_then_dies() -> None:
        nonlocal runs
        runs += 1
        if runs == 4:
            await asyncio.sleep(FAST.healthy_after_s + 0.05)  # a healthy run
        raise RuntimeError("again")

    supervisor = Supervisor("test", FAST.model_copy(update={"backoff_max_s": 5.0}))
    with capture_logs() as logs:
        supervisor.start("resets", long_then_dies)
        await until(lambda: runs >= 5)
        await supervisor.stop()
    waits = [e["restart_in_s"] for e in logs if e["event"] == "task_failed"]
    assert waits[:4] == [0.05, 0.1, 0.2, 0.05]  # the fourth run lasted: its failure starts the back-off over


async def test_stop_lets_a_task_finish_then_cancels_the_rest_cleanly() -> None:
    finished: list[str] = []

    async def polite() -> None:
        await supervisor.stopping.wait()
        finished.append("polite")

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("stubborn cancelled")

    supervisor = Supervisor("test", FAST)
    supervisor.start("polite", polite)
    supervisor.start("stubborn", stubborn)
    await asyncio.sleep(0.05)
    with capture_logs() as logs:
        await supervisor.stop(grace_s=0.2)
    assert sorted(finished) == ["polite", "stubborn cancelled"]
    assert not [e for e in logs if e["log_level"] == "error"]
    assert supervisor.ready


async def test_run_once_records_a_failed_run_until_one_succeeds() -> None:
    supervisor = Supervisor("test", FAST)
    before = restarts("timer")

    async def fails() -> int:
        raise KeyError("tick")

    async def works() -> int:
        return 7

    work: Callable[[], Awaitable[int]] = fails
    with capture_logs() as logs:
        assert await supervisor.run_once("timer", work) is None
    assert not supervisor.ready and supervisor.report()["timer"]["ok"] is False
    assert [e["task"] for e in logs if e["event"] == "task_failed"] == ["timer"]
    assert restarts("timer") - before == 1
    assert await supervisor.run_once("timer", works) == 7
    assert supervisor.ready


async def test_a_name_is_supervised_once() -> None:
    supervisor = Supervisor("test", FAST)

    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor.start("one", forever)
    with pytest.raises(ValueError, match="already"):
        supervisor.start("one", forever)
    await supervisor.stop(grace_s=0)


async def test_wait_any_returns_on_the_first_event_or_the_timeout() -> None:
    wake, stop = asyncio.Event(), asyncio.Event()
    started = time.monotonic()
    await wait_any(0.05, wake, stop)
    assert time.monotonic() - started >= 0.05
    asyncio.get_running_loop().call_later(0.02, stop.set)
    started = time.monotonic()
    await wait_any(10, wake, stop)
    assert time.monotonic() - started < 5
