"""Scale-out: two processes of every service against one broker and one database share the work.

Two intake processes (the load driver round-robins), two dispatch workers (one consumer group: each must
apply events), two escalation workers (sharing the deadline table: each must fire deadlines), two notify
processes (one consumer group, deliveries claimed with SKIP LOCKED); the ledger holds at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.harness import Harness, Target, metric
from chaos.load import LoadSettings
from chaos.scenarios import ScenarioSettings, run_scenario
from chaos.supervisor import Supervisor
from shared.settings import DatabaseSettings, KafkaSettings

PORTS = range(18335, 18349)  # the fault suite's ports; 18349 is its webhook receiver


@pytest.mark.timeout(480)  # a loaded 2-core machine needs minutes to start the processes
async def test_two_of_each_service_share_the_work_and_the_ledger_holds(
    kafka_settings: KafkaSettings, empty_database: DatabaseSettings, tmp_path: Path
) -> None:
    target = Target(kafka_settings.bootstrap_servers, empty_database.url, f"{kafka_settings.topic_prefix}-scale")
    work: dict[str, list[float]] = {}

    async def read_metrics(h: Harness, sup: Supervisor) -> None:
        work["intake"] = [await metric(p.url, "griddispatch_reports_accepted") for p in sup.of("intake")]
        work["dispatch"] = [
            await metric(p.url, "griddispatch_events_consumed", {"outcome": "applied"}) for p in sup.of("dispatch")
        ]
        work["escalation"] = [await metric(p.url, "griddispatch_deadlines_fired") for p in sup.of("escalation")]
        work["notify"] = [
            await metric(p.url, "griddispatch_delivery_attempts", {"channel": "webhook"}) for p in sup.of("notify")
        ]

    settings = ScenarioSettings(
        processes=2,
        before_s=10,
        during_s=10,
        after_s=10,
        load=LoadSettings(rate_per_s=3, overdue_share=0.5, seed=8),  # fixed: a run repeats as it was
        drain_timeout_s=150,
    )
    result = await run_scenario("steady", target, tmp_path, settings, ports=PORTS, inspect=read_metrics)
    print(result.line(), work)
    assert result.violations == [], "\n".join(str(v) for v in result.violations[:20])
    assert result.counts["accepted"] >= 60 and result.counts["deadlines_fired"] > 0
    for service, per_process in work.items():
        assert len(per_process) == 2 and all(n > 0 for n in per_process), f"{service} work per process: {per_process}"
