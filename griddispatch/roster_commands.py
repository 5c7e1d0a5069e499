"""`griddispatch rosters show | set | swap`: a unit's duty roster (值班表), as the roster API reads and writes it."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from griddispatch.console import fail, friendly
from griddispatch.database import with_database

rosters_app = typer.Typer(help="Duty rosters of units: weekly shifts and one-off swaps.", no_args_is_help=True)


def roster_unit(value: str) -> str:
    kind, _, code = value.partition(":")
    if kind not in ("unit", "department", "branch") or not code:
        raise typer.BadParameter(f"{value!r} is not a unit; expected unit:<code>, branch:<code> or department:<code>")
    return value


UnitArg = Annotated[str, typer.Argument(parser=roster_unit, help="unit:<code>, department:<code> or branch:<code>")]


def _by(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _print(roster: Any, as_json: bool, on_duty: tuple[str, ...] | None = None) -> None:
    from shared.people.roster_schema import roster_out

    shown: dict[str, Any] = roster_out(roster)
    if on_duty is not None:
        shown["on_duty_now"] = list(on_duty)
    if as_json:
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{roster.unit}: {len(roster.shifts)} shift(s), {len(roster.swaps)} swap(s)")
    for s in shown["shifts"]:
        days = s["days"] + (f" weekdays {s['weekdays']}" if s["weekdays"] else "")
        typer.echo(f"  {s['name'] or '-':8} {s['start']}-{s['end']}  {days:14}  {', '.join(s['persons'])}")
    for w in shown["swaps"]:
        typer.echo(f"  swap {w['first']}..{w['last']}  {w['replaced']} -> {w['by']}  {w['reason']}")
    if on_duty is not None:
        typer.echo(f"  on duty now: {', '.join(on_duty) or 'nobody'}")


@rosters_app.command("show")
@friendly
def show(unit: UnitArg, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The unit's shifts and swaps, and who is on duty now (on the national working-day calendar)."""
    from shared.people import roster_store
    from shared.people.duty import on_duty
    from shared.settings import DistrictSettings

    roster = with_database(lambda conn: roster_store.show(conn, unit))
    _print(roster, as_json, on_duty(roster, datetime.now(UTC), tz=DistrictSettings().timezone))


@rosters_app.command("set")
@friendly
def set_(
    unit: UnitArg,
    file: Annotated[Path, typer.Argument(help="JSON or YAML: {shifts: [{name, start, end, days, weekdays, persons}]}")],
    by: Annotated[str | None, typer.Option(help="who makes the change (default cli:<os user>)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replace the unit's weekly shifts with those in the file (its swaps stay)."""
    from shared.people import roster_store
    from shared.people.roster_schema import parse_roster

    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        fail(f"{file} is not JSON or YAML: {' '.join(str(exc).split())}")
    body = parse_roster(raw)
    roster = with_database(lambda conn: roster_store.set_roster(conn, unit, body, _by(by)))
    _print(roster, as_json)


@rosters_app.command("swap")
@friendly
def swap(
    unit: UnitArg,
    replaced: Annotated[str, typer.Option(help="the person who is off")],
    by_person: Annotated[str, typer.Option("--with", help="the person on duty in their place")],
    first: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day (YYYY-MM-DD)")],
    last: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day (default: first)")] = None,
    reason: Annotated[str, typer.Option(help="why")] = "",
    by: Annotated[str | None, typer.Option(help="who makes the change (default cli:<os user>)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A one-off swap on the shifts starting from FIRST to LAST."""
    from pydantic import ValidationError

    from shared.people import roster_store
    from shared.people.roster_schema import SwapIn

    days: tuple[date, date | None] = (first.date(), last.date() if last else None)
    try:
        body = SwapIn(first=days[0], last=days[1], replaced=replaced, by=by_person, reason=reason)
    except ValidationError as exc:
        fail(f"swap: {exc.errors()[0]['msg']}")
    roster = with_database(lambda conn: roster_store.add_swap(conn, unit, body, _by(by)))
    _print(roster, as_json)
