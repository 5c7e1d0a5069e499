"""A three-node Apache Kafka cluster in KRaft mode on loopback, for the fault scenario "one broker lost".

Every node is broker and controller at once, started from the same jars and Java as the single local broker
(`griddispatch.infra.kafka.launch`), with a small heap. The three controllers form one quorum
(`controller.quorum.voters=1@127.0.0.1:29402,2@127.0.0.1:29404,3@127.0.0.1:29406`); the brokers listen on
29401, 29403 and 29405. Storage is formatted per node with one cluster id. The cluster replicates like a
production one: `default.replication.factor=3`, `min.insync.replicas=2`, and the same for the consumer
offsets and transaction state topics, so an acks=all write survives one broker lost and is refused
(NotEnoughReplicas) when two are.

Files live under `<GRIDDISPATCH_LOCAL_DIR>/kafka-cluster/node-<id>/` (data, logs, server.properties) and
the pid records as `kafka-node-<id>` under `<GRIDDISPATCH_LOCAL_DIR>/run/`, so a cluster is stopped by
exactly what started it. Point the services at it with `Cluster.bootstrap_servers` and
`Cluster.service_env()` (GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS, _REPLICATION_FACTOR, _MIN_INSYNC_REPLICAS).

    cluster = Cluster(LocalInfraSettings(dir=tmp))
    try:
        start(cluster)
        await wait_ready(cluster)
        kill_node(cluster, 2)          # kill -9 one broker
        start_node(cluster, 2)         # and bring it back
        await wait_fully_replicated(cluster)
    finally:
        stop(cluster)
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from griddispatch.infra import kafka
from griddispatch.infra.processes import Processes, ProcessRecord, require_free_ports
from shared.errors import BrokerUnavailable
from shared.settings import KafkaSettings, LocalInfraSettings

BASE_PORT = 29401  # node n: broker on BASE_PORT + 2(n-1), controller one above it
HEAP = "-Xms128m -Xmx256m"


@dataclass(frozen=True, slots=True)
class Cluster:
    """Where a cluster's nodes listen and keep their files, and how they replicate."""

    local: LocalInfraSettings
    size: int = 3
    base_port: int = BASE_PORT
    replication_factor: int = 3
    min_insync_replicas: int = 2
    heap: str = HEAP

    @property
    def home(self) -> Path:
        return self.local.dir / "kafka-cluster"

    @property
    def node_ids(self) -> list[int]:
        return list(range(1, self.size + 1))

    @property
    def processes(self) -> Processes:
        return Processes(self.local.dir)

    def port(self, node_id: int) -> int:
        return self.base_port + 2 * (node_id - 1)

    def controller_port(self, node_id: int) -> int:
        return self.port(node_id) + 1

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(n)}" for n in self.node_ids)

    def name(self, node_id: int) -> str:
        return f"kafka-node-{node_id}"

    def node(self, node_id: int) -> kafka.NodeConfig:
        voters = ",".join(f"{n}@127.0.0.1:{self.controller_port(n)}" for n in self.node_ids)
        return kafka.NodeConfig(
            node_id=node_id,
            port=self.port(node_id),
            controller_port=self.controller_port(node_id),
            quorum_voters=voters,
            replication_factor=self.replication_factor,
            min_insync_replicas=self.min_insync_replicas,
            role=f"KRaft broker+controller {node_id} of a {self.size}-node cluster",
            # The log cleaner's 128 MiB default buffer does not fit the small heap: a restarted node died of it.
            extra=("log.cleaner.dedupe.buffer.size=16777216",),
        )

    def layout(self, node_id: int) -> kafka.KafkaLayout:
        return kafka.KafkaLayout.at(
            self.home / f"node-{node_id}", cluster_id_file=self.home / "cluster-id", local=self.local
        )

    def kafka_settings(self, *, client_id: str = "griddispatch", topic_prefix: str = "griddispatch") -> KafkaSettings:
        """Client settings for this cluster: every broker to bootstrap from, topics created RF 3 / min.insync 2."""
        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers,
            client_id=client_id,
            topic_prefix=topic_prefix,
            replication_factor=self.replication_factor,
            min_insync_replicas=self.min_insync_replicas,
        )

    def service_env(self) -> dict[str, str]:
        """The environment that points a service at this cluster."""
        return {
            "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "GRIDDISPATCH_KAFKA_REPLICATION_FACTOR": str(self.replication_factor),
            "GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS": str(self.min_insync_replicas),
        }


def start_node(cluster: Cluster, node_id: int) -> ProcessRecord:
    """Start one node unless ours runs already (idempotent); a restarted node keeps its data."""
    processes = cluster.processes
    current = processes.running(cluster.name(node_id))
    if current is not None:
        return current
    require_free_ports(
        {
            f"kafka cluster node {node_id} broker": cluster.port(node_id),
            f"kafka cluster node {node_id} controller": cluster.controller_port(node_id),
        }
    )
    node, layout = cluster.node(node_id), cluster.layout(node_id)
    return kafka.launch(cluster.name(node_id), node, layout, cluster.local, processes, heap=cluster.heap)


def start(cluster: Cluster) -> list[ProcessRecord]:
    """Start every node not already running. Storage is formatted on first start, all with one cluster id."""
    return [start_node(cluster, n) for n in cluster.node_ids]


