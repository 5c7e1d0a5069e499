"""The active registry, loaded at start and reloaded when another process activates a version (NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from shared.db.listen import PoolListener
from shared.errors import InfrastructureUnavailable, NotFound
from shared.logging import get_logger
from shared.registry_files.load import LoadedRegistry
from shared.registry_store import load_active
from shared.registry_store.store import NOTIFY_CHANNEL

log = get_logger(__name__)
DB_ERRORS = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    InfrastructureUnavailable,
)
CHECK_S = 30.0  # a look at the LISTEN connection without NOTIFY now and then


class NoActiveRegistry(InfrastructureUnavailable):
    """Nothing can be routed until a registry is imported; messages wait rather than being dropped."""

    code = "no_active_registry"


class RegistryHolder:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._loaded: LoadedRegistry | None = None
        self._changed = asyncio.Event()  # a version was activated, or the LISTEN connection was lost
        self._listener = PoolListener(pool, NOTIFY_CHANNEL, self._on_notify, on_lost=self._changed.set)

    @property
    def loaded(self) -> LoadedRegistry:
        if self._loaded is None:
            raise NoActiveRegistry("no registry version is active: run `griddispatch registry import DIR`")
        return self._loaded

    async def start(self) -> None:
        await self.reload()
        await self._listener.ensure()

    async def stop(self) -> None:
        await self._listener.close()

    async def run(self) -> None:
        """Reload on every activation. A LISTEN connection lost is taken again and the registry reloaded (an
        activation may have been missed meanwhile); a database error is retried with back-off."""
        delay = 0.5
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHECK_S):
                    await self._changed.wait()
            if not self._changed.is_set() and self._listener.listening:
                continue
            self._changed.clear()
            try:
                await self._listener.ensure()
                await self.reload()
                delay = 0.5
            except DB_ERRORS as exc:
                log.warning("registry_reload_retrying", error=str(exc) or type(exc).__name__, delay_s=delay)
                self._listener.lost()
                self._changed.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def reload(self) -> None:
        async with self._pool.acquire() as conn:
            try:
                self._loaded = await load_active(conn)
            except NotFound:
                log.warning("no_active_registry")
                return
        log.info("registry_loaded", version=self._loaded.version)

    def _on_notify(self, *args: Any) -> None:
        log.info("registry_activated", version=args[3])
        self._changed.set()
