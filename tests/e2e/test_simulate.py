"""`griddispatch simulate` and `griddispatch demo replay` as a user runs them, against intake and a dispatch
worker served as processes on the real broker and database; every figure they print is checked against the
database."""

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
from typing import Any

import asyncpg
import httpx
import pytest

from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
INTAKE_PORT, DISPATCH_PORT = 18305, 18306  # this test's own ports


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """intake and one dispatch worker as processes, on a topic prefix of their own, the sample district imported."""
    tmp = tmp_path_factory.mktemp("simulate")
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": f"{kafka_settings.topic_prefix}-sim{uuid.uuid4().hex[:5]}",
        "GRIDDISPATCH_DB_URL": database_settings.url,
        "GRIDDISPATCH_SERVICE_INTAKE_PORT": str(INTAKE_PORT),
        "GRIDDISPATCH_SERVICE_DISPATCH_PORT": str(DISPATCH_PORT),
        "GRIDDISPATCH_LOCAL_DIR": str(tmp / "local"),
        "GRIDDISPATCH_LOG_JSON": "true",
    }
    imported = _cli(env, "registry", "import", str(SAMPLE), "--by", "test")
    assert imported.returncode == 0, imported.stderr
    logs = {name: open(tmp / f"{name}.log", "wb") for name in ("intake", "dispatch")}  # noqa: SIM115
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(port)],
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, port in (("intake", INTAKE_PORT), ("dispatch", DISPATCH_PORT))
    }
    try:
        deadline = time.monotonic() + 180  # a cold faust worker on a loaded machine
        for name, port in (("intake", INTAKE_PORT), ("dispatch", DISPATCH_PORT)):
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


async def _level_counts(conn: asyncpg.Connection, client_ids: list[uuid.UUID], since: Any) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT CASE WHEN c.lead LIKE 'unit:%' THEN c.level ELSE 'department' END AS level, count(*) AS n
           FROM cases c JOIN submissions s USING (case_id)
           WHERE s.client_id = ANY($1) AND s.received_at >= $2 AND c.merged_into IS NULL GROUP BY 1""",
        client_ids,
        since,
    )
    return {r["level"]: r["n"] for r in rows}


async def test_simulate_sends_at_the_rate_and_its_summary_is_the_database(
    stack: dict[str, str], database_settings: DatabaseSettings
) -> None:
    run = _cli(
        stack,
        "simulate", "--rate", "6", "--duration", "4", "--mix", "hotline=0.5,grid_app=0.3,camera=0.2",
        "--url", f"http://127.0.0.1:{INTAKE_PORT}", "--wait", "180", "--json", "--seed", "3",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert figures["sent"] == 24
    assert figures["accepted"] == 24, figures
    assert figures["rejected"] == {} and figures["shed"] == 0
    assert set(figures["by_source"]) <= {"hotline", "grid_app", "camera"}
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
    assert figures["achieved_per_s"] > 3  # 24 accepted over a little more than 4 s
    summary = figures["summary"]

    client_id = uuid.UUID(figures["client_id"])
    conn = await asyncpg.connect(database_settings.url)
    try:
        since = await conn.fetchval("SELECT min(received_at) FROM submissions WHERE client_id = $1", client_id)
        submitted = await conn.fetchval("SELECT count(*) FROM submissions WHERE client_id = $1", client_id)
        opened = await conn.fetchval(
            """SELECT count(*) FROM cases c JOIN submissions s USING (case_id)
               WHERE s.client_id = $1 AND c.merged_into IS NULL""",
            client_id,
        )
        merged = await conn.fetchval(
            "SELECT count(*) FROM cases c JOIN submissions s USING (case_id) WHERE s.client_id = $1 AND c.state = 'merged'",
            client_id,
        )
        levels = await _level_counts(conn, [client_id], since)
    finally:
        await conn.close()
    assert summary["received"] == submitted == figures["accepted"]
    assert summary["received"] == summary["opened"] + summary["merged"]  # every report recorded once
    assert (summary["opened"], summary["merged"]) == (opened, merged)
    assert {k: v for k, v in summary["dispatched"].items() if v} == levels
    assert sum(summary["dispatched"].values()) == opened
    assert summary["states"] == {"assigned": opened, **({"merged": merged} if merged else {})}


async def test_demo_replay_plays_the_hour_and_prints_what_the_database_holds(
    stack: dict[str, str], database_settings: DatabaseSettings
) -> None:
    run = _cli(
        stack,
        "demo", "replay", "--hours", "1", "--start-hour", "9", "--speedup", "300", "--tail-hours", "1", "--seed", "2",
        timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout
    received = re.search(r"received\s+(\d+) reports: (\d+) cases opened, (\d+) merged", out)
    assert received, out
    total, opened, merged = map(int, received.groups())
    accepted = int(re.search(r"accepted\s+(\d+) cases", out).group(1))  # type: ignore[union-attr]
    assert total > 5 and total == opened + merged
    assert accepted > 0  # the actor accepted cases through the API and dispatch applied it
    assert "API docs      http://127.0.0.1:18305/docs" in out
    assert "console       http://127.0.0.1:18305/console/" in out

    clients = json.loads((Path(stack["GRIDDISPATCH_LOCAL_DIR"]) / "demo" / "clients.json").read_text())
    ids = [uuid.UUID(c["id"]) for role, c in clients.items() if role not in ("worker", "supervisor")]
    last = json.loads((Path(stack["GRIDDISPATCH_LOCAL_DIR"]) / "demo" / "last-run.json").read_text())
    conn = await asyncpg.connect(database_settings.url)
    try:
        since = datetime.fromisoformat(last["since"])
        in_db = await conn.fetchval(
            "SELECT count(*) FROM submissions WHERE client_id = ANY($1) AND received_at >= $2", ids, since
        )
        met = await conn.fetchval(
            """SELECT count(DISTINCT d.case_id) FROM deadlines d JOIN submissions s USING (case_id)
               WHERE s.client_id = ANY($1) AND s.received_at >= $2 AND d.kind = 'accept' AND d.status = 'met'""",
            ids,
            since,
        )
        by = await conn.fetch(
            """SELECT DISTINCT e.actor->>'id' AS who, e.action FROM case_events e JOIN submissions s USING (case_id)
               WHERE s.client_id = ANY($1) AND s.received_at >= $2 AND e.action IN ('accept', 'report_in')""",
            ids,
            since,
        )
    finally:
        await conn.close()
    assert in_db == total
    assert met == accepted
    assert any(r["action"] == "accept" and r["who"].startswith("610199") for r in by)  # a named grid worker

    # run again: the same clients (keys kept locally) are reused, not created anew
    again = _cli(stack, "demo", "replay", "--hours", "0.2", "--start-hour", "10", "--speedup", "600", timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads((Path(stack["GRIDDISPATCH_LOCAL_DIR"]) / "demo" / "clients.json").read_text()) == clients
