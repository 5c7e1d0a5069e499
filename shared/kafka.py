"""Kafka clients built the one way the system needs them, and errors translated to ours.

Producers use acks=all: a report is acknowledged to its sender only once every in-sync replica has it. They
are idempotent unless given a delivery deadline (intake's), see kafka_producer. Clients are context
managers, so nothing is left open.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata

from shared.errors import BrokerUnavailable
from shared.events import CloudEvent, encode
from shared.settings import KafkaSettings
from shared.topics import TopicSpec


def _unreachable(settings: KafkaSettings, exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"Kafka broker unreachable at {settings.bootstrap_servers} "
        f"(setting GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS): {exc or type(exc).__name__}",
        bootstrap_servers=settings.bootstrap_servers,
    )


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_of(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioner (murmur2 of the key, as the Java client), its hash remembered per key: one
    case's several events hash once (pure-Python murmur2 was a tenth of dispatch's sending time)."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_key_hash(key) % len(all_partitions)]


@asynccontextmanager
async def kafka_producer(
    settings: KafkaSettings, *, deliver_within_ms: int | None = None, **overrides: Any
) -> AsyncIterator[AIOKafkaProducer]:
    """An acks=all producer.

    By default it is idempotent, and then aiokafka retries a batch until the broker takes it, however long
    that is (its batches never expire): a send to a stopped broker waits, and is delivered once the broker
    is back. `deliver_within_ms` is for a caller that answers a client meanwhile (intake's 202 or 503): a
    send the broker has not acknowledged in that time fails (KafkaTimeoutError / NodeNotReadyError, hence
    BrokerUnavailable) and its batch is dropped for good, so it cannot appear after the client was told
    no. aiokafka only expires batches of a producer that is not idempotent, so this turns idempotence off;
    order is kept all the same (one batch in flight per partition), and the rare duplicate left by a retry
    after a lost acknowledgement carries the same event id.
    """
    bounded = {"enable_idempotence": False, "request_timeout_ms": deliver_within_ms} if deliver_within_ms else {}
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": True,
        # No linger: a request awaiting its ack pays it in full (bench/baseline.py: 5 ms linger cut one-by-one
        # sends from ~1,600/s to ~160/s), and records queued while a batch is in flight are batched anyway.
        "linger_ms": 0,
        "partitioner": partition_of,
        "request_timeout_ms": settings.request_timeout_ms,
        **settings.client_security(),
        **bounded,
        **overrides,
    }
    producer = AIOKafkaProducer(**options)
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise _unreachable(settings, exc) from exc
    try:
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def kafka_consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None, **overrides: Any
) -> AsyncIterator[AIOKafkaConsumer]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        **settings.client_security(),
        **overrides,
    }
    consumer = AIOKafkaConsumer(*topics, **options)
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise _unreachable(settings, exc) from exc
    try:
        yield consumer
    finally:
        await consumer.stop()


async def publish(producer: AIOKafkaProducer, topic: str, event: CloudEvent[Any]) -> RecordMetadata:
    """Send one event and wait until the broker has it (acks=all); key = case id."""
    encoded = encode(event)
    try:
        metadata: RecordMetadata = await producer.send_and_wait(
            topic, value=encoded.value, key=encoded.key, headers=encoded.headers
        )
    except KafkaError as exc:
        raise BrokerUnavailable(f"could not publish to {topic}: {exc!r}", topic=topic) from exc
    return metadata


async def check_broker(settings: KafkaSettings, timeout_s: float = 5.0) -> None:
    """Raise BrokerUnavailable unless the broker answers a metadata request."""
    client = AIOKafkaClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-check",
        request_timeout_ms=int(timeout_s * 1000),
        **settings.client_security(),
    )
    try:
        await client.bootstrap()
    except (KafkaError, OSError) as exc:
        raise _unreachable(settings, exc) from exc
    finally:
        await client.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, expected: dict[str, int], timeout_s: float = 15.0) -> None:
    """Return once every partition of the new topics has a leader, so producing right after works."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(list(expected))
        ready = {
            t["topic"]
            for t in described
            if len(t["partitions"]) >= expected[t["topic"]] and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(expected):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise BrokerUnavailable(f"topics still without leaders after {timeout_s:.0f}s: {set(expected) - ready}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def _admin(settings: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed afterwards; an unreachable broker is BrokerUnavailable naming the setting."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
        **settings.client_security(),
    )
    try:
        await admin.start()
    except (KafkaConnectionError, KafkaError) as exc:
        await admin.close()
        raise _unreachable(settings, exc) from exc
    try:
        yield admin
    finally:
        await admin.close()


async def delete_topics_with_prefix(settings: KafkaSettings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (a test run's or a benchmark's own). Returns them."""
    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    async with _admin(settings) as admin:
        ours = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if ours:
            await admin.delete_topics(ours)
        return ours


async def ensure_topics(settings: KafkaSettings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that are missing; leave existing ones as they are. Returns the names created."""
    async with _admin(settings) as admin:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=spec.configs(min_insync_replicas=settings.min_insync_replicas),
                )
                for spec in missing
            ]
        )
        created: list[str] = []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != TopicAlreadyExistsError.errno:  # another process created it meanwhile: fine
                error = for_code(code)
                raise error(f"could not create topic {topic}: {rest[0] if rest else error.__name__}")
        # Ours must have every partition led; one someone else created meanwhile keeps its own shape.
        partitions = {s.name: s.partitions if s.name in created else 1 for s in missing}
        await _wait_for_leaders(admin, partitions)
        return created
