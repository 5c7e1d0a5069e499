"""Grants applied to a broker with Kafka's own tools (kafka-configs, kafka-acls), run from the local jars.

Each call starts one JVM (`java -cp <jars> kafka.admin.ConfigCommand|AclCommand`), connecting as the admin
principal of `KafkaSettings` (GRIDDISPATCH_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME,
_SASL_PASSWORD), written to a private properties file for the call. A grant is idempotent; so is a revoke.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path

from griddispatch.infra.kafka import LOG4J, ensure_jars, java
from griddispatch.kafka_access.grants import Acl, Grant
from shared.errors import ConfigurationError
from shared.settings import KafkaSettings, LocalInfraSettings

_PASSWORD = re.compile(r"^[A-Za-z0-9_\-.~]{12,128}$")  # nothing ConfigCommand's [k=v,...] syntax would split


def new_password() -> str:
    return secrets.token_urlsafe(24)


def check_password(password: str) -> str:
    if not _PASSWORD.match(password):
        raise ConfigurationError("a Kafka password: 12 to 128 of letters, digits and _-.~")
    return password


def _jaas(settings: KafkaSettings) -> str:
    security = settings.client_security()
    module = (
        "org.apache.kafka.common.security.plain.PlainLoginModule"
        if settings.sasl_mechanism == "PLAIN"
        else "org.apache.kafka.common.security.scram.ScramLoginModule"
    )
    return (
        f'{module} required username="{security["sasl_plain_username"]}" password="{security["sasl_plain_password"]}";'
    )


@contextmanager
def command_config(settings: KafkaSettings) -> Iterator[Path]:
    """The admin client's properties in a file only we can read, removed afterwards."""
    lines = [f"security.protocol={settings.security_protocol}"]
    if settings.security_protocol != "PLAINTEXT":
        lines += [f"sasl.mechanism={settings.sasl_mechanism}", f"sasl.jaas.config={_jaas(settings)}"]
    fd, name = tempfile.mkstemp(prefix="griddispatch-kafka-admin-", suffix=".properties")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _run_tool(settings: KafkaSettings, local: LocalInfraSettings, main: str, args: list[str]) -> str:
    libs = ensure_jars(local)
    with command_config(settings) as config:
        argv = [
            java(),
            "-Xmx256m",
            # a short-lived tool: the quick compiler only and one GC thread start it in about half the time
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Dlog4j.configuration=file:{LOG4J}",
            "-cp",
            f"{libs}/*",
            main,
            "--bootstrap-server",
            settings.bootstrap_servers,
            "--command-config",
            str(config),
            *args,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise ConfigurationError(
            f"{main.rsplit('.', 1)[-1]} against {settings.bootstrap_servers} failed: "
            f"{(result.stderr or result.stdout)[-1500:].strip()}"
        )
    return result.stdout


def acl_arguments(username: str, acls: list[Acl]) -> list[str]:
    """kafka-acls arguments for ACLs of one resource type, pattern and operations (one JVM for them all)."""
    first = acls[0]
    args = ["--allow-principal", f"User:{username}"]
    for operation in first.operations:
        args += ["--operation", operation]
    for acl in acls:
        args += ["--cluster"] if acl.resource_type == "cluster" else [f"--{acl.resource_type}", acl.name]
    args += ["--resource-pattern-type", "prefixed" if first.pattern_type == "prefix" else "literal"]
    return args


def _batches(grant: Grant) -> list[list[Acl]]:
    def key(acl: Acl) -> tuple[str, str, tuple[str, ...]]:
        return (acl.resource_type, acl.pattern_type, acl.operations)

    return [list(group) for _, group in groupby(sorted(grant.acls, key=key), key=key)]


def set_credentials(
    settings: KafkaSettings, local: LocalInfraSettings, username: str, password: str, mechanism: str
) -> None:
    """Create or replace the user's SCRAM credential (4096 iterations, the broker's minimum)."""
    check_password(password)
    _run_tool(
        settings,
        local,
        "kafka.admin.ConfigCommand",
        ["--alter", "--entity-type", "users", "--entity-name", username, "--add-config",
         f"{mechanism}=[iterations=4096,password={password}]"],
    )  # fmt: skip


def delete_credentials(settings: KafkaSettings, local: LocalInfraSettings, username: str, mechanism: str) -> None:
    try:
        _run_tool(
            settings,
            local,
            "kafka.admin.ConfigCommand",
            ["--alter", "--entity-type", "users", "--entity-name", username, "--delete-config", mechanism],
        )
    except ConfigurationError as exc:
        if "not exist" not in str(exc) and "ResourceNotFound" not in str(exc):
            raise


def grant(settings: KafkaSettings, local: LocalInfraSettings, what: Grant, password: str, mechanism: str) -> None:
    """Give the principal its credential and exactly its ACLs (ACLs it held beyond them are not touched)."""
    set_credentials(settings, local, what.username, password, mechanism)
    for batch in _batches(what):
        _run_tool(settings, local, "kafka.admin.AclCommand", ["--add", *acl_arguments(what.username, batch)])


def revoke_acls(settings: KafkaSettings, local: LocalInfraSettings, what: Grant) -> None:
    """Take the grant's ACLs away (the principal may still sign in, and is refused everything)."""
    for batch in _batches(what):
        _run_tool(
            settings, local, "kafka.admin.AclCommand", ["--remove", "--force", *acl_arguments(what.username, batch)]
        )


def revoke(settings: KafkaSettings, local: LocalInfraSettings, what: Grant, mechanism: str) -> None:
    """Take the grant's ACLs and the credential away: the principal can neither sign in nor read."""
    revoke_acls(settings, local, what)
    delete_credentials(settings, local, what.username, mechanism)


def list_acls(settings: KafkaSettings, local: LocalInfraSettings, username: str) -> str:
    return _run_tool(settings, local, "kafka.admin.AclCommand", ["--list", "--principal", f"User:{username}"])
