"""`griddispatch contracts ...`: the machine-readable contracts, generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from griddispatch.console import fail, friendly
from griddispatch.params import topic_prefix

contracts_app = typer.Typer(
    help="Contracts generated from the code (AsyncAPI for the Kafka topics, JSON Schemas of the events' data).",
    no_args_is_help=True,
)


@contracts_app.command("asyncapi")
@friendly
def asyncapi(
    out: Annotated[Path | None, typer.Option("--out", help="write the YAML here instead of printing it")] = None,
    prefix: Annotated[
        str, typer.Option(parser=topic_prefix, help="topic prefix the document names topics with")
    ] = "griddispatch",
) -> None:
    """The AsyncAPI 3.0 document of every topic, key, header, schema and consumer group, as YAML."""
    from griddispatch.asyncapi import build_asyncapi, render_yaml

    text = render_yaml(build_asyncapi(prefix))
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {out}", err=True)


@contracts_app.command("schemas")
@friendly
def schemas(
    out: Annotated[Path, typer.Option("--out", help="the folder to write <type>.json into")] = Path(
        "docs/schemas/events"
    ),
) -> None:
    """The JSON Schema of each event type's `data` (what every event's `dataschema` names), one file a type."""
    from shared.events.schemas import data_schema, file_name, render
    from shared.events.types import EVENT_TYPES

    try:
        out.mkdir(parents=True, exist_ok=True)
        for event_type in EVENT_TYPES:
            (out / file_name(event_type)).write_text(render(data_schema(event_type)), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write into {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {len(EVENT_TYPES)} schemas into {out}", err=True)
