"""Raw capacity of the local broker and database, the yardstick every other figure is quoted beside.

Kafka: plain aiokafka, idempotent producer with acks=all (what intake uses), then one consumer reading it all.
PostgreSQL: single-row INSERT transactions (one commit each, the shape of a dispatch write) and COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from shared.kafka import ensure_topics, kafka_producer
from shared.settings import KafkaSettings, LocalInfraSettings
from shared.topics import TopicSpec


@dataclass(frozen=True)
class Figure:
    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def line(self) -> str:
        return f"{self.name:58} {self.rate:>12,.0f} /s   ({self.count:,} in {self.seconds:.2f}s)"


async def kafka_capacity(
    settings: KafkaSettings,
    messages: int,
    size: int,
    in_flight: int,
    *,
    topic: str | None = None,
    one_by_one: int = 2000,
    lingers: Sequence[int] = (0, 5),
) -> list[Figure]:
    """Produce rates (`one_by_one` awaited singly with each linger, then `messages` with `in_flight`
    outstanding) and one consumer's rate over everything, on `topic` (created; by default a new one, deleted
    at the end)."""
    if topic is not None:
        return await _kafka_capacity(settings, messages, size, in_flight, topic, one_by_one, lingers)
    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    try:
        return await _kafka_capacity(settings, messages, size, in_flight, topic, one_by_one, lingers)
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="bench-admin")
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def _kafka_capacity(
    settings: KafkaSettings,
    messages: int,
    size: int,
    in_flight: int,
    topic: str,
    one_by_one: int,
    lingers: Sequence[int],
) -> list[Figure]:
    await ensure_topics(settings, [TopicSpec(topic, partitions=6, retention_ms=3600_000)])
    payload = b"x" * size
    figures = []
    for linger_ms in lingers:  # one at a time: the latency-bound shape of an HTTP 202
        async with kafka_producer(settings, linger_ms=linger_ms) as producer:
            started = time.perf_counter()
            for i in range(one_by_one):
                await producer.send_and_wait(topic, payload, key=str(i).encode())
            figures.append(
                Figure(
                    f"kafka produce, acks=all idempotent, awaited one by one, linger {linger_ms} ms",
                    one_by_one,
                    time.perf_counter() - started,
                )
            )
    async with kafka_producer(settings) as producer:
        started = time.perf_counter()
        pending: list[asyncio.Future[object]] = []
        for i in range(messages):
            pending.append(await producer.send(topic, payload, key=str(i).encode()))
            if len(pending) >= in_flight:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        figures.append(
            Figure(
                f"kafka produce, acks=all idempotent, {in_flight} in flight", messages, time.perf_counter() - started
            )
        )

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        total, started = 0, time.perf_counter()
        while total < messages + one_by_one * len(lingers):
            batch = await consumer.getmany(timeout_ms=5000, max_records=5000)
            if not batch:
                break
            total += sum(len(records) for records in batch.values())
        figures.append(Figure("kafka consume, one consumer", total, time.perf_counter() - started))
    finally:
        await consumer.stop()
    return figures


async def postgres_capacity(url: str, rows: int) -> list[Figure]:
    conn = await asyncpg.connect(url)
    table = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, body jsonb NOT NULL)")
        started = time.perf_counter()
        n = min(rows, 5000)
        for _ in range(n):
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES ($1, $2)", uuid.uuid4(), '{"k": "v"}')
        single = Figure("postgres INSERT, one row per committed transaction", n, time.perf_counter() - started)

        records = [(uuid.uuid4(), '{"k": "v"}') for _ in range(rows)]
        started = time.perf_counter()
        await conn.copy_records_to_table(table, records=records)
        copy = Figure("postgres COPY", rows, time.perf_counter() - started)
        return [single, copy]
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


async def main(messages: int, size: int, in_flight: int, rows: int) -> None:
    local = LocalInfraSettings()
    settings = KafkaSettings(bootstrap_servers=local_kafka.bootstrap_of(local), client_id="bench")
    print(f"baseline: {messages:,} messages of {size} bytes; {rows:,} rows")
    for figure in await kafka_capacity(settings, messages, size, in_flight):
        print(figure.line())
    for figure in await postgres_capacity(local_postgres.url_of(local), rows):
        print(figure.line())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=600, help="bytes; about one report event")
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.size, args.in_flight, args.rows))
