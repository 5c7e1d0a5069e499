"""`griddispatch kafka-access ...`: principals, credentials and ACLs on Kafka (docs/events.md "ACLs"), and
`griddispatch infra secure-kafka up | down`: a separate local broker that enforces them.

The grant and revoke commands connect as the admin principal of GRIDDISPATCH_KAFKA_* (a super user) and run
Kafka's own kafka-configs and kafka-acls from the local jars.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from griddispatch.console import friendly
from griddispatch.infra import secure_kafka
from griddispatch.kafka_access import broker, grants, strimzi
from griddispatch.kafka_access.grants import Grant
from shared.settings import KafkaSettings, LocalInfraSettings
from shared.topics import Topics

access_app = typer.Typer(help="Kafka principals and their ACLs.", no_args_is_help=True)
secure_app = typer.Typer(help="A separate local broker with SASL/SCRAM and ACLs (port 29411).", no_args_is_help=True)
CodeArg = Annotated[str, typer.Argument(help="department code, e.g. market_supervision")]
ServiceArg = Annotated[str, typer.Argument(help="intake, dispatch, escalation or notify")]
PasswordOpt = Annotated[
    str | None,
    typer.Option(envvar="GRIDDISPATCH_KAFKA_GRANT_PASSWORD", help="the principal's password (default: a new one)"),
]


def _grant(what: Grant, password: str | None) -> None:
    settings = KafkaSettings()
    chosen = broker.check_password(password) if password else broker.new_password()
    broker.grant(settings, LocalInfraSettings(), what, chosen, settings.sasl_mechanism)
    acls = [f"{a.resource_type}:{a.pattern_type}:{a.name} {','.join(a.operations)}" for a in what.acls]
    typer.echo(json.dumps({"username": what.username, "password": chosen, "mechanism": settings.sasl_mechanism,
                           "acls": acls}, indent=2))  # fmt: skip


def _revoke(what: Grant) -> None:
    settings = KafkaSettings()
    broker.revoke(settings, LocalInfraSettings(), what, settings.sasl_mechanism)
    typer.echo(f"revoked User:{what.username}: {len(what.acls)} ACLs and its {settings.sasl_mechanism} credential")


def _topics() -> Topics:
    return Topics(KafkaSettings().topic_prefix)


def _department(code: str) -> Grant:
    try:
        return grants.department_grant(code, _topics())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _service(name: str) -> Grant:
    try:
        return grants.service_grant(name, _topics())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@access_app.command("grant-department")
@friendly
def grant_department(code: CodeArg, password: PasswordOpt = None) -> None:
    """Give a department system its principal, SCRAM credential and exactly its ACLs; prints the password."""
    _grant(_department(code), password)


@access_app.command("revoke-department")
@friendly
def revoke_department(code: CodeArg) -> None:
    """Take the department system's ACLs and credential away."""
    _revoke(_department(code))


@access_app.command("grant-service")
@friendly
def grant_service(service: ServiceArg, password: PasswordOpt = None) -> None:
    """Give a griddispatch service its principal, credential and the ACLs it needs."""
    _grant(_service(service), password)


@access_app.command("revoke-service")
@friendly
def revoke_service(service: ServiceArg) -> None:
    """Take a service's ACLs and credential away."""
    _revoke(_service(service))


@access_app.command("acls")
@friendly
def list_acls(username: Annotated[str, typer.Argument(help="the principal's user name")]) -> None:
    """The ACLs the broker holds for User:<username>."""
    typer.echo(broker.list_acls(KafkaSettings(), LocalInfraSettings(), username).rstrip())


@access_app.command("strimzi")
@friendly
def write_strimzi(
    department: Annotated[list[str] | None, typer.Option(help="a department code (repeat)")] = None,
    registry: Annotated[
        Path | None, typer.Option(exists=True, file_okay=False, help="every department of this registry directory")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """The same grants as Strimzi KafkaUser resources (deploy/k8s/kafka/users.yaml)."""
    codes = [*(strimzi.registry_departments(registry) if registry else []), *(department or [])]
    for code in codes:
        _department(code)
    text = strimzi.users_yaml(codes, _topics(), source=f"{registry.name}/departments.yaml" if registry else "")
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}")


def _secure() -> secure_kafka.SecureBroker:
    return secure_kafka.SecureBroker(LocalInfraSettings())


@secure_app.command("up")
@friendly
def secure_up() -> None:
    """Start the broker (idempotent), wait until the admin principal makes a round trip, print its settings."""
    secure = _secure()
    secure_kafka.start(secure)
    asyncio.run(secure_kafka.wait_ready(secure))
    typer.echo(f"secure kafka ready at {secure.bootstrap_servers}; as its admin principal:")
    for name, value in secure.service_env(secure_kafka.ADMIN_USER, secure.admin_password).items():
        typer.echo(f"export {name}={value}")


@secure_app.command("down")
@friendly
def secure_down(
    remove_data: Annotated[bool, typer.Option(help="delete its data (credentials and ACLs too)")] = False,
) -> None:
    """Stop the secure broker of ours."""
    stopped = secure_kafka.stop(_secure(), remove_data=remove_data)
    typer.echo("secure kafka stopped" if stopped else "the secure kafka broker of ours was not running")