def stop_node(cluster: Cluster, node_id: int, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> bool:
    """Stop one node (SIGTERM: a controlled shutdown that hands its leaderships over). True if it ran."""
    return cluster.processes.stop(cluster.name(node_id), sig=sig, timeout_s=timeout_s)


def kill_node(cluster: Cluster, node_id: int) -> bool:
    """`kill -9` one node: no controlled shutdown; the controller fences it when its heartbeats stop."""
    return stop_node(cluster, node_id, sig=signal.SIGKILL, timeout_s=10.0)


def stop(cluster: Cluster, timeout_s: float = 30.0) -> list[str]:
    """Stop every node of ours, all at once; returns the names stopped.

    At once, not one by one: the last of three nodes stopped alone has lost its quorum, and its controlled
    shutdown would wait the whole timeout for a controller that can no longer answer (for the same reason, a
    minority left running is killed).
    """
    # Fewer nodes than a majority: no controller can answer a controlled shutdown, which would only time out.
    sig = signal.SIGTERM if len(running(cluster)) > cluster.size // 2 else signal.SIGKILL
    with ThreadPoolExecutor(max_workers=cluster.size) as pool:
        stopped = list(pool.map(lambda n: stop_node(cluster, n, sig=sig, timeout_s=timeout_s), cluster.node_ids))
    return [cluster.name(n) for n, was in zip(cluster.node_ids, stopped, strict=True) if was]


def running(cluster: Cluster) -> list[int]:
    """The ids of the nodes of ours that are running."""
    processes = cluster.processes
    return [n for n in cluster.node_ids if processes.running(cluster.name(n)) is not None]


async def live_brokers(cluster: Cluster, timeout_s: float = 5.0) -> set[int]:
    """The broker ids the cluster's metadata lists right now (a killed broker drops out once it is fenced)."""
    client = AIOKafkaClient(
        bootstrap_servers=cluster.bootstrap_servers,
        client_id="griddispatch-cluster-probe",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        await client.bootstrap()
        return {b.nodeId for b in client.cluster.brokers()}
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailable(f"no broker of the cluster at {cluster.bootstrap_servers} answers: {exc!r}") from exc
    finally:
        await client.close()


async def wait_brokers(cluster: Cluster, expected: Iterable[int], timeout_s: float = 60.0) -> float:
    """Wait until the metadata lists exactly these brokers; returns the seconds it took."""
    want = set(expected)
    started = time.monotonic()
    seen: set[int] | str = "nothing yet"
    while time.monotonic() - started < timeout_s:
        _raise_if_exited(cluster)
        try:
            seen = await live_brokers(cluster, timeout_s=2.0)
            if seen == want:
                return time.monotonic() - started
        except BrokerUnavailable as exc:
            seen = str(exc)
        await asyncio.sleep(0.5)
    raise BrokerUnavailable(f"cluster brokers not {sorted(want)} after {timeout_s:.0f}s; last seen: {seen}")


async def wait_ready(cluster: Cluster, timeout_s: float | None = None) -> None:
    """Wait until every node is a registered broker and a real event makes the round trip (topic RF = size)."""
    timeout = timeout_s if timeout_s is not None else cluster.local.start_timeout_s
    started = time.monotonic()
    await wait_brokers(cluster, cluster.node_ids, timeout_s=timeout)
    settings = cluster.kafka_settings(client_id="griddispatch-cluster")
    last: Exception | None = None
    while time.monotonic() - started < timeout:
        try:
            await kafka.round_trip(settings)
            return
        except (BrokerUnavailable, KafkaError) as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise BrokerUnavailable(f"the Kafka cluster did not complete a round trip in {timeout:.0f}s: {last}")


async def under_replicated(cluster: Cluster, topics: list[str] | None = None) -> dict[str, list[int]]:
    """Partitions whose in-sync replicas are fewer than their replicas, by topic (internal topics included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, client_id="griddispatch-cluster-admin")
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    lagging: dict[str, list[int]] = {}
    for topic in described:
        for p in topic["partitions"]:
            if p["leader"] < 0 or len(p["isr"]) < len(p["replicas"]):
                lagging.setdefault(topic["topic"], []).append(p["partition"])
    return lagging


async def wait_fully_replicated(cluster: Cluster, topics: list[str] | None = None, timeout_s: float = 120.0) -> float:
    """Wait until every partition has a leader and all its replicas in sync again; returns the seconds it took."""
    started = time.monotonic()
    lagging: dict[str, list[int]] | str = "not asked yet"
    while time.monotonic() - started < timeout_s:
        _raise_if_exited(cluster)
        try:
            lagging = await under_replicated(cluster, topics)
            if not lagging:
                return time.monotonic() - started
        except (KafkaError, OSError) as exc:
            lagging = repr(exc)
        await asyncio.sleep(0.5)
    raise BrokerUnavailable(f"partitions still under-replicated after {timeout_s:.0f}s: {lagging}")


def _raise_if_exited(cluster: Cluster) -> None:
    """A node we started that died on its own (not one we stopped: its pid record is gone) fails the wait."""
    processes = cluster.processes
    for n in cluster.node_ids:
        name = cluster.name(n)
        if processes.exited_early(name):
            server_log = cluster.layout(n).logs / "server.log"
            tail = "\n".join(server_log.read_text(errors="replace").splitlines()[-30:]) if server_log.exists() else ""
            raise BrokerUnavailable(
                f"Kafka cluster node {n} exited (status {processes.exit_code(name)}); "
                f"{processes.log_file(name)} and {server_log} say:\n{processes.tail(name)}\n{tail}"
            )
