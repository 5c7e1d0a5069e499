"""`griddispatch demo replay` against a stack whose dispatch shortens deadlines (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE):
the replayed hour's warnings and escalations happen within the replay, and its summary says how many, as the
database has them. intake, dispatch and escalation run as processes on the real broker and database.

The settings are `make demo`'s (480x, deadlines x 1/480), on a shortened day: the demo must show warnings,
overdue cases and escalations every time. A `make demo` whose escalation loop had died printed
"warned 0 cases; overdue 0; escalated 0" and rc 0; this test fails on that, and on the replay's warning that
due deadlines were left unfired."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
PORTS = {"intake": 18505, "dispatch": 18506, "escalation": 18507}  # this test's own
# `make demo`'s: DEMO_SPEEDUP 480 and DEMO_DEADLINE_SCALE = 1/480 as the Makefile prints it (awk "%.6g"): one
# hour of allowance = 7.5 s, so a neglected case's 2-hour accept-by (calendar hours) falls due in 15 s.
SPEEDUP = 480
SCALE = f"{1 / SPEEDUP:.6g}"


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("timescale")
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": f"{kafka_settings.topic_prefix}-ts{uuid.uuid4().hex[:5]}",
        "GRIDDISPATCH_DB_URL": database_settings.url,
        **{f"GRIDDISPATCH_SERVICE_{name.upper()}_PORT": str(port) for name, port in PORTS.items()},
        "GRIDDISPATCH_LOCAL_DIR": str(tmp / "local"),
        "GRIDDISPATCH_LOG_JSON": "true",
        "GRIDDISPATCH_DISPATCH_DEADLINE_SCALE": SCALE,
        "GRIDDISPATCH_ESCALATION_MAX_SLEEP_S": "2",
    }
    imported = _cli(env, "registry", "import", str(SAMPLE), "--by", "test")
    assert imported.returncode == 0, imported.stderr
    logs = {name: open(tmp / f"{name}.log", "wb") for name in PORTS}  # noqa: SIM115
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(port)],
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, port in PORTS.items()
    }
    try:
        deadline = time.monotonic() + 180  # cold starts on a loaded machine
        for name, port in PORTS.items():
            while True:
                assert procs[name].poll() is None, f"{name} exited: {(tmp / f'{name}.log').read_text()[-2000:]}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{name} not ready"
                time.sleep(0.3)
        yield env
    finally:
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for log in logs.values():
            log.close()


def _figure(pattern: str, out: str) -> int:
    found = re.search(pattern, out)
    assert found, f"{pattern!r} not in:\n{out}"
    return int(found.group(1))


async def test_the_default_demo_warns_marks_overdue_and_escalates(
    stack: dict[str, str], database_settings: DatabaseSettings
) -> None:
    dispatch = httpx.get(f"http://127.0.0.1:{PORTS['dispatch']}/metrics", timeout=5).text
    assert f"griddispatch_deadline_scale {SCALE}" in dispatch

    run = _cli(
        stack,
        "demo", "replay", "--hours", "1", "--start-hour", "9", "--seed", "14", "--deadline-wait", "45",
        timeout=240,
    )  # fmt: skip  # the default speed-up and deadline scale, as `make demo` passes them
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "WARNING" not in out  # dispatch runs with the scale the replay asked for; no due deadline left unfired
    assert "deadlines shortened x0.00208333 (1 hour of allowance = 7.5 s), as this speed-up needs" in out
    warned = _figure(r"warned\s+(\d+) cases", out)
    overdue = _figure(r"warned\s+\d+ cases; overdue (\d+)", out)
    escalated = _figure(r"warned\s+\d+ cases; overdue \d+; escalated (\d+)", out)
    assert warned > 0 and overdue > 0 and escalated > 0, out

    clients = json.loads((Path(stack["GRIDDISPATCH_LOCAL_DIR"]) / "demo" / "clients.json").read_text())
    ids = [uuid.UUID(c["id"]) for role, c in clients.items() if role not in ("worker", "supervisor")]
    since = datetime.fromisoformat(
        json.loads((Path(stack["GRIDDISPATCH_LOCAL_DIR"]) / "demo" / "last-run.json").read_text())["since"]
    )
    conn = await asyncpg.connect(database_settings.url)
    try:
        mine = "SELECT case_id FROM submissions WHERE client_id = ANY($1) AND received_at >= $2"
        escalated_in_db = await conn.fetchval(
            f"SELECT count(DISTINCT case_id) FROM case_events WHERE action = 'escalate' AND case_id IN ({mine})",
            ids,
            since,
        )
        # every neglected case (seed 14 plans three) climbed: nobody accepted it, its shortened accept-by fired
        unaccepted_escalated = await conn.fetchval(
            f"""SELECT count(*) FROM cases c WHERE c.case_id IN ({mine})
                AND EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.case_id AND e.action = 'escalate')
                AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.case_id AND e.action = 'accept')""",
            ids,
            since,
        )
    finally:
        await conn.close()
    assert escalated <= escalated_in_db  # the summary's figure, read before any later rung
    assert unaccepted_escalated >= 1


def test_a_replay_whose_speed_up_does_not_match_dispatchs_scale_says_so(stack: dict[str, str]) -> None:
    run = _cli(
        stack, "demo", "replay", "--hours", "0.05", "--start-hour", "10", "--speedup", "600", "--deadline-wait", "0"
    )
    assert run.returncode == 0, run.stderr
    assert f"WARNING: dispatch runs with deadline scale {SCALE}, not 0.00166667 (1/speed-up)" in run.stdout
    assert "GRIDDISPATCH_DISPATCH_DEADLINE_SCALE=0.00166667" in run.stdout
