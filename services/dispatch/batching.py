"""From faust's stream to micro-batches: what arrived while the last batch was applied is the next batch.

faust's agent only moves events from the stream into a bounded queue; the batch loop (a supervised task) takes the
first waiting event and every other one already there (up to `batch_max`; with `linger_s`, it waits that long for
more), applies them as one batch and only then acks them, so faust commits an offset only once every event before
it is applied. While a batch is applied, the next is taken and prepared. Nothing waits when nothing is queued (one
report is a batch of one at once), and a flood is taken in large batches because the stream keeps filling the queue
meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.dispatch.runtime import Inbound

Prepare = Callable[[Sequence[Inbound]], Any]
Apply = Callable[[Sequence[Inbound], Any], Awaitable[None]]  # the messages, and what prepare made of them


@dataclass(frozen=True, slots=True)
class Taken:
    """A batch taken from the queue: its events (to ack), its messages, and what prepare made of them."""

    events: list[tuple[Any, Any]]
    messages: list[Inbound]
    prepared: Any


class BatchQueue:
    def __init__(self, batch_max: int, linger_s: float = 0.0) -> None:
        self.batch_max = batch_max
        self.linger_s = linger_s
        self._queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue(maxsize=2 * batch_max)
        self._next: Taken | None = None  # taken and not applied yet: a restarted loop applies it first

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

    async def run(self, prepare: Prepare, apply: Apply, ready: asyncio.Event) -> None:
        """The batch loop, for ever: a batch is applied (`apply` retries until it is done) and acked while the
        next one is taken and prepared (`prepare`: decoding and routing, no database), so the CPU works on the
        next batch while the database writes this one. Batches are applied strictly one after another."""
        while True:
            if self._next is None:
                self._next = await self._take_prepared(prepare)
            await ready.wait()
            taken, ahead = self._next, self._take_prepared(prepare)
            _, self._next = await asyncio.gather(self._apply(taken, apply), ahead)

    async def _take_prepared(self, prepare: Prepare) -> Taken:
        taken = await self._take()
        messages = [Inbound(m.topic, m.value, m.key, m.partition, m.offset) for m in (e.message for _, e in taken)]
        try:
            ready = prepare(messages)
        except Exception:  # noqa: BLE001 - no registry yet, say: the batch is prepared again when applied
            ready = None
        return Taken(taken, messages, ready)

    @staticmethod
    async def _apply(taken: Taken, apply: Apply) -> None:
        await apply(taken.messages, taken.prepared)
        for stream, event in taken.events:
            await stream.ack(event)
