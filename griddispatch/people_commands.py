"""`griddispatch people add | list | show | disable | enable | set-password | roles`: persons who sign in.

Each change is audited with the actor `cli:<os user>`. A password is read from a hidden prompt or, with
`--password-stdin`, from the first line of standard input: never from an argument, which shell history keeps.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from griddispatch.console import fail, friendly
from griddispatch.database import with_database
from griddispatch.params import whole_in
from shared.errors import InvalidInput

people_app = typer.Typer(help="Persons (grid workers, duty officers, handlers, administrators) and their roles.",
                         no_args_is_help=True)  # fmt: skip
T = TypeVar("T")


def grant_text(value: str) -> str:
    """A typer parser: `<role>@<unit>` checked (the role is known, the unit a unit key)."""
    from shared.people.admin import parse_grant

    try:
        parse_grant(value)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message) from None
    return value


def describe(record: Any, *, unmasked: bool = False) -> dict[str, Any]:
    from shared.privacy import mask_phone

    p = record.person
    return {
        "id": p.id,
        "name": p.name,
        "username": p.username,
        "phone": p.phone if unmasked else mask_phone(p.phone),
        "status": p.status.value,
        "source": p.source.value,
        "roles": [{"role": h.role, "unit": h.unit, "source": h.source} for h in record.held],
        "has_password": record.has_password,
        "locked_until": record.locked_until.isoformat() if record.locked_until else None,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _print(record: Any, as_json: bool, *, unmasked: bool = False) -> None:
    body = describe(record, unmasked=unmasked)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{body['id']}  {body['name']}  {body['status']}  ({body['source']})")
    typer.echo(f"  username: {body['username'] or '-'}  phone: {body['phone'] or '-'}  password: "
               f"{'set' if body['has_password'] else 'none'}")  # fmt: skip
    for r in body["roles"]:
        typer.echo(f"  {r['role']}@{r['unit']}  ({r['source']})")


JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
IdArg = Annotated[str, typer.Argument(help="the person's id")]


@people_app.command("add")
@friendly
def add(
    name: Annotated[str, typer.Option(help="the person's name, e.g. '王芳'")],
    person_id: Annotated[str | None, typer.Option("--id", help="an id of your choosing (default: made up)")] = None,
    username: Annotated[str | None, typer.Option(help="a sign-in name (3-32 letters, digits, . _ -)")] = None,
    phone: Annotated[str | None, typer.Option(help="the full phone number (also a sign-in name)")] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(parser=grant_text, help="<role>@<unit>, e.g. grid_worker@unit:610102001001 (repeat)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a person by hand (source `manual`), with roles."""
    from shared.people import store
    from shared.people.admin import check_units_known, parse_grant
    from shared.people.fields import cli_actor

    grants = [parse_grant(r) for r in role or []]

    async def work(conn: asyncpg.Connection) -> Any:
        await check_units_known(conn, grants)
        return await store.add_person(
            conn, person_id=person_id, name=name, username=username, phone=phone, roles=grants, actor=cli_actor()
        )

    _print(with_database(work), as_json)


