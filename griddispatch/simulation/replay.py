"""Replaying a planned day against intake at a speed-up: reports sent on their simulated time, the actor after.

One scheduler in real time: each job (send a report, take a case's next step) runs when due, at most
`concurrency` at once; a job's follow-up is scheduled from its answer. The replay ends when the day and its
tail are over, or earlier when nothing is left to do.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from griddispatch.simulation.actor import DayActor, Next, Tracked
from griddispatch.simulation.api import IntakeApi
from griddispatch.simulation.day import DayPlan
from griddispatch.simulation.reports import PlannedReport

MAX_SUBMIT_TRIES = 4


@dataclass(slots=True)
class ReplayProgress:
    sim_elapsed_s: float
    sim_total_s: float
    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by HTTP status ("0": no answer)
    following: int = 0  # cases the actor still has a step planned for
    errors: Counter[str] = field(default_factory=Counter)  # steps that failed unexpectedly, by exception


@dataclass(frozen=True, slots=True)
class ReplayResult:
    started_at: datetime
    finished_at: datetime
    progress: ReplayProgress
    case_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Send:
    report: PlannedReport
    attempt: int


class _Scheduler:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, object]] = []
        self._order = itertools.count()

    def add(self, due: float, job: object) -> None:
        heapq.heappush(self._heap, (due, next(self._order), job))

    def __len__(self) -> int:
        return len(self._heap)

    def next_due(self) -> float:
        return self._heap[0][0]

    def pop(self) -> object:
        return heapq.heappop(self._heap)[2]


async def replay(
    plan: DayPlan,
    api: IntakeApi,
    submit_keys: dict[str, str],
    actor: DayActor,
    *,
    speedup: float,
    run: str,
    tail_s: float = 0.0,
    concurrency: int = 16,
    on_progress: Callable[[ReplayProgress], None] | None = None,
) -> ReplayResult:
    """Send every report of the plan at `speedup` x its simulated time and let the actor follow the cases.

    `tail_s` simulated seconds after the day let the actor finish what the day's last reports began."""
    if speedup <= 0:
        raise ValueError("speedup must be above 0")
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    end_sim = plan.duration_s + tail_s
    progress = ReplayProgress(0.0, end_sim)
    jobs = _Scheduler()
    for report in plan.reports:
        jobs.add(t0 + report.at_s / speedup, _Send(report, 1))
    case_ids: list[str] = []
    running: set[asyncio.Task[None]] = set()
    gate = asyncio.Semaphore(concurrency)

    def schedule(t: Tracked, nxt: Next | None) -> None:
        if nxt is None:
            progress.following -= 1
            return
        jobs.add(time.monotonic() + nxt.real_s + nxt.sim_s / speedup, t)

    async def send(report: PlannedReport, attempt: int) -> None:
        key = submit_keys[report.source]
        body = report.body(run)
        answer = await api.submit(key, body, idempotency_key=body["source_ref"])
        if answer.ok:
            progress.sent += attempt == 1
            progress.accepted += 1
            case_id = str(answer.body["case_id"])
            case_ids.append(case_id)
            progress.following += 1
            schedule(Tracked(report, case_id), Next(sim_s=report.fate.accept_after_s))
            return
        if answer.status in (0, 429, 503) and attempt < MAX_SUBMIT_TRIES:  # retriable: same key, same case
            progress.sent += attempt == 1
            jobs.add(time.monotonic() + (answer.retry_after_s or 1.0), _Send(report, attempt + 1))
            return
        progress.sent += attempt == 1
        progress.rejected[str(answer.status)] += 1

    async def run_job(job: object) -> None:
        async with gate:
            try:
                if isinstance(job, Tracked):
                    schedule(job, await actor.step(job))
                elif isinstance(job, _Send):
                    await send(job.report, job.attempt)
            except Exception as exc:  # noqa: BLE001  # one odd answer must not end the demo: counted, shown
                progress.errors[type(exc).__name__] += 1
                if isinstance(job, Tracked):
                    progress.following -= 1

    shown = 0.0
    try:
        while True:
            now = time.monotonic()
            progress.sim_elapsed_s = min((now - t0) * speedup, end_sim)
            if on_progress is not None and now - shown >= 0.2:
                on_progress(progress)
                shown = now
            if (now - t0) * speedup >= end_sim or (not jobs and not running):
                break
            if jobs and jobs.next_due() <= now:
                task = asyncio.create_task(run_job(jobs.pop()))
                running.add(task)
                task.add_done_callback(running.discard)
                continue
            wake = min(jobs.next_due() if jobs else now + 0.25, now + 0.25)
            await asyncio.sleep(max(0.0, wake - now))
        if running:
            await asyncio.gather(*running)
        if on_progress is not None:
            on_progress(progress)
    finally:
        for task in running:
            task.cancel()
    return ReplayResult(started_at, datetime.now(UTC), progress, tuple(case_ids))
