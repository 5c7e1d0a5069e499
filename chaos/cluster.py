"""Fault scenario `cluster`: a three-broker KRaft cluster on loopback loses one broker, under steady load.

The four services (`processes` of each) run against a cluster of three broker+controller nodes
(griddispatch/infra/cluster.py: brokers 29401/29403/29405, controllers one above each) with every topic at
replication factor 3 and min.insync.replicas 2, so acks=all writes need two copies. The scenario:

1. load (reports through intake, accepts, deadlines brought due) for `before_s`;
2. `kill -9` the broker that coordinates dispatch's consumer group (so faust's group has to find a new
   coordinator, and the partitions that broker led get new leaders), keep the load on for `during_s`;
3. restart that broker, wait until it is listed again; load for `after_s`;
4. drain, and the ledger (chaos/ledger.py): every accepted report id -> exactly one case or one merged
   report; every case -> exactly one current assignment; every due deadline fired once; every webhook
   delivered at least once with the same idempotency key. Added here: every partition of the cluster back
   in sync (3 of 3 replicas), and our topics created with 3 replicas and min.insync.replicas 2.

Ports: services 18400-18418, the webhook receiver 18419. The database is a new one on the PostgreSQL given
(default the shared one on 25432, see `griddispatch infra up`), dropped afterwards; that server is never
restarted. The cluster lives in a directory of its own and is always stopped.

    python -m chaos.cluster [--rate 3] [--before 10] [--during 15] [--after 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from chaos.harness import Harness, Result, Target
from chaos.ledger import Violation
from chaos.load import LoadSettings
from chaos.scenarios import ScenarioSettings, create_database
from chaos.supervisor import SERVICE_ORDER, Supervisor
from griddispatch.infra import cluster as kafka_cluster
from griddispatch.infra import postgres
from griddispatch.infra.cluster import Cluster
from shared.settings import LocalInfraSettings
from shared.topics import Topics

NAME = "cluster"
SERVICE_PORTS = range(18400, 18419)
RECEIVER_PORT = 18419


async def _dispatch_coordinator(cluster: Cluster, group: str) -> int:
    """The broker coordinating dispatch's consumer group: losing it makes the group find another."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, client_id="chaos-cluster-admin")
    await admin.start()
    try:
        return int(await admin.find_coordinator(group))
    finally:
        await admin.close()


async def _replication_violations(cluster: Cluster, topics: Topics) -> list[Violation]:
    """Our topics: 3 replicas, min.insync.replicas 2, every replica back in sync after the restart."""
    violations: list[Violation] = []
    names = [s.name for s in topics.core_specs()]
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, client_id="chaos-cluster-admin")
    await admin.start()
    try:
        for topic in await admin.describe_topics(names):
            for p in topic["partitions"]:
                if len(p["replicas"]) != cluster.replication_factor:
                    violations.append(
                        Violation("replication", f"{topic['topic']}[{p['partition']}]", f"replicas {p['replicas']}")
                    )
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        for response in responses:
            for _code, _message, _type, name, entries in response.resources:
                value = {e[0]: e[1] for e in entries}.get("min.insync.replicas")
                if value != str(cluster.min_insync_replicas):
                    violations.append(Violation("replication", name, f"min.insync.replicas {value}"))
    finally:
        await admin.close()
    try:
        await kafka_cluster.wait_fully_replicated(cluster, timeout_s=120)
    except Exception as exc:  # noqa: BLE001  # reported as a violation, with what the cluster said
        violations.append(Violation("replication", "cluster", str(exc)))
    return violations


def _outage_figures(at: dict[str, float], accepted_at: list[float]) -> dict[str, int]:
    """What the clients saw while the broker was gone: 202s in the window, and the longest wait between two."""
    down, up = at["killed"], at.get("listed", at["killed"])
    window = [t for t in accepted_at if down <= t < up]
    around = [t for t in accepted_at if t < down][-1:] + window + [t for t in accepted_at if t >= up][:1]
    gaps = [b - a for a, b in itertools.pairwise(around)]
    return {
        "broker_fenced_ms": round((at.get("fenced", down) - down) * 1000),
        "broker_down_ms": round((at.get("restarted", down) - down) * 1000),
        "broker_rejoined_ms": round((up - at.get("restarted", up)) * 1000),
        "accepted_while_down": len(window),
        "longest_gap_between_202s_ms": round(max(gaps, default=0.0) * 1000),
    }


