"""Consumer lag: how many messages a consumer group has not yet committed, per partition, as a Prometheus gauge.

Measured from the broker (the group's committed offsets against the partitions' end offsets), not from the
process's own view, so every worker of a group reports the whole group's lag, also for the partitions it does
not hold, and a group whose workers all stall still shows a growing lag from any one that answers. Dashboards
take the max over workers. Two small requests per refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from shared.errors import BrokerUnavailable
from shared.settings import KafkaSettings

CONSUMER_LAG = Gauge(
    "griddispatch_consumer_lag",
    "Messages on a partition after the consumer group's committed offset",
    ["group", "topic", "partition"],
)


def lag_of(
    end: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int], start: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Lag per partition; a partition the group never committed on lags by all it still holds (start to end)."""
    lag = {}
    for tp, end_offset in end.items():
        offset = committed.get(tp, -1)
        if offset < 0:
            offset = start.get(tp, 0)
        lag[tp] = max(end_offset - offset, 0)
    return lag


class LagProbe:
    """Measures one group's lag on some topics; start, then refresh as often as wanted, then stop."""

    def __init__(self, settings: KafkaSettings, group: str, topics: Iterable[str]) -> None:
        self.settings = settings
        self.group = group
        self.topics = list(topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None  # no group: only asks partitions for their offsets

    async def start(self) -> None:
        options: dict[str, Any] = {
            "bootstrap_servers": self.settings.bootstrap_servers,
            "client_id": f"{self.settings.client_id}-lag",
            "request_timeout_ms": self.settings.request_timeout_ms,
            **self.settings.client_security(),
        }
        admin = AIOKafkaAdminClient(**options)
        offsets = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **options)
        try:
            await admin.start()
            await offsets.start()
        except KafkaError as exc:
            await offsets.stop()
            await admin.close()
            raise BrokerUnavailable(f"lag probe cannot reach Kafka: {exc!r}") from exc
        self._admin, self._offsets = admin, offsets

    async def stop(self) -> None:
        admin, offsets = self._admin, self._offsets
        self._admin = self._offsets = None
        if offsets is not None:
            await offsets.stop()
        if admin is not None:
            await admin.close()

    async def measure(self) -> dict[TopicPartition, int]:
        """Lag per partition of the topics; nothing when the probe is not started (or already stopped)."""
        if self._admin is None or self._offsets is None:
            return {}
        partitions = [
            TopicPartition(topic["topic"], p["partition"])
            for topic in await self._admin.describe_topics(self.topics)
            for p in topic["partitions"]
        ]
        end = await self._offsets.end_offsets(partitions)
        committed = {
            tp: meta.offset
            for tp, meta in (await self._admin.list_consumer_group_offsets(self.group, partitions=partitions)).items()
        }
        never = [tp for tp in partitions if committed.get(tp, -1) < 0]
        start = await self._offsets.beginning_offsets(never) if never else {}
        return lag_of(end, committed, start)

    async def refresh(self) -> dict[TopicPartition, int]:
        """Measure and set the gauge; returns what was measured."""
        lag = await self.measure()
        for tp, n in lag.items():
            CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(n)
        return lag
