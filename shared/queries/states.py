"""The lifecycle's named sets of states in SQL, for statements built once at import (no query parameter free).

Prefer a parameter (`state = ANY($1::text[])` with `values(SET)`); `sql_list` renders a set where a statement
is a constant shared by several queries. Either way the states come from shared.domain.lifecycle, never retyped.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.lifecycle import State


def values(states: Iterable[State]) -> list[str]:
    """The states as a sorted list of their values: a `text[]` query parameter."""
    return sorted(State(s).value for s in states)


def sql_list(states: Iterable[State]) -> str:
    """The states as an SQL list, `('accepted', 'assigned')`: safe to inline, every value is a State's."""
    return "(" + ", ".join(f"'{v}'" for v in values(states)) + ")"
