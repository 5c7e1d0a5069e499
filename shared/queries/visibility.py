"""Which rows of `cases` and `submissions` a client may read: those sharing a scope key with it."""

from __future__ import annotations

from shared.api_clients import ApiClient


def visibility_of(client: ApiClient) -> list[str] | None:
    """The scope keys a row must share with the client; None for a client that sees everything."""
    return None if client.sees_all else client.visibility


def visible(param: str, column: str = "scope_keys") -> str:
    """The filter on a `text[]` parameter from `visibility_of`: `visible("$2", "c.scope_keys")`."""
    return f"({param}::text[] IS NULL OR {column} && {param})"
