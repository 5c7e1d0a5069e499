"""From faust's stream to micro-batches: what arrived while the last batch was applied is the next batch.

faust's agent only moves events from the stream into a bounded queue; the batch loop (a supervised task)
takes the first waiting event and every other one already there (up to `batch_max`; with `linger_s`, it
waits that long for more), applies them as one batch and only then acks them, so faust commits an offset
only once every event before it is applied. Nothing waits when nothing is queued (one report is a batch of
one at once), and a flood is taken in large batches because the stream keeps filling the queue meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.dispatch.runtime import Inbound

Apply = Callable[[Sequence[Inbound]], Awaitable[None]]


class BatchQueue:
    def __init__(self, batch_max: int, linger_s: float = 0.0) -> None:
        self.batch_max = batch_max
        self.linger_s = linger_s
        self._queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue(maxsize=2 * batch_max)
        self._taken: list[tuple[Any, Any]] = []  # taken and not acked yet: a restarted loop applies it first

    async def put(self, stream: Any, event: Any) -> None:
        """From the agent: one event of the stream (waits while two batches' worth are waiting)."""
        await self._queue.put((stream, event))

    async def _take(self) -> list[tuple[Any, Any]]:
        taken = [await self._queue.get()]
        until = time.monotonic() + self.linger_s
        while len(taken) < self.batch_max:
            if not self._queue.empty():
                taken.append(self._queue.get_nowait())
                continue
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                taken.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break
        return taken

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        """The batch loop: take, apply (`apply` retries until the batch is done), ack; for ever."""
        while True:
            if not self._taken:
                self._taken = await self._take()
            await ready.wait()
            taken = self._taken
            messages = [Inbound(m.topic, m.value, m.key, m.partition, m.offset) for m in (e.message for _, e in taken)]
            await apply(messages)
            for stream, event in taken:
                await stream.ack(event)
            self._taken = []
