"""A LISTEN connection taken from a pool that is taken again when it is lost (terminated backend, restart).

A connection lost underneath is detached from its pool: every call on it fails, and its LISTEN is gone with it.
Without a new one a worker sleeping on NOTIFY is only woken by its timeouts, and a `finally` that removes the
listener from a dead connection raises. `ensure()` before each look gets a live one (logged when it is taken
again); `on_lost` is called as soon as the loss is seen, so the owner looks (and re-listens) at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg

from shared.logging import get_logger
from shared.retriable import RETRIABLE_READING

log = get_logger(__name__)


class PoolListener:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channel: str,
        callback: Callable[..., None],
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._channel = channel
        self._callback = callback
        self._on_lost_hook = on_lost
        self._conn: Any = None
        self._lost = False
        self.acquired = 0  # how many times a connection was taken for LISTEN (1 + the reconnections)

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._lost

    async def ensure(self) -> None:
        """LISTEN on a live connection: keep the current one, or take a new one when it was lost."""
        if self.listening:
            return
        await self.close()
        conn = await self._pool.acquire()
        try:
            await conn.add_listener(self._channel, self._callback)
            if hasattr(conn, "add_termination_listener"):
                conn.add_termination_listener(self._terminated)
        except BaseException:
            with contextlib.suppress(*RETRIABLE_READING):
                await self._pool.release(conn)
            raise
        self._conn, self._lost = conn, False
        self.acquired += 1
        if self.acquired > 1:
            log.warning("listen_connection_reacquired", channel=self._channel, times=self.acquired - 1)

    def lost(self) -> None:
        """Mark the connection lost (an error on it was seen): the next `ensure()` takes another."""
        self._lost = True

    async def close(self) -> None:
        """Stop listening and give the connection back; a dead connection is only let go."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            with contextlib.suppress(*RETRIABLE_READING):
                if hasattr(conn, "remove_termination_listener"):
                    conn.remove_termination_listener(self._terminated)
                await conn.remove_listener(self._channel, self._callback)
        finally:  # cancelled during the UNLISTEN (a stop), the connection still goes back: Pool.close waits for it
            with contextlib.suppress(*RETRIABLE_READING):
                await self._pool.release(conn)

    def _terminated(self, *_: object) -> None:
        self._lost = True
        log.warning("listen_connection_lost", channel=self._channel)
        self._on_lost_hook()
