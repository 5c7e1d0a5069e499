"""A single-node Apache Kafka broker in KRaft mode, from Maven Central's jars and the system's Java."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from griddispatch.infra.maven import fetch_runtime_jars
from griddispatch.infra.processes import Processes, ProcessRecord, require_free_ports
from shared.errors import BrokerUnavailable, ConfigurationError
from shared.events import new_event
from shared.events.types import Probe as ProbeData
from shared.kafka import check_broker, ensure_topics, kafka_producer, publish
from shared.settings import PROJECT_ROOT, KafkaSettings, LocalInfraSettings
from shared.topics import TopicSpec

NAME = "kafka"
POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = PROJECT_ROOT / "deploy" / "kafka" / "log4j.properties"
PROBE_TOPIC = "griddispatch.infra-probe"


@dataclass(frozen=True, slots=True)
class KafkaLayout:
    home: Path
    data: Path
    logs: Path
    config: Path
    cluster_id_file: Path
    libs: Path

    @classmethod
    def of(cls, local: LocalInfraSettings) -> KafkaLayout:
        home = local.dir / "kafka"
        return cls.at(home, cluster_id_file=home / "cluster-id", local=local)

    @classmethod
    def at(cls, home: Path, *, cluster_id_file: Path, local: LocalInfraSettings) -> KafkaLayout:
        """A node's files under `home`; the nodes of one cluster share one cluster id file."""
        return cls(
            home=home,
            data=home / "data",
            logs=home / "logs",
            config=home / "server.properties",
            cluster_id_file=cluster_id_file,
            libs=local.cache_dir / f"kafka-{local.kafka_version}",
        )


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """One KRaft node on loopback, broker and controller in one process, and the replication it defaults to."""

    node_id: int
    port: int
    controller_port: int
    quorum_voters: str  # controller.quorum.voters: id@host:port of every controller
    replication_factor: int = 1  # default.replication.factor and that of the internal topics
    min_insync_replicas: int = 1  # min.insync.replicas and transaction.state.log.min.isr
    role: str = "single-node KRaft broker+controller"
    extra: tuple[str, ...] = ()  # further key=value lines
    protocol: str = "PLAINTEXT"  # the broker listener's security protocol (and its name); the controller's stays plain
    format_args: tuple[str, ...] = ()  # further arguments of `kafka-storage format` (e.g. --add-scram)

    @classmethod
    def single(cls, local: LocalInfraSettings) -> NodeConfig:
        """The one node `griddispatch infra up` runs."""
        return cls(
            node_id=1,
            port=local.kafka_port,
            controller_port=local.kafka_controller_port,
            quorum_voters=f"1@127.0.0.1:{local.kafka_controller_port}",
        )


def bootstrap_of(local: LocalInfraSettings) -> str:
    return f"127.0.0.1:{local.kafka_port}"


def java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ConfigurationError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless")
    return java


def ensure_jars(local: LocalInfraSettings) -> Path:
    """Download the broker's jars once through Maven; later calls find them cached."""
    libs = KafkaLayout.of(local).libs
    return fetch_runtime_jars("Kafka", POM, {"kafka.version": local.kafka_version}, libs, "kafka_2.13-*.jar")


def server_properties(node: NodeConfig, layout: KafkaLayout) -> str:
    return "\n".join(
        [
            f"# Written by griddispatch: {node.role} on loopback.",
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={node.quorum_voters}",
            f"listeners={node.protocol}://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            f"advertised.listeners={node.protocol}://127.0.0.1:{node.port}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={node.protocol}",
            f"listener.security.protocol.map=CONTROLLER:PLAINTEXT,{node.protocol}:{node.protocol}",
            f"log.dirs={layout.data}",
            "num.partitions=6",
            f"offsets.topic.replication.factor={node.replication_factor}",
            "offsets.topic.num.partitions=12",
            f"transaction.state.log.replication.factor={node.replication_factor}",
            f"transaction.state.log.min.isr={node.min_insync_replicas}",
            f"min.insync.replicas={node.min_insync_replicas}",
            f"default.replication.factor={node.replication_factor}",
            "auto.create.topics.enable=false",  # topics come from the registry in shared/topics.py
            "group.initial.rebalance.delay.ms=0",
            "log.retention.check.interval.ms=300000",
            "delete.topic.enable=true",
            *node.extra,
            "",
        ]
    )


