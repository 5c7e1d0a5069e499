"""Sessions on the real PostgreSQL: start_session (what every sign-in method ends in), refresh rotation and reuse."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.people import sessions, tokens
from shared.settings import AuthSettings, DatabaseSettings
from tests.people_rows import insert_person

pytestmark = pytest.mark.infra
SETTINGS = AuthSettings()


@pytest.fixture
async def conn(database_settings: DatabaseSettings):  # type: ignore[no-untyped-def]
    connection = await asyncpg.connect(database_settings.url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_start_session_gives_tokens_naming_the_person_and_session(conn: asyncpg.Connection) -> None:
    person_id, _ = await insert_person(conn)
    now = datetime.now(UTC)
    pair = await sessions.start_session(conn, person_id, method="oidc", settings=SETTINGS, user_agent="ua", now=now)
    claims = tokens.read(await sessions.signing_key(conn, SETTINGS), pair.access_token, now=now)
    assert (claims.person_id, str(claims.session_id)) == (person_id, pair.session_id)
    assert pair.expires_in == 15 * 60 and pair.refresh_token.startswith("gdr_")
    row = await conn.fetchrow("SELECT * FROM person_sessions WHERE id = $1", uuid.UUID(pair.session_id))
    assert row["method"] == "oidc" and row["expires_at"] - row["created_at"] == timedelta(hours=12)
    assert pair.refresh_token not in str(dict(row)) and pair.refresh_token not in repr(pair)
    audit = await conn.fetchrow("SELECT event, detail FROM people_audit WHERE person_id = $1", person_id)
    assert audit["event"] == "sign_in" and '"oidc"' in audit["detail"]


async def test_a_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(conn: asyncpg.Connection) -> None:
    person_id, _ = await insert_person(conn)
    first = await sessions.start_session(conn, person_id, method="password", settings=SETTINGS)
    second = (await sessions.refresh(conn, first.refresh_token, settings=SETTINGS)).tokens
    assert second.session_id == first.session_id and second.refresh_token != first.refresh_token
    third = (await sessions.refresh(conn, second.refresh_token, settings=SETTINGS)).tokens
    with pytest.raises(tokens.TokenRevoked):
        await sessions.refresh(conn, first.refresh_token, settings=SETTINGS)  # spent: somebody kept a copy
    with pytest.raises(tokens.TokenRevoked):
        await sessions.refresh(conn, third.refresh_token, settings=SETTINGS)  # the whole session went with it
    reason = await conn.fetchval("SELECT revoke_reason FROM person_sessions WHERE id = $1", uuid.UUID(first.session_id))
    assert reason == "refresh_reuse"
    with pytest.raises(tokens.TokenInvalid):
        await sessions.refresh(conn, "gdr_" + "x" * 43, settings=SETTINGS)
