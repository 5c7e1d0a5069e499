"""A separate single-node KRaft broker that authenticates (SASL/SCRAM-SHA-512) and authorizes (ACLs).

It proves the department isolation of docs/events.md "ACLs" on a real broker, apart from the shared broker of
`griddispatch infra up`: its own ports (broker 29411, controller 29412), files under
`<GRIDDISPATCH_LOCAL_DIR>/kafka-secure/` and pid record `kafka-secure`. The broker listener is SASL_PLAINTEXT
with SCRAM-SHA-512 only; the authorizer is KRaft's `StandardAuthorizer` with
`allow.everyone.if.no.acl.found=false`, so a principal holds exactly the ACLs granted to it. The admin
principal's credential is written at format time (`kafka-storage format --add-scram`); it is the super user
the broker itself talks as. `User:ANONYMOUS` is a super user too, and can only be the controller listener's
(plain, on loopback, and used by the node's own broker); the broker listener admits nobody without SCRAM.

    broker = SecureBroker(LocalInfraSettings(dir=tmp))
    try:
        start(broker)
        await wait_ready(broker)
        admin = broker.admin_settings()      # KafkaSettings of the super user
    finally:
        stop(broker, remove_data=True)
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from griddispatch.infra import kafka
from griddispatch.infra.processes import Processes, ProcessRecord, require_free_ports
from shared.errors import BrokerUnavailable
from shared.settings import KafkaSettings, LocalInfraSettings

NAME = "kafka-secure"
MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "griddispatch-admin"
HEAP = "-Xms128m -Xmx384m"


@dataclass(frozen=True, slots=True)
class SecureBroker:
    local: LocalInfraSettings
    port: int = 29411
    controller_port: int = 29412
    admin_password: str = "griddispatch-admin-local-only"  # loopback only; a real broker gets a secret one
    heap: str = HEAP

    @property
    def home(self) -> Path:
        return self.local.dir / "kafka-secure"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def processes(self) -> Processes:
        return Processes(self.local.dir)

    def layout(self) -> kafka.KafkaLayout:
        return kafka.KafkaLayout.at(self.home, cluster_id_file=self.home / "cluster-id", local=self.local)

    def node(self) -> kafka.NodeConfig:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{self.admin_password}";'
        )
        return kafka.NodeConfig(
            node_id=1,
            port=self.port,
            controller_port=self.controller_port,
            quorum_voters=f"1@127.0.0.1:{self.controller_port}",
            role="single-node KRaft broker+controller with SASL/SCRAM and ACLs",
            protocol="SASL_PLAINTEXT",
            extra=(
                f"sasl.enabled.mechanisms={MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
                f"listener.name.sasl_plaintext.{MECHANISM.lower()}.sasl.jaas.config={jaas}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                f"super.users=User:{ADMIN_USER};User:ANONYMOUS",
                "log.cleaner.dedupe.buffer.size=16777216",
            ),
            format_args=("--add-scram", f"{MECHANISM}=[name={ADMIN_USER},password={self.admin_password}]"),
        )

    def settings(
        self, username: str, password: str, *, client_id: str = "griddispatch", topic_prefix: str = "griddispatch"
    ) -> KafkaSettings:
        """Client settings that sign in to this broker as `username`."""
        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers,
            client_id=client_id,
            topic_prefix=topic_prefix,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=MECHANISM,
            sasl_username=username,
            sasl_password=SecretStr(password),
        )

    def admin_settings(self, *, topic_prefix: str = "griddispatch") -> KafkaSettings:
        return self.settings(ADMIN_USER, self.admin_password, client_id="griddispatch-admin", topic_prefix=topic_prefix)

    def service_env(self, username: str, password: str) -> dict[str, str]:
        """The environment that makes a service sign in here as `username`."""
        return {
            "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "GRIDDISPATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "GRIDDISPATCH_KAFKA_SASL_MECHANISM": MECHANISM,
            "GRIDDISPATCH_KAFKA_SASL_USERNAME": username,
            "GRIDDISPATCH_KAFKA_SASL_PASSWORD": password,
        }


def start(broker: SecureBroker) -> ProcessRecord:
    """Start the broker unless ours runs already; idempotent. Storage (and the admin credential) on first start."""
    processes = broker.processes
    current = processes.running(NAME)
    if current is not None:
        return current
    require_free_ports({"secure kafka broker": broker.port, "secure kafka controller": broker.controller_port})
    return kafka.launch(NAME, broker.node(), broker.layout(), broker.local, processes, heap=broker.heap)


def stop(broker: SecureBroker, *, remove_data: bool = False, timeout_s: float = 30.0) -> bool:
    """Stop our broker (True if it ran); with `remove_data`, delete its files too."""
    stopped = broker.processes.stop(NAME, timeout_s=timeout_s)
    if remove_data:
        shutil.rmtree(broker.home, ignore_errors=True)
    return stopped


async def wait_ready(broker: SecureBroker, timeout_s: float | None = None) -> None:
    """Wait until the admin principal signs in and an event makes the round trip."""
    timeout = timeout_s if timeout_s is not None else broker.local.start_timeout_s
    settings = broker.admin_settings()
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if broker.processes.exited_early(NAME):
            log = broker.layout().logs / "server.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
            raise BrokerUnavailable(
                f"the secure Kafka broker exited during start (status {broker.processes.exit_code(NAME)}):\n"
                f"{broker.processes.tail(NAME)}\n{tail}"
            )
        try:
            await kafka.round_trip(settings)
            return
        except Exception as exc:  # noqa: BLE001  # any failure before ready is retried until the deadline
            last = exc
            await asyncio.sleep(0.5)
    raise BrokerUnavailable(f"the secure Kafka broker did not become ready in {timeout:.0f}s: {last}")
