"""`griddispatch contracts ...`: the machine-readable contracts, generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from griddispatch.console import fail, friendly
from griddispatch.params import topic_prefix

contracts_app = typer.Typer(
    help="Contracts generated from the code (AsyncAPI for the Kafka topics).", no_args_is_help=True
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
