"""`griddispatch infra cluster up | down | status | kill | start`: the three-broker KRaft cluster on loopback.

For trying the fault scenario by hand (docs/cluster.md); the cluster is apart from `infra up`'s single broker,
under `<GRIDDISPATCH_LOCAL_DIR>/kafka-cluster/`, brokers on 29401/29403/29405.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from griddispatch.console import friendly
from griddispatch.infra import cluster as kafka_cluster
from shared.settings import LocalInfraSettings

cluster_app = typer.Typer(help="A three-broker KRaft cluster on loopback (RF 3, min.insync 2).", no_args_is_help=True)
NodeArg = Annotated[int, typer.Argument(min=1, max=3, help="node id, 1-3")]


def _cluster() -> kafka_cluster.Cluster:
    return kafka_cluster.Cluster(LocalInfraSettings())


@cluster_app.command("up")
@friendly
def up() -> None:
    """Start the three nodes (idempotent) and wait until a real event makes the round trip."""
    cluster = _cluster()
    kafka_cluster.start(cluster)
    asyncio.run(kafka_cluster.wait_ready(cluster))
    typer.echo(f"cluster ready at {cluster.bootstrap_servers}")
    for name, value in cluster.service_env().items():
        typer.echo(f"export {name}={value}")


@cluster_app.command("down")
@friendly
def down() -> None:
    """Stop every node of ours."""
    stopped = kafka_cluster.stop(_cluster())
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "no node of ours was running")


@cluster_app.command("status")
@friendly
def status() -> None:
    """Which nodes run, and which brokers the cluster's metadata lists."""
    cluster = _cluster()
    running = kafka_cluster.running(cluster)
    typer.echo(f"running nodes: {running or 'none'}")
    if running:
        typer.echo(f"brokers listed: {sorted(asyncio.run(kafka_cluster.live_brokers(cluster)))}")


@cluster_app.command("kill")
@friendly
def kill(node: NodeArg) -> None:
    """`kill -9` one node."""
    killed = kafka_cluster.kill_node(_cluster(), node)
    typer.echo(f"node {node} killed" if killed else f"node {node} was not running")


@cluster_app.command("start")
@friendly
def start(node: NodeArg) -> None:
    """Start one node again (it keeps its data) and wait until the cluster lists it."""
    cluster = _cluster()
    kafka_cluster.start_node(cluster, node)
    waited = asyncio.run(kafka_cluster.wait_brokers(cluster, kafka_cluster.running(cluster), timeout_s=180))
    typer.echo(f"node {node} listed again after {waited:.1f}s")