@people_app.command("list")
@friendly
def list_(
    unit: Annotated[str | None, typer.Option(help="holding a role in this unit, e.g. unit:610102001")] = None,
    role: Annotated[str | None, typer.Option(help="holding this role, e.g. grid_head")] = None,
    status: Annotated[str | None, typer.Option(help="active or disabled")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="part of the name, id or username")] = None,
    limit: Annotated[int, typer.Option(parser=whole_in(1, 1000), help="at most this many")] = 100,
    after: Annotated[str | None, typer.Option(help="the id after which to start (paging)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Persons by id, phones masked; the last line says how to get the next page."""
    from shared.people import store
    from shared.people.model import PersonStatus, RoleName

    if status is not None and status not in PersonStatus.__members__.values():
        fail(f"--status {status!r}: choose active or disabled")
    if role is not None and role not in RoleName.__members__.values():
        fail(f"--role {role!r}: choose from {', '.join(RoleName)}")
    records, next_after = with_database(
        lambda conn: store.list_persons(
            conn, unit=unit, role=role, status=status, query=query, limit=limit, after=after
        )
    )
    rows = [describe(r) for r in records]
    if as_json:
        typer.echo(json.dumps({"items": rows, "next_after": next_after}, ensure_ascii=False, indent=2))
        return
    for r in rows:
        roles = ",".join(f"{x['role']}@{x['unit']}" for x in r["roles"]) or "-"
        typer.echo(f"{r['id']}  {r['name']}  {r['phone'] or '-'}  {r['status']}  {roles}")
    if next_after:
        typer.echo(f"(more: --after {next_after})")


@people_app.command("show")
@friendly
def show(
    person_id: IdArg,
    unmasked: Annotated[bool, typer.Option("--unmasked", help="show the full phone number")] = False,
    audit: Annotated[int, typer.Option(parser=whole_in(0, 1000), help="how many audit entries to show")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """One person: roles with their source, account state, and the latest of their audit."""
    from shared.errors import NotFound
    from shared.people import store

    async def work(conn: asyncpg.Connection) -> Any:
        record = await store.get_record(conn, person_id)
        if record is None:
            raise NotFound(f"no person {person_id!r}")
        return record, await store.audit_of(conn, person_id, audit)

    record, entries = with_database(work)
    trail = [{"at": a.at.isoformat(), "event": a.event, "actor": a.actor, "detail": a.detail} for a in entries]
    if as_json:
        body = {**describe(record, unmasked=unmasked), "audit": trail}
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    _print(record, False, unmasked=unmasked)
    for a in trail:
        typer.echo(f"  {a['at']}  {a['event']}  by {a['actor']}  {json.dumps(a['detail'], ensure_ascii=False)}")


@people_app.command("disable")
@friendly
def disable(person_id: IdArg) -> None:
    """Disable a person: they can no longer sign in (their record and roles stay)."""
    from shared.people import store
    from shared.people.fields import cli_actor

    record = with_database(lambda conn: store.disable(conn, person_id, cli_actor()))
    typer.echo(f"disabled: {record.person.id} ({record.person.name})")


@people_app.command("enable")
@friendly
def enable(person_id: IdArg) -> None:
    """Enable a disabled person again."""
    from shared.people import store
    from shared.people.fields import cli_actor

    record = with_database(lambda conn: store.enable(conn, person_id, cli_actor()))
    typer.echo(f"enabled: {record.person.id} ({record.person.name})")


@people_app.command("set-password")
@friendly
def set_password(
    person_id: IdArg,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from the first line of standard input")
    ] = False,
) -> None:
    """Set a person's password (at least 10 characters of two kinds; not their own id, username or phone)."""
    from shared.people import store
    from shared.people.fields import cli_actor

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    record = with_database(lambda conn: store.set_password(conn, person_id, password, cli_actor()))
    typer.echo(f"password set: {record.person.id} ({record.person.name})")


@people_app.command("roles")
@friendly
def roles(
    person_id: IdArg,
    grant: Annotated[
        list[str] | None, typer.Option("--grant", parser=grant_text, help="<role>@<unit> to grant (repeat)")
    ] = None,
    revoke: Annotated[
        list[str] | None, typer.Option("--revoke", parser=grant_text, help="<role>@<unit> to revoke (repeat)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a person's roles; with --grant / --revoke change them first (registry roles change in the registry)."""
    from shared.errors import NotFound
    from shared.people import store
    from shared.people.admin import check_units_known, parse_grant
    from shared.people.fields import cli_actor

    granted, revoked = [parse_grant(g) for g in grant or []], [parse_grant(r) for r in revoke or []]

    async def work(conn: asyncpg.Connection) -> Any:
        await check_units_known(conn, granted)
        async with conn.transaction():
            for g in revoked:
                await store.revoke_role(conn, person_id, g, cli_actor())
            for g in granted:
                await store.grant_role(conn, person_id, g, cli_actor())
        record = await store.get_record(conn, person_id)
        if record is None:
            raise NotFound(f"no person {person_id!r}")
        return record

    _print(with_database(work), as_json)
