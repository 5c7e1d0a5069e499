"""Department isolation on Kafka, proven on a broker that enforces it (docs/events.md "ACLs").

The broker is this module's own (griddispatch/infra/secure_kafka.py: SASL/SCRAM-SHA-512, StandardAuthorizer,
allow.everyone.if.no.acl.found=false, ports 29411/29412, files under <GRIDDISPATCH_LOCAL_DIR>/kafka-secure/),
started once for the module, stopped and its files removed at the end. The shared broker is not touched.
Grants are made with the real `griddispatch kafka-access` command; each test has its own topic prefix and
department codes.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from griddispatch.infra import secure_kafka
from griddispatch.infra.secure_kafka import SecureBroker
from griddispatch.kafka_access import broker as kafka_access
from griddispatch.kafka_access.grants import department_grant, service_grant
from shared.errors import BrokerUnavailable
from shared.events import new_event
from shared.events.types import Probe
from shared.kafka import check_broker, ensure_topics, kafka_consumer, kafka_producer, publish
from shared.settings import KafkaSettings, LocalInfraSettings
from shared.topics import Topics
from tests.cli import griddispatch

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureBroker]:
    the_broker = SecureBroker(LocalInfraSettings(start_timeout_s=180))
    try:
        secure_kafka.start(the_broker)
        asyncio.run(secure_kafka.wait_ready(the_broker))
        yield the_broker
    finally:
        secure_kafka.stop(the_broker, remove_data=True)


@pytest.fixture
def prefix() -> str:
    return f"acl-{uuid.uuid4().hex[:8]}"


def _cli(secure: SecureBroker, prefix: str, *args: str) -> str:
    env = {
        **secure.service_env(secure_kafka.ADMIN_USER, secure.admin_password),
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": prefix,
    }
    result = griddispatch("kafka-access", *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _grant(secure: SecureBroker, prefix: str, kind: str, name: str) -> KafkaSettings:
    """Grant with the CLI; the settings that sign in as the new principal."""
    granted = json.loads(_cli(secure, prefix, f"grant-{kind}", name))
    return secure.settings(granted["username"], granted["password"], client_id=f"as-{name}", topic_prefix=prefix)


async def _seed(admin: KafkaSettings, topics: list[str]) -> None:
    """One event in each topic, written by the admin principal."""
    async with kafka_producer(admin) as producer:
        for topic in topics:
            await publish(producer, topic, new_event(Probe(note=topic), source="/tests/acl", subject=topic))


async def _read_one(settings: KafkaSettings, topic: str, group: str | None, timeout_s: float = 30.0) -> Any:
    """Join `group` (None: no group), subscribe to `topic` and return its first record; a refusal raises."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **settings.client_security(),
    )
    try:
        await consumer.start()
        return await asyncio.wait_for(consumer.getone(), timeout_s)
    finally:
        await consumer.stop()


async def _until_refused(settings: KafkaSettings, topic: str, group: str, timeout_s: float = 30.0) -> KafkaError:
    """ACL changes reach the authorizer within moments; wait until a read is refused and return the refusal."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await _read_one(settings, topic, group, timeout_s=10)
        except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as exc:
            return exc
        assert time.monotonic() < deadline, f"{settings.sasl_username} still reads {topic} as {group}"
        await asyncio.sleep(0.5)


async def test_a_department_reads_its_own_topic_and_nothing_else(secure: SecureBroker, prefix: str) -> None:
    topics = Topics(prefix)
    code_a, code_b = f"a{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"
    admin = secure.admin_settings(topic_prefix=prefix)
    own, other = topics.department_assignments(code_a), topics.department_assignments(code_b)
    await ensure_topics(admin, [topics.department_spec(code_a), topics.department_spec(code_b), *topics.core_specs()])
    await _seed(admin, [own, other, topics.reports, topics.assignments])
    as_a = _grant(secure, prefix, "department", code_a)
    _grant(secure, prefix, "department", code_b)

    record = await _read_one(as_a, own, group=f"{code_a}.subscriber")
    assert json.loads(record.value)["data"]["note"] == own

    for refused in (other, topics.reports, topics.assignments):
        with pytest.raises(TopicAuthorizationFailedError):
            await _read_one(as_a, refused, group=f"{code_a}.subscriber")
    with pytest.raises(GroupAuthorizationFailedError):  # its own topic, but department B's consumer group
        await _read_one(as_a, own, group=f"{code_b}.subscriber")
    with pytest.raises(GroupAuthorizationFailedError):  # a group outside its prefix: code_a without the dot
        await _read_one(as_a, own, group=f"{code_a}-subscriber")

    kafka_access.revoke_acls(admin, secure.local, department_grant(code_a, topics))  # ACLs gone, still signed in
    refusal = await _until_refused(as_a, own, group=f"{code_a}.subscriber")
    assert isinstance(refusal, TopicAuthorizationFailedError | GroupAuthorizationFailedError)

    assert "revoked User:" in _cli(secure, prefix, "revoke-department", code_a)  # and its credential
    with pytest.raises(BrokerUnavailable):
        async with kafka_consumer(as_a, own, group_id=f"{code_a}.subscriber"):
            pass
    assert "Current ACLs for resource" not in _cli(secure, prefix, "acls", department_grant(code_a, topics).username)


async def test_nobody_gets_in_without_scram_or_with_a_wrong_password(secure: SecureBroker) -> None:
    with pytest.raises(BrokerUnavailable):
        await check_broker(KafkaSettings(bootstrap_servers=secure.bootstrap_servers), timeout_s=5)
    wrong = secure.settings(secure_kafka.ADMIN_USER, "not-the-admin-password")
    with pytest.raises(BrokerUnavailable):
        await check_broker(wrong, timeout_s=5)


async def test_services_produce_and_consume_through_shared_kafka_with_their_principals(
    secure: SecureBroker, prefix: str
) -> None:
    topics = Topics(prefix)
    admin = secure.admin_settings(topic_prefix=prefix)
    await ensure_topics(admin, topics.core_specs())
    as_intake = _grant(secure, prefix, "service", "intake")
    as_dispatch = _grant(secure, prefix, "service", "dispatch")
    event = new_event(Probe(note="a report"), source="/tests/acl", subject="report")
    for principal in (as_intake, as_dispatch):  # the start-up check (shared/runtime.py) finds every core topic
        assert await ensure_topics(principal, topics.core_specs()) == []

    async with kafka_producer(as_intake) as producer:  # idempotent, acks=all: Write implies IdempotentWrite
        await publish(producer, topics.reports, event)
    async with kafka_consumer(as_dispatch, topics.reports, group_id=f"{prefix}-dispatch") as consumer:
        record = await asyncio.wait_for(consumer.getone(), 30)
    assert json.loads(record.value)["id"] == event.id

    with pytest.raises(TopicAuthorizationFailedError):  # intake writes reports and does not read them
        await _read_one(as_intake, topics.reports, group=None)
    with pytest.raises(BrokerUnavailable):  # dispatch reads reports and does not write them
        async with kafka_producer(as_dispatch, deliver_within_ms=5000) as producer:
            await publish(producer, topics.reports, event)
    for service in ("intake", "dispatch"):
        kafka_access.revoke(admin, secure.local, service_grant(service, topics), secure_kafka.MECHANISM)
