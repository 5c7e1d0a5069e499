"""The active registry: loaded at start, reloaded when a version is activated, without a restart.

A NOTIFY on the registry channel says at once that a version was activated; a look every few seconds at the
active version catches an activation whose NOTIFY was never heard (the listening connection lost to a database
restart, which is then taken again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shared.db.listen import PoolListener
from shared.errors import InfrastructureUnavailable, NotFound
from shared.logging import get_logger
from shared.registry_files.load import LoadedRegistry
from shared.registry_store import active_version, load_active
from shared.registry_store.store import NOTIFY_CHANNEL
from shared.retriable import RETRIABLE_READING

log = get_logger(__name__)
POLL_S = 5.0
MAX_BACKOFF_S = 10.0
IMPORT_HINT = "import one with `griddispatch registry import <dir>`"
OnLoaded = Callable[[LoadedRegistry], Awaitable[None]]


class NoActiveRegistry(InfrastructureUnavailable):
    """Nothing can be routed until a registry is imported; messages wait rather than being dropped."""

    code = "no_active_registry"


async def _nothing(_loaded: LoadedRegistry) -> None:
    return None


class RegistryHolder:
    def __init__(self, pool: asyncpg.Pool, on_loaded: OnLoaded = _nothing, poll_s: float = POLL_S) -> None:
        self._pool = pool
        self._on_loaded = on_loaded  # runs before a version is used (dispatch creates its department topics)
        self._poll_s = poll_s
        self._loaded: LoadedRegistry | None = None
        self._changed = asyncio.Event()  # a version was activated, or the LISTEN connection was lost
        self._heard = False  # a NOTIFY came since the last look
        self._listener = PoolListener(pool, NOTIFY_CHANNEL, self._on_notify, on_lost=self._changed.set)

    @property
    def loaded(self) -> LoadedRegistry:
        if self._loaded is None:
            raise NoActiveRegistry(f"no registry version is active: {IMPORT_HINT}")
        return self._loaded

    async def start(self) -> None:
        await self.reload()
        await self._listener.ensure()

    async def stop(self) -> None:
        await self._listener.close()

    async def run(self) -> None:
        """Until cancelled: reload on every activation (NOTIFY, or the periodic look at the active version).

        A LISTEN connection lost is taken again; a database error is retried with back-off."""
        delay = 0.5
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._changed.wait()
            heard, self._heard = self._heard, False
            self._changed.clear()
            try:
                if heard or not self._listener.listening:  # an activation, or one may have gone unheard
                    await self._listener.ensure()
                    await self.reload()
                else:
                    await self._reload_if_changed()  # an activation whose NOTIFY never came
                delay = 0.5
            except RETRIABLE_READING as exc:  # a failed statement too: nothing is lost by reloading later
                log.warning("registry_reload_retrying", error=str(exc) or type(exc).__name__, delay_s=delay)
                self._listener.lost()
                self._heard = True
                self._changed.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    async def reload(self) -> None:
        async with self._pool.acquire() as conn:
            try:
                loaded = await load_active(conn)
            except NotFound:
                log.warning(
                    "no_active_registry", message=f"dispatch routes nothing until a version is active: {IMPORT_HINT}"
                )
                return
        await self._on_loaded(loaded)
        self._loaded = loaded
        log.info("registry_loaded", version=loaded.version)

    async def _reload_if_changed(self) -> None:
        async with self._pool.acquire() as conn:
            version = await active_version(conn)
        current = self._loaded.version if self._loaded is not None else None
        if version is not None and version != current:
            await self.reload()

    def _on_notify(self, *args: Any) -> None:
        log.info("registry_activated", version=args[3])
        self._heard = True
        self._changed.set()