def _classpath(libs: Path) -> str:
    return f"{libs}/*"


def _format_storage(layout: KafkaLayout, extra_args: tuple[str, ...] = ()) -> None:
    if (layout.data / "meta.properties").exists():
        return
    if not layout.cluster_id_file.exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        layout.cluster_id_file.write_text(cluster_id)
    result = subprocess.run(
        [
            java(),
            "-cp",
            _classpath(layout.libs),
            f"-Dlog4j.configuration=file:{LOG4J}",
            f"-Dkafka.logs.dir={layout.logs}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            layout.cluster_id_file.read_text().strip(),
            "-c",
            str(layout.config),
            *extra_args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigurationError(f"formatting Kafka storage in {layout.data} failed: {result.stderr[-2000:]}")


def start(local: LocalInfraSettings, processes: Processes) -> ProcessRecord:
    """Start the broker unless ours is already running; idempotent."""
    current = processes.running(NAME)
    if current is not None:
        return current
    require_free_ports(
        {
            "GRIDDISPATCH_LOCAL_KAFKA_PORT": local.kafka_port,
            "GRIDDISPATCH_LOCAL_KAFKA_CONTROLLER_PORT": local.kafka_controller_port,
        }
    )
    node = NodeConfig.single(local)
    return launch(NAME, node, KafkaLayout.of(local), local, processes, heap=local.kafka_heap)


def launch(
    name: str, node: NodeConfig, layout: KafkaLayout, local: LocalInfraSettings, processes: Processes, *, heap: str
) -> ProcessRecord:
    """Write the node's config, format its storage on first start, and start its JVM under `name`."""
    ensure_jars(local)
    for path in (layout.data, layout.logs):
        path.mkdir(parents=True, exist_ok=True)
    layout.config.write_text(server_properties(node, layout))
    _format_storage(layout, node.format_args)
    argv = [
        java(),
        *heap.split(),
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{LOG4J}",
        f"-Dkafka.logs.dir={layout.logs}",
        "-cp",
        _classpath(layout.libs),
        "kafka.Kafka",
        str(layout.config),
    ]
    url = f"kafka://127.0.0.1:{node.port}"
    return processes.start(name, argv, marker=str(layout.config), url=url, cwd=layout.home)


async def wait_ready(local: LocalInfraSettings, processes: Processes) -> None:
    """Wait until a real event makes the round trip through the broker: produce, then consume it back."""
    settings = KafkaSettings(bootstrap_servers=bootstrap_of(local), client_id="griddispatch-infra")
    deadline = time.monotonic() + local.start_timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if processes.exited_early(NAME):
            server_log = KafkaLayout.of(local).logs / "server.log"
            tail = "\n".join(server_log.read_text(errors="replace").splitlines()[-30:]) if server_log.exists() else ""
            raise BrokerUnavailable(
                f"Kafka exited during start (exit status {processes.exit_code(NAME)}); "
                f"{processes.log_file(NAME)} and {server_log} say:\n{processes.tail(NAME)}\n{tail}"
            )
        try:
            await check_broker(settings, timeout_s=2.0)
            await round_trip(settings)
            return
        except BrokerUnavailable as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise BrokerUnavailable(f"Kafka did not become ready in {local.start_timeout_s:.0f}s: {last}")


async def round_trip(settings: KafkaSettings) -> None:
    """Produce one probe event and read that very record back."""
    await ensure_topics(settings, [TopicSpec(PROBE_TOPIC, partitions=1, retention_ms=3600_000)])
    event = new_event(ProbeData(note="infra up"), source="/griddispatch/infra", subject="probe")
    async with kafka_producer(settings) as producer:
        metadata = await publish(producer, PROBE_TOPIC, event)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, **settings.client_security()
    )
    await consumer.start()
    try:
        tp = TopicPartition(PROBE_TOPIC, metadata.partition)
        consumer.assign([tp])
        consumer.seek(tp, metadata.offset)
        batch = await consumer.getmany(tp, timeout_ms=10_000, max_records=1)
        records = batch.get(tp, [])
        if not records or f'"id":"{event.id}"'.encode() not in (records[0].value or b""):
            raise BrokerUnavailable("Kafka accepted a probe event but did not hand it back")
    finally:
        await consumer.stop()
