"""The active registry: loaded at start, reloaded when a version is activated, without a restart.

A NOTIFY on the registry channel says at once that a version was activated; a look every few seconds at the
active version (which is also how a listener connection lost to a database restart is noticed, and replaced)
catches an activation whose NOTIFY was never heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shared.errors import InfrastructureUnavailable, NotFound
from shared.logging import get_logger
from shared.registry_files.load import LoadedRegistry
from shared.registry_store import active_version, load_active
from shared.registry_store.store import NOTIFY_CHANNEL

log = get_logger(__name__)
POLL_S = 5.0
MAX_BACKOFF_S = 10.0
LOST = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError)
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
        self._notified = asyncio.Event()

    @property
    def loaded(self) -> LoadedRegistry:
        if self._loaded is None:
            raise NoActiveRegistry(f"no registry version is active: {IMPORT_HINT}")
        return self._loaded

    async def start(self) -> None:
        await self.reload()

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

    async def watch(self) -> None:
        """Until cancelled: listen for activations; a lost connection is replaced, with back-off."""
        delay = 0.5
        while True:
            try:
                await self._listen()
            except LOST as exc:
                log.warning("registry_listener_lost", error=repr(exc), delay_s=delay)
            except Exception as exc:  # noqa: BLE001 - the listener must outlive a surprise; logged, retried
                log.error("registry_listener_failed", error=repr(exc), trace=traceback.format_exc(), delay_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def _listen(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                await self._reload_if_changed(conn)  # activated while nobody listened
                while True:
                    self._notified.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._notified.wait(), self._poll_s)
                    await self._reload_if_changed(conn)  # also proves the connection still answers
            finally:
                with contextlib.suppress(*LOST):  # a lost connection has no listener left to remove
                    await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)

    async def _reload_if_changed(self, conn: asyncpg.Connection) -> None:
        version = await active_version(conn)
        current = self._loaded.version if self._loaded is not None else None
        if version is not None and version != current:
            await self.reload()

    def _on_notify(self, *args: Any) -> None:
        log.info("registry_activated", version=args[3])
        self._notified.set()
