"""The topic registry creates what is missing on the real broker and leaves existing topics alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.settings import KafkaSettings
from shared.topics import Topics


async def _describe(settings: KafkaSettings, names: list[str]) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        configs: dict[str, dict[str, str]] = {}
        for response in responses:
            for _code, _msg, _type, name, entries in response.resources:
                configs[name] = {entry[0]: entry[1] for entry in entries}
        return partitions, configs
    finally:
        await admin.close()


async def test_creates_missing_topics_with_their_specs(kafka_settings: KafkaSettings) -> None:
    topics = Topics(f"{kafka_settings.topic_prefix}-new-{uuid.uuid4().hex[:6]}")
    specs = topics.core_specs()
    created = await ensure_topics(kafka_settings, specs)
    assert sorted(created) == sorted(s.name for s in specs)

    partitions, configs = await _describe(kafka_settings, [s.name for s in specs])
    for spec in specs:
        assert partitions[spec.name] == spec.partitions
        assert configs[spec.name]["retention.ms"] == str(spec.retention_ms)
        assert configs[spec.name]["cleanup.policy"] == spec.cleanup_policy

    assert await ensure_topics(kafka_settings, specs) == []  # second run: nothing to do


async def test_leaves_an_existing_topic_as_it_is(kafka_settings: KafkaSettings) -> None:
    topics = Topics(f"{kafka_settings.topic_prefix}-old-{uuid.uuid4().hex[:6]}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:  # someone made the reports topic by hand, with 2 partitions and a 1-hour retention
        await admin.create_topics([NewTopic(topics.reports, 2, 1, topic_configs={"retention.ms": "3600000"})])
    finally:
        await admin.close()

    created = await ensure_topics(kafka_settings, topics.core_specs())
    assert topics.reports not in created
    assert len(created) == len(topics.core_specs()) - 1

    partitions, configs = await _describe(kafka_settings, [topics.reports])
    assert partitions[topics.reports] == 2
    assert configs[topics.reports]["retention.ms"] == "3600000"


async def test_deleting_by_prefix_takes_ours_and_leaves_the_rest(kafka_settings: KafkaSettings) -> None:
    ours = Topics(f"{kafka_settings.topic_prefix}-gone-{uuid.uuid4().hex[:6]}")
    theirs = Topics(f"{kafka_settings.topic_prefix}-kept-{uuid.uuid4().hex[:6]}")
    await ensure_topics(kafka_settings, [*ours.core_specs(), *theirs.core_specs()])

    deleted = await delete_topics_with_prefix(kafka_settings, ours.prefix)

    assert sorted(deleted) == sorted(s.name for s in ours.core_specs())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        for _ in range(40):  # the broker's metadata follows the deletion within moments
            left = set(await admin.list_topics())
            if not left & set(deleted):
                break
            await asyncio.sleep(0.25)
    finally:
        await admin.close()
    assert not left & set(deleted)
    assert {s.name for s in theirs.core_specs()} <= left
    with pytest.raises(ValueError):
        await delete_topics_with_prefix(kafka_settings, "")
