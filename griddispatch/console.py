"""How commands end: our expected errors and usage errors become one clear line on stderr and exit status 2."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, NoReturn, TypeVar

import typer

from shared.errors import GridDispatchError

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def friendly(func: Callable[..., T]) -> Callable[..., T]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except GridDispatchError as exc:
            fail(exc.message)

    return wrapper


def usage_line(exc: typer.TyperException) -> str:
    """A usage error on one line: what is wrong (the option, the value, the form expected) and where to look."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see '{ctx.command_path} --help')" if ctx is not None else message


def run_cli(app: typer.Typer, args: Sequence[str]) -> int:
    """Run the command; a usage error (a bad option value, a missing argument) is one line and exit status 2."""
    try:
        code = app(args=list(args), prog_name="griddispatch", standalone_mode=False)
    except typer.TyperException as exc:  # typer's own click: UsageError, BadParameter, NoSuchOption, ...
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group without a command: its help, as typer shows it
            if exc.format_message().strip():  # with rich, typer has printed it already
                exc.show()  # type: ignore[attr-defined]
        else:
            typer.secho(f"error: {usage_line(exc)}", fg=typer.colors.RED, err=True)
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    return code if isinstance(code, int) else 0
