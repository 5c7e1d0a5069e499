"""The `griddispatch` command: local infrastructure, the services, the database and the tools.

Every failure we expect (a broker or database that does not answer, a bad setting) ends in one line that
names what is wrong and where, and exit status 2; never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer

from griddispatch.client_commands import clients_app
from griddispatch.cluster_commands import cluster_app
from griddispatch.console import fail, friendly, run_cli
from griddispatch.contracts_commands import contracts_app
from griddispatch.kafka_access_commands import access_app, secure_app
from griddispatch.params import host as host_name
from griddispatch.params import port as port_number
from griddispatch.people_commands import people_app
from griddispatch.registry_commands import registry_app, route
from griddispatch.roster_commands import rosters_app
from griddispatch.simulate_commands import demo_app, simulate
from shared.settings import (
    SERVICE_NAMES,
    DatabaseSettings,
    KafkaSettings,
    LocalInfraSettings,
    ServiceSettings,
)

app = typer.Typer(help="griddispatch: case dispatch for city grid governance.", no_args_is_help=True)
infra_app = typer.Typer(help="The local Kafka broker and PostgreSQL cluster.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
infra_app.add_typer(cluster_app, name="cluster")
infra_app.add_typer(secure_app, name="secure-kafka")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(registry_app, name="registry")
app.add_typer(clients_app, name="clients")
app.add_typer(people_app, name="people")
app.add_typer(rosters_app, name="rosters")
app.add_typer(contracts_app, name="contracts")
app.add_typer(access_app, name="kafka-access")
app.command("route")(friendly(route))
app.add_typer(demo_app, name="demo")
app.command("simulate")(simulate)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --- infrastructure -------------------------------------------------------------------------------


@infra_app.command("up")
@friendly
def infra_up() -> None:
    """Start Kafka (KRaft) and PostgreSQL on loopback; wait until both answer. Idempotent."""
    from griddispatch.infra import stack

    urls = run(stack.infra_up(LocalInfraSettings()))
    for name, url in urls.items():
        typer.echo(f"{name:9} ready at {url}")


@infra_app.command("down")
@friendly
def infra_down() -> None:
    """Stop what `infra up` (and `up`) started, by recorded pid."""
    from griddispatch.infra import stack

    stopped = stack.infra_down(LocalInfraSettings())
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@infra_app.command("status")
@friendly
def infra_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Say what of the infrastructure runs."""
    _print_status(lambda p: p.kind == "infrastructure", as_json)


# --- the whole stack --------------------------------------------------------------------------------


@app.command("up")
@friendly
def up() -> None:
    """Start the infrastructure, migrate, create topics, and start the four services in the background."""
    from griddispatch.infra import stack
    from griddispatch.infra.readiness import no_registry_warning, read_readiness
    from shared.runtime import prepare

    local = LocalInfraSettings()
    run(stack.infra_up(local))
    env = stack.service_env(local)
    run(
        prepare(
            KafkaSettings(bootstrap_servers=env["GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS"]),
            DatabaseSettings(url=env["GRIDDISPATCH_DB_URL"]),
        )
    )
    urls = stack.services_up(local, ServiceSettings())
    for name, url in urls.items():
        docs = "" if name == "dispatch" else f"docs: {url}/docs, "  # faust serves no OpenAPI page
        typer.echo(f"{name:11} {url}  ({docs}metrics: {url}/metrics, ready: {url}/readyz)")
    typer.echo(f"logs and pids under {local.dir}")
    dispatch = read_readiness(urls["dispatch"])
    if dispatch.waits_for_registry_only:
        typer.secho(no_registry_warning(), fg=typer.colors.YELLOW, bold=True)


@app.command("down")
@friendly
def down() -> None:
    """Stop the services and the infrastructure that `up` started."""
    infra_down()


@app.command("status")
@friendly
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each part (infrastructure and services) with its pid, state and URL."""
    _print_status(lambda p: True, as_json)


def _print_status(keep: Callable[[Any], bool], as_json: bool) -> None:
    from griddispatch.infra import stack

    parts = [p for p in stack.status(LocalInfraSettings()) if keep(p)]
    if as_json:
        typer.echo(json.dumps([asdict(p) for p in parts], indent=2))
        return
    for p in parts:
        ready = f"  {p.ready}" if p.ready else ""
        typer.echo(f"{p.name:11} {p.state:8} pid={p.pid or '-':<8} {p.url or ''}{ready}")


@app.command("serve")
@friendly
def serve(
    service: Annotated[str, typer.Argument(help="intake, dispatch, escalation or notify")],
    port: Annotated[
        int | None, typer.Option(parser=port_number, help="port to listen on, 1-65535 (default from settings)")
    ] = None,
    host: Annotated[str | None, typer.Option(parser=host_name, help="address to listen on")] = None,
    worker_id: Annotated[str | None, typer.Option(help="this worker's id when several run")] = None,
) -> None:
    """Run one service in the foreground."""
    if service not in SERVICE_NAMES:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICE_NAMES)}")
    overrides: dict[str, Any] = {}
    if port is not None:
        overrides[f"{service}_port"] = port
    if host is not None:
        overrides["host"] = host
    if worker_id is not None:
        overrides["worker_id"] = worker_id
    settings = ServiceSettings(**overrides)
    importlib.import_module(f"services.{service}.serve").serve(settings)


@app.command("check")
@friendly
def check() -> None:
    """Check that the configured Kafka broker and PostgreSQL answer."""
    from shared.health import run_checks, standard_checks

    results = run(run_checks(standard_checks(KafkaSettings(), DatabaseSettings())))
    for name, result in results.items():
        typer.echo(f"{name:9} {'ok' if result.ok else 'FAILED: ' + (result.error or '')}")
    if not all(r.ok for r in results.values()):
        raise typer.Exit(2)


# --- database and topics ----------------------------------------------------------------------------


@db_app.command("migrate")
@friendly
def db_migrate() -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    from griddispatch.database import with_database
    from shared.db import migrate

    applied = with_database(migrate, migrated=False)
    typer.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@topics_app.command("ensure")
@friendly
def topics_ensure() -> None:
    """Create the topics that are missing; leave existing ones alone."""
    from shared.kafka import ensure_topics
    from shared.topics import Topics

    settings = KafkaSettings()
    created = run(ensure_topics(settings, Topics(settings.topic_prefix).core_specs()))
    typer.echo(f"created: {', '.join(created)}" if created else "all topics exist")


def main() -> None:
    import logging

    from shared.logging import configure_logging
    from shared.settings import LogSettings

    # The command reports failures itself; library chatter (aiokafka's connection retries) stays quiet.
    configure_logging("cli", LogSettings(level="WARNING"))
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    raise SystemExit(run_cli(app, sys.argv[1:]))


if __name__ == "__main__":
    main()
