"""`griddispatch registry ...` and `griddispatch route --explain`: the registry and routing tools."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from griddispatch.console import friendly
from griddispatch.database import with_database
from griddispatch.params import moment
from shared.errors import InvalidInput

registry_app = typer.Typer(
    help="The registry (units, departments, buildings) and the matter catalog.", no_args_is_help=True
)

DirArg = Annotated[
    Path, typer.Argument(help="directory with units.geojson, departments.yaml, catalog.yaml, buildings.csv")
]


def _problems_exit(exc: Any) -> None:
    for problem in exc.problems:
        typer.echo(f"{problem.file}: {problem.record}: {problem.field}: {problem.message}", err=True)
    typer.secho(f"{len(exc.problems)} problem(s); nothing was imported", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@registry_app.command("validate")
@friendly
def validate(directory: DirArg, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check every file and record; list every problem (exit 1) or summarise what would be imported."""
    from shared.registry_files.load import load_directory
    from shared.registry_files.validate import RegistryFileError, staffing_warnings
    from shared.registry_store.store import counts_of

    try:
        loaded = load_directory(directory)
    except RegistryFileError as exc:
        if as_json:
            problems = [_plain(p) for p in exc.problems]
            typer.echo(json.dumps({"valid": False, "problems": problems}, ensure_ascii=False, indent=2))
            raise typer.Exit(1) from exc
        _problems_exit(exc)
        return
    warnings = staffing_warnings(loaded.registry)
    summary = {
        "valid": True,
        "version": loaded.version,
        **counts_of(loaded),
        "warnings": [_plain(w) for w in warnings],
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _warn(warnings)
        typer.echo(f"valid: version {loaded.version}")
        typer.echo(f"  units: {summary['units']}")
        typer.echo(
            f"  departments: {summary['departments']}, branches: {summary['branches']}, "
            f"buildings: {summary['buildings']}, matter types: {summary['matter_types']}"
        )


def _warn(warnings: Any) -> None:
    for w in warnings:
        typer.secho(f"warning: {w.file}: {w.record}: {w.field}: {w.message}", fg=typer.colors.YELLOW, err=True)
    if warnings:
        typer.secho(f"{len(warnings)} warning(s)", fg=typer.colors.YELLOW, err=True)


def _plain(problem: Any) -> dict[str, str]:
    return {k: str(getattr(problem, k)) for k in ("file", "record", "field", "message")}


@registry_app.command("import")
@friendly
def import_(
    directory: DirArg,
    activate: Annotated[bool, typer.Option("--activate/--no-activate", help="make it the active version")] = True,
    by: Annotated[str, typer.Option(help="who imports (recorded with the version)")] = "cli",
) -> None:
    """Validate and store the directory as a new version (all or nothing), and activate it."""
    from shared.registry_files.validate import RegistryFileError
    from shared.registry_store import import_directory

    try:
        result = with_database(lambda conn: import_directory(conn, directory, imported_by=by, activate_it=activate))
    except RegistryFileError as exc:
        _problems_exit(exc)
        return
    state = "imported" if result.created else "already stored"
    typer.echo(f"{state}: version {result.version}{' (active)' if result.active else ''}")
    typer.echo(f"  {json.dumps(result.counts, ensure_ascii=False)}")
    if result.people is not None:
        _people_line(result.people)


def _people_line(synced: Any) -> None:
    typer.echo(
        f"  people: {synced.listed} listed, {synced.created} new, {synced.updated} updated, "
        f"{synced.granted} roles granted, {synced.revoked} revoked"
    )


@registry_app.command("versions")
@friendly
def versions(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every stored version, oldest first; the active one is marked."""
    from shared.registry_store import list_versions

    rows = with_database(list_versions, migrated=False)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], default=str, ensure_ascii=False, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{'*' if r.active else ' '} {r.version}  {r.imported_at:%Y-%m-%d %H:%M}  by {r.imported_by}  {r.source}"
        )


@registry_app.command("activate")
@friendly
def activate_version(
    version: Annotated[str, typer.Argument(help="a version from `griddispatch registry versions`")],
    by: Annotated[str, typer.Option(help="who switches")] = "cli",
) -> None:
    """Switch the active version (atomically; running services are told by NOTIFY); its people become persons."""
    from shared.registry_store import activate

    synced = with_database(lambda conn: activate(conn, version, switched_by=by))  # migrated: the persons tables
    typer.echo(f"active: {version}")
    _people_line(synced)


def route(
    report_file: Annotated[
        Path, typer.Argument(help="a report as JSON (the intake report body)", metavar="REPORT.json")
    ],
    explain: Annotated[bool, typer.Option("--explain", help="include the rule trace")] = False,
    registry: Annotated[
        Path | None,
        typer.Option(exists=True, file_okay=False, help="route against this directory instead of the active version"),
    ] = None,
    now: Annotated[
        datetime | None,
        typer.Option(parser=moment, metavar="TIME", help="ISO 8601 time with offset to route at (default: now)"),
    ] = None,
) -> None:
    """Decide where a report goes and why, printed as JSON."""
    from shared.domain.routing import route as decide
    from shared.events.facts import report_facts
    from shared.events.types import ReportSubmitted

    at = now or datetime.now(UTC)
    try:
        raw = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read {report_file} as JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{report_file} must hold one JSON object (a report)")
    raw.setdefault("case_id", str(uuid.uuid4()))
    raw.setdefault("case_number", "-")
    raw.setdefault("source", "cli")
    raw.setdefault("received_at", at.isoformat())
    try:
        report = ReportSubmitted.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) + f" ({str(e['msg']).removeprefix('Value error, ')})"
            for e in exc.errors()
        )
        raise InvalidInput(f"{report_file} is not a valid report: {fields}") from exc

    loaded = _load_registry(registry)
    decision = decide(report_facts(report), loaded.registry, loaded.catalog, at)
    body = decision.to_dict()
    if not explain:
        body.pop("trace", None)
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _load_registry(directory: Path | None) -> Any:
    from shared.registry_files.load import load_directory

    if directory is not None:
        return load_directory(directory)
    from shared.registry_store import load_active

    return with_database(load_active, migrated=False)
