"""The commands' database: one connection per command, from the GRIDDISPATCH_DB_* settings, closed after.

clients = with_database(list_clients)                     # the schema migrated first (the default)
rows = with_database(list_versions, migrated=False)       # a read that changes nothing
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from shared.settings import DatabaseSettings

T = TypeVar("T")


def with_database(work: Callable[[asyncpg.Connection], Awaitable[T]], *, migrated: bool = True) -> T:
    """Run `work` on a fresh connection (after the pending migrations unless `migrated=False`) and close it."""
    from shared.db import migrate
    from shared.db.pool import connect

    async def go() -> T:
        conn = await connect(DatabaseSettings())
        try:
            if migrated:
                await migrate(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())
