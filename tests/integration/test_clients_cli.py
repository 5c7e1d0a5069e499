"""`griddispatch clients create | list | revoke` against the real database."""

from __future__ import annotations

import json

import asyncpg

from shared.api_clients import authenticate
from shared.settings import DatabaseSettings
from tests.cli import griddispatch


async def test_create_list_revoke(empty_database: DatabaseSettings) -> None:
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    created = griddispatch(
        "clients",
        "create",
        "--name",
        "莲湖区12345热线",
        "--scope",
        "submit",
        "--scope",
        "read",
        "--unit",
        "unit:610199",
        "--source",
        "hotline",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    key = client["key"]
    assert key.startswith("gdk_") and client["scopes"] == ["read", "submit"] and client["units"] == ["unit:610199"]

    conn = await asyncpg.connect(empty_database.url)
    try:
        stored = await conn.fetchrow("SELECT key_hash FROM api_clients WHERE id = $1::uuid", client["id"])
        assert key not in stored["key_hash"]  # only the hash is kept
        assert (await authenticate(conn, key)).name == "莲湖区12345热线"  # type: ignore[union-attr]

        listed = json.loads(griddispatch("clients", "list", "--json", env=env).stdout)
        assert [c["id"] for c in listed] == [client["id"]] and "key" not in listed[0]

        revoked = griddispatch("clients", "revoke", client["key_prefix"], env=env)
        assert revoked.returncode == 0 and client["id"] in revoked.stdout
        assert await authenticate(conn, key) is None
    finally:
        await conn.close()


def test_bad_scope_or_unit_is_refused_clearly(empty_database: DatabaseSettings) -> None:
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    bad_scope = griddispatch("clients", "create", "--name", "x", "--scope", "everything", "--unit", "*", env=env)
    assert bad_scope.returncode == 2 and "'--scope': 'everything' is not a scope" in bad_scope.stderr
    assert "Traceback" not in bad_scope.stderr
    bad_unit = griddispatch("clients", "create", "--name", "x", "--scope", "read", "--unit", "610199", env=env)
    assert bad_unit.returncode == 2 and "unit:<code>" in bad_unit.stderr
    unknown = griddispatch("clients", "revoke", "gdk_nothing", env=env)
    assert unknown.returncode == 2 and "no client" in unknown.stderr
