"""`griddispatch serve escalation` killed with SIGKILL mid-batch and restarted: every due tier fires exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from shared.settings import DatabaseSettings, KafkaSettings
from tests.case_rows import insert_case

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)


def _serve(env: dict[str, str], port: int, log_path: str) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "griddispatch.cli", "serve", "escalation", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a loaded machine
    while time.monotonic() < deadline:
        assert proc.poll() is None, "escalation exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("escalation did not start")


async def test_killed_mid_batch_then_restarted_fires_everything_once(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings, tmp_path: object
) -> None:
    prefix = f"{kafka_settings.topic_prefix}-x{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": prefix,
        "GRIDDISPATCH_DB_URL": database_settings.url,
        "GRIDDISPATCH_ESCALATION_BATCH": "50",
        "GRIDDISPATCH_LOG_JSON": "true",
    }
    conn = await asyncpg.connect(database_settings.url)
    try:
        await conn.execute("UPDATE deadlines SET status = 'void' WHERE status = 'open'")  # only ours are due
        case_id = await insert_case(conn)
        now = datetime.now(UTC)
        ids = [uuid.uuid4() for _ in range(3000)]
        await conn.executemany(
            """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at)
               VALUES ($1, $2, 'accept', 'unit:610199004001', $3::timestamptz - interval '1 hour', $3, $3)""",
            [(d, case_id, now - timedelta(seconds=i)) for i, d in enumerate(ids)],
        )
        log = str(tmp_path) + "/escalation.log"  # type: ignore[operator]
        first = _serve(env, 18202, log)
        _wait_healthy(18202, first)
        started = time.monotonic()
        while (
            await conn.fetchval("SELECT count(*) FROM deadlines WHERE deadline_id = ANY($1) AND fired > 0", ids) < 300
        ):
            assert time.monotonic() - started < 180, "the first worker fired fewer than 300 in 180 s"
            await asyncio.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # mid-stream: some batches committed, one perhaps half done
        first.wait()
        done_at_kill = await conn.fetchval(
            "SELECT count(*) FROM deadlines WHERE deadline_id = ANY($1) AND fired > 0", ids
        )
        assert done_at_kill < len(ids), "killed too late to prove anything"

        second = _serve(env, 18202, log)
        try:
            _wait_healthy(18202, second)
            started = time.monotonic()
            while await conn.fetchval("SELECT count(*) FROM deadlines WHERE deadline_id = ANY($1) AND fired = 0", ids):
                assert time.monotonic() - started < 240, "restart did not catch up"
                await asyncio.sleep(0.2)
            deadline = time.monotonic() + 90  # and the outbox is published out, by this worker or its sweeper
            while await conn.fetchval(
                f"SELECT count(*) FROM outbox WHERE topic = '{prefix}.deadlines' AND published_at IS NULL"
            ):
                assert time.monotonic() < deadline, "fired tiers left unpublished"
                await asyncio.sleep(0.2)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=30)
        rows = await conn.fetch(
            f"""SELECT convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'deadline_id' AS d,
                       array_agg(convert_from(value, 'UTF8')::jsonb -> 'data' ->> 'tier' ORDER BY id) AS tiers
                FROM outbox WHERE topic = '{prefix}.deadlines' GROUP BY 1"""
        )
        tiers = {r["d"]: list(r["tiers"]) for r in rows}
        assert set(tiers) == {str(d) for d in ids}  # nothing lost
        assert all(t == ["overdue", "escalate"] for t in tiers.values())  # nothing fired twice
        assert json.loads(json.dumps(done_at_kill)) >= 300
    finally:
        await conn.close()
