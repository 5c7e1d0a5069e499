"""The fault suite's SHORT version, run by `make test` (the full one is `make chaos`, docs/chaos.md).

Against the session's broker and a database of its own (the faults here touch only processes this test
starts): 2 dispatch workers and one of each other service under steady load; one dispatch worker is killed
with SIGKILL mid-stream (the other takes its partitions) and restarted; the ledger must hold: every accepted report one case or merged report,
every case one current assignment, every due deadline fired once, every webhook delivered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.harness import Target
from chaos.load import LoadSettings
from chaos.scenarios import ScenarioSettings, run_scenario
from shared.settings import DatabaseSettings, KafkaSettings

PORTS = range(18320, 18335)  # the fault suite's ports; 18349 is its webhook receiver


@pytest.mark.timeout(480)  # a loaded 2-core machine needs minutes to start the processes
async def test_chaos_short_kill_9_dispatch_loses_and_doubles_nothing(
    kafka_settings: KafkaSettings, empty_database: DatabaseSettings, tmp_path: Path
) -> None:
    target = Target(kafka_settings.bootstrap_servers, empty_database.url, f"{kafka_settings.topic_prefix}-chaos")
    settings = ScenarioSettings(
        processes=1,
        processes_of={"dispatch": 2},
        kill9_services=("dispatch",),
        kill9_all=False,
        wait_restarted=False,  # the restarted worker joins while the other drains: quicker, and a rebalance more
        before_s=4,
        during_s=4,
        after_s=4,
        load=LoadSettings(rate_per_s=2, overdue_share=0.2, seed=8),  # fixed: a run repeats as it was
        drain_timeout_s=150,
    )
    result = await run_scenario("kill9", target, tmp_path, settings, ports=PORTS)
    print(result.line())
    assert result.violations == [], "\n".join(str(v) for v in result.violations[:20])
    counts = result.counts
    assert counts["accepted"] >= 20  # ~2/s over 12 s and more: the load really ran through the fault
    assert counts["cases"] + counts["merged"] == counts["accepted"]
    assert counts["deadlines_fired"] > 0 and counts["webhooks_delivered"] > counts["accepted"]
    assert [f.name for f in result.faults] == ["kill -9 dispatch-1"]
    assert result.faults[0].recovered_s is not None
