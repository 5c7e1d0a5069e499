"""Open-loop load: reports launched on schedule at N per second, whether or not earlier ones have answered.

Latency counts from the scheduled moment, so a sender that falls behind shows as latency, not as a lower
offered rate. At most `max_in_flight` requests wait at once; a report due beyond that is shed and counted.
Over HTTP a report is accepted at its 202; over Kafka (an app's bulk sync) when the broker acknowledges it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from griddispatch.simulation.api import IntakeApi
from griddispatch.simulation.day import pick_source
from griddispatch.simulation.reports import PlannedReport, ReportFactory
from shared.events import new_event
from shared.events.types import Location, Reporter, ReportSubmitted
from shared.kafka import publish

EVENT_SOURCE = "/griddispatch/simulate"


@dataclass(slots=True)
class LoadResult:
    started_at: datetime
    offered_rate: float
    duration_s: float
    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by HTTP status, or the broker's error
    shed: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # of accepted reports
    case_ids: list[str] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


Sender = Callable[[PlannedReport], Awaitable[tuple[bool, str, str | None]]]  # accepted, status, case id


async def run_load(
    factory: ReportFactory,
    mix: Mapping[str, float],
    send: Sender,
    *,
    rate: float,
    duration_s: float,
    seed: int,
    max_in_flight: int = 256,
) -> LoadResult:
    """Offer `rate` reports a second for `duration_s` seconds through `send`; wait for every answer."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be above 0")
    rng = random.Random(seed)
    total = max(1, round(rate * duration_s))
    reports = [factory.report(i + 1, i / rate, pick_source(mix, rng), rng) for i in range(total)]
    result = LoadResult(datetime.now(UTC), rate, duration_s)
    in_flight: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()

    async def one(report: PlannedReport, scheduled: float) -> None:
        accepted, status, case_id = await send(report)
        if accepted:
            result.accepted += 1
            result.latencies_s.append(time.perf_counter() - scheduled)
            if case_id:
                result.case_ids.append(case_id)
        else:
            result.rejected[status] += 1

    for report in reports:
        scheduled = t0 + report.at_s
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.sent += 1
        result.by_source[report.source] += 1
        if len(in_flight) >= max_in_flight:
            result.shed += 1
            continue
        task = asyncio.create_task(one(report, scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    result.elapsed_s = time.perf_counter() - t0
    return result


def http_sender(api: IntakeApi, keys: Mapping[str, str], run: str) -> Sender:
    """Each report posted with the key for its source (one key may serve every source)."""

    async def send(report: PlannedReport) -> tuple[bool, str, str | None]:
        body = report.body(run)
        answer = await api.submit(keys[report.source], body)
        if answer.status == 202:
            return True, "202", str(answer.body.get("case_id"))
        return False, str(answer.status), None

    return send


def kafka_sender(producer: AIOKafkaProducer, topic: str, run: str) -> Sender:
    """Each report published as a ReportSubmitted CloudEvent, as a grid-worker app's bulk sync does."""

    async def send(report: PlannedReport) -> tuple[bool, str, str | None]:
        case_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"griddispatch-simulate:{run}:{report.seq}"))
        data = ReportSubmitted(
            case_id=case_id,
            case_number=f"SIM-{run}-{report.seq:06d}",
            source=report.source,
            source_ref=f"sim-{run}-{report.seq:06d}",
            matter_code=report.matter_code if report.send_matter_code else None,
            title=report.title,
            description=report.description,
            location=Location(lon=report.lon, lat=report.lat),
            urgency=report.urgency,
            households_affected=report.households,
            reporter=Reporter(name=report.reporter[0], phone=report.reporter[1]) if report.reporter else None,
            received_at=datetime.now(UTC),
        )
        try:
            await publish(producer, topic, new_event(data, source=EVENT_SOURCE, subject=case_id))
        except Exception as exc:  # noqa: BLE001  # a broker error is a rejected report, counted by its kind
            return False, type(exc.__cause__ or exc).__name__, None
        return True, "ack", case_id

    return send
