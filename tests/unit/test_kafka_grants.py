"""The Kafka grants: exactly what docs/events.md "ACLs" documents, and the kafka-acls arguments applying them."""

from __future__ import annotations

import re
import shlex

import pytest

from griddispatch.kafka_access import broker
from griddispatch.kafka_access.grants import (
    SERVICES,
    Acl,
    department_grant,
    department_username,
    service_grant,
)
from shared.errors import ConfigurationError
from shared.settings import PROJECT_ROOT, KafkaSettings
from shared.topics import Topics

TOPICS = Topics("griddispatch")


def test_a_department_reads_its_literal_topic_and_its_own_group_prefix_only() -> None:
    grant = department_grant("Market_Supervision", TOPICS)
    assert grant.username == "market-supervision"
    assert grant.acls == (
        Acl("topic", "griddispatch.department.market_supervision.assignments", "literal", ("Read", "Describe")),
        Acl("group", "market_supervision.", "prefix", ("Read",)),
    )
    assert not any("Write" in acl.operations for acl in grant.acls)


def _documented_acl_commands() -> list[list[str]]:
    text = (PROJECT_ROOT / "docs" / "events.md").read_text()
    section = text[text.index("## ACLs") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    joined = re.sub(r"\\\n\s*", " ", block)
    return [shlex.split(line) for line in joined.splitlines() if line.startswith("kafka-acls.sh")]


def test_the_documented_kafka_acls_commands_are_what_the_cli_runs() -> None:
    documented = _documented_acl_commands()
    assert len(documented) == 2
    grant = department_grant("market_supervision", TOPICS)
    applied = [broker.acl_arguments(grant.username, [acl]) for acl in grant.acls]
    for doc, args in zip(documented, applied, strict=True):
        options = doc[doc.index("--add") + 1 :]
        assert sorted(options) == sorted(args)


def test_department_codes_that_no_topic_can_carry_are_refused() -> None:
    for bad in ("", "water supply", "a.b", "x*", "-lead"):
        with pytest.raises(ValueError):
            department_username(bad)


def test_services_never_read_a_department_topic_and_only_dispatch_writes_them() -> None:
    for service in SERVICES:
        grant = service_grant(service, TOPICS)
        assert grant.username == f"griddispatch-{service}"
        for acl in grant.acls:
            if ".department." in acl.name:
                assert service == "dispatch" and "Read" not in acl.operations
        described = {a.name for a in grant.acls if a.resource_type == "topic"}
        assert {s.name for s in TOPICS.core_specs()} <= described  # the start-up topic check sees every one
    with pytest.raises(ValueError):
        service_grant("console", TOPICS)


def test_passwords_are_what_kafka_configs_can_carry() -> None:
    assert broker.check_password(broker.new_password())
    for bad in ("short", "has,comma-and-more", "has=equals-sign-too", "white space here"):
        with pytest.raises(ConfigurationError):
            broker.check_password(bad)


def test_the_admin_command_config_carries_the_sasl_login() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_username="admin",
        sasl_password="secret-secret",  # type: ignore[arg-type]
    )
    with broker.command_config(settings) as path:
        text = path.read_text()
        assert oct(path.stat().st_mode)[-3:] == "600"
    assert not path.exists()
    assert "security.protocol=SASL_PLAINTEXT" in text and "sasl.mechanism=SCRAM-SHA-512" in text
    assert 'ScramLoginModule required username="admin" password="secret-secret";' in text


def test_sasl_settings_need_credentials_and_plaintext_stays_the_default() -> None:
    assert KafkaSettings().client_security() == {}
    with pytest.raises(ValueError, match="SASL_USERNAME"):
        KafkaSettings(security_protocol="SASL_PLAINTEXT")
    options = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_username="u",
        sasl_password="p",  # type: ignore[arg-type]
    ).client_security()
    assert options == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u",
        "sasl_plain_password": "p",
    }


def test_dispatch_gives_faust_the_same_principal() -> None:
    from services.dispatch.app import faust_credentials

    assert faust_credentials(KafkaSettings()) is None  # PLAINTEXT: faust's default, nothing changes
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_username="griddispatch-dispatch",
        sasl_password="pw-pw-pw-pw-pw",  # type: ignore[arg-type]
    )
    credentials = faust_credentials(settings)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("griddispatch-dispatch", "pw-pw-pw-pw-pw")
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
