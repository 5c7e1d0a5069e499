"""The active registry, loaded at start and reloaded when another process activates a version (NOTIFY)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from shared.errors import InfrastructureUnavailable, NotFound
from shared.logging import get_logger
from shared.registry_files.load import LoadedRegistry
from shared.registry_store import load_active
from shared.registry_store.store import NOTIFY_CHANNEL

log = get_logger(__name__)


class NoActiveRegistry(InfrastructureUnavailable):
    """Nothing can be routed until a registry is imported; messages wait rather than being dropped."""

    code = "no_active_registry"


class RegistryHolder:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._loaded: LoadedRegistry | None = None
        self._listener: asyncpg.Connection | None = None
        self._reloading: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> LoadedRegistry:
        if self._loaded is None:
            raise NoActiveRegistry("no registry version is active: run `griddispatch registry import DIR`")
        return self._loaded

    async def start(self) -> None:
        await self.reload()
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(self._listener)
            self._listener = None

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
        self._reloading = asyncio.get_running_loop().create_task(self.reload())
