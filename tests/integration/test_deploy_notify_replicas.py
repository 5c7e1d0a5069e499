"""Several notify replicas behind one Service: a live stream resumed on another replica loses nothing.

What docs/deploy.md relies on to run notify without sticky sessions: stream ids are the database's, so a
client that reconnects with Last-Event-ID to a different process gets exactly what it missed, then live rows.
"""

from __future__ import annotations

import pytest

from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings
from tests.integration.test_notify_streams import HEARTBEAT_S, insert, key_for, new_unit, received, serve, stream

pytestmark = pytest.mark.infra


async def test_a_stream_resumed_on_another_replica_misses_and_repeats_nothing(
    database_settings: DatabaseSettings,
) -> None:
    async with serve(database_settings) as first, serve(database_settings) as second:
        async with first.pool.acquire() as conn:
            await import_directory(conn, PROJECT_ROOT / "data" / "sample-district", imported_by="tests")
        unit = new_unit()
        key = await key_for(first, unit)
        async with stream(first, unit, key) as sse:
            seen = await insert(first.pool, unit, 1)
            assert await received(sse, 1) == seen
            live = await insert(second.pool, unit, 2)  # written through the other replica's pool
            assert await received(sse, 2) == live
            seen += live

        missed = await insert(first.pool, unit, 3)  # while the client reconnects, through the load balancer
        async with stream(second, unit, key, headers={"Last-Event-ID": str(seen[-1])}) as sse:
            assert await received(sse, 3) == missed
            later = await insert(first.pool, unit, 2)
            assert await received(sse, 2) == later
            await sse.nothing_within(3 * HEARTBEAT_S)  # no duplicates
