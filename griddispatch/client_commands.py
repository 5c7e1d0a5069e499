"""`griddispatch clients create | list | revoke`: API keys for hotline systems, apps, departments, command centres."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import typer

from griddispatch.console import friendly
from griddispatch.database import with_database
from griddispatch.params import scope_name, unit_scope, whole_in

clients_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
T = TypeVar("T")


def _describe(client: Any) -> dict[str, Any]:
    return {
        "id": str(client.id),
        "name": client.name,
        "key_prefix": client.key_prefix,
        "scopes": sorted(client.scopes),
        "units": sorted(client.units),
        "source": client.source,
        "rate_per_min": client.rate_per_min,
        "created_at": client.created_at.isoformat(),
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
    }


@clients_app.command("create")
@friendly
def create(
    name: Annotated[str, typer.Option(help="who this client is, e.g. '莲湖区12345热线'")],
    scope: Annotated[
        list[str], typer.Option(parser=scope_name, help="submit, read, act, supervise, personal_data, admin (repeat)")
    ],
    unit: Annotated[
        list[str] | None,
        typer.Option(
            parser=unit_scope,
            help="what it sees: unit:<code>, branch:<code>, department:<code>, * (repeat); none: only what it submits",
        ),
    ] = None,
    source: Annotated[str | None, typer.Option(help="the report source it speaks for (hotline, grid_app, ...)")] = None,
    rate_per_min: Annotated[int, typer.Option(parser=whole_in(1), help="requests per minute before 429")] = 600,
) -> None:
    """Create a client and print its key once: store it now, it cannot be shown again."""
    from shared.api_clients import create_client

    client, key = with_database(
        lambda conn: create_client(
            conn, name=name, scopes=scope, units=unit or [], source=source, rate_per_min=rate_per_min
        )
    )
    typer.echo(json.dumps({**_describe(client), "key": key}, ensure_ascii=False, indent=2))


@clients_app.command("list")
@friendly
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every client with its scopes and units (never the key)."""
    from shared.api_clients import list_clients

    clients = [_describe(c) for c in with_database(list_clients)]
    if as_json:
        typer.echo(json.dumps(clients, ensure_ascii=False, indent=2))
        return
    for c in clients:
        state = "revoked" if c["revoked_at"] else "active"
        typer.echo(
            f"{c['id']}  {c['key_prefix']}…  {state:7}  {c['name']}  {','.join(c['scopes'])}  {','.join(c['units'])}"
        )


@clients_app.command("revoke")
@friendly
def revoke(client: Annotated[str, typer.Argument(help="client id or key prefix")]) -> None:
    """Revoke a client; its key stops working at once."""
    from shared.api_clients import revoke_client

    revoked = with_database(lambda conn: revoke_client(conn, client))
    typer.echo(f"revoked: {revoked.id} ({revoked.name})")