async def run_cluster(
    workdir: Path, settings: ScenarioSettings, admin_db_url: str | None = None, cluster: Cluster | None = None
) -> Result:
    """The scenario, start to finish: cluster up, services up, load, kill -9 one broker, restart it, ledger."""
    cluster = cluster or Cluster(LocalInfraSettings(dir=workdir / "kafka-cluster"))
    admin_url = admin_db_url or postgres.url_of(LocalInfraSettings(), "postgres")
    prefix = f"chaos-cluster-{uuid.uuid4().hex[:6]}"
    db_name = prefix.replace("-", "_")
    db_url = await create_database(admin_url, db_name)
    try:
        kafka_cluster.start(cluster)
        await kafka_cluster.wait_ready(cluster)
        target = Target(cluster.bootstrap_servers, db_url, prefix)
        env = Supervisor.env_for(cluster.bootstrap_servers, db_url, prefix, cluster.service_env())
        supervisor = Supervisor(env, workdir / NAME, SERVICE_PORTS)
        harness = Harness(target, supervisor, settings.load, receiver_port=RECEIVER_PORT)
        try:
            harness.prepare_database()
            for service in SERVICE_ORDER:
                supervisor.start(service, settings.processes)
            await supervisor.wait_ready(supervisor.processes)
            async with harness:
                await harness.load_for(settings.before_s)
                victim = await _dispatch_coordinator(cluster, f"{prefix}-dispatch")
                at: dict[str, float] = {}

                async def kill() -> None:
                    at["killed"] = time.monotonic()
                    await asyncio.to_thread(kafka_cluster.kill_node, cluster, victim)
                    survivors = set(cluster.node_ids) - {victim}
                    await kafka_cluster.wait_brokers(cluster, survivors)
                    at["fenced"] = time.monotonic()

                async def heal() -> None:
                    at["restarted"] = time.monotonic()
                    await asyncio.to_thread(kafka_cluster.start_node, cluster, victim)
                    await kafka_cluster.wait_brokers(cluster, cluster.node_ids, timeout_s=180)
                    at["listed"] = time.monotonic()

                await harness.fault(f"kill -9 broker {victim}", kill, heal, settings.during_s)
                await harness.load_for(settings.after_s)
                result = await harness.check(NAME, settings.drain_timeout_s)
                started = time.monotonic()
                result.violations += await _replication_violations(cluster, Topics(prefix))
                result.outcomes.update(_outage_figures(at, sorted(harness.load.accepted.values())))
                result.outcomes["back_in_sync_after_drain_ms"] = round((time.monotonic() - started) * 1000)
                return result
        finally:
            await asyncio.to_thread(supervisor.stop_all)
    finally:
        await asyncio.to_thread(kafka_cluster.stop, cluster)
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.cluster", description=__doc__)
    parser.add_argument("--processes", type=int, default=2, help="processes of each service")
    parser.add_argument("--rate", type=float, default=3.0, help="reports per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds of load before the broker is killed")
    parser.add_argument("--during", type=float, default=15.0, help="seconds of load while it is down")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of load after its restart")
    parser.add_argument("--db-admin-url", default=None, help="PostgreSQL to create the run's database on")
    parser.add_argument("--workdir", type=Path, default=None, help="logs and data (default: a temporary directory)")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the lost broker's errors are the point here
    settings = ScenarioSettings(
        processes=args.processes,
        before_s=args.before,
        during_s=args.during,
        after_s=args.after,
        load=LoadSettings(rate_per_s=args.rate),
    )
    with tempfile.TemporaryDirectory(prefix="griddispatch-chaos-cluster-") as tmp:
        result = asyncio.run(run_cluster(args.workdir or Path(tmp), settings, args.db_admin_url))
    print(result.line(), result.outcomes, flush=True)  # noqa: T201  # the scenario's report
    for violation in result.violations[:20]:
        print(f"  {violation}", flush=True)  # noqa: T201
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
