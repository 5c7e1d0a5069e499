"""notify's consumer waits out a database restart instead of ending.

Found by the fault suite (`make chaos CHAOS_SCENARIOS=postgres`): "the database system is shutting down"
(asyncpg.CannotConnectNowError) ended the consumer task, so nothing more was fanned out to webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.notify.consumer import _one
from shared.events import encode, new_event
from shared.events.types import Probe


class _Pool:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    def acquire(self) -> _Pool:
        return self

    async def __aenter__(self) -> object:
        if self.errors:
            raise self.errors.pop(0)
        return object()

    async def __aexit__(self, *_: Any) -> None:
        return None


class _FanOut:
    def __init__(self) -> None:
        self.handled: list[str] = []

    async def handle(self, conn: object, event: Any, now: datetime) -> None:
        self.handled.append(event.id)


async def test_an_event_met_by_a_database_restart_is_fanned_out_once_it_is_back() -> None:
    event = new_event(Probe(note="x"), source="/test", subject="s")
    pool = _Pool(
        [
            asyncpg.CannotConnectNowError("the database system is shutting down"),
            asyncpg.CannotConnectNowError("the database system is starting up"),
        ]
    )
    fanout = _FanOut()
    await _one(pool, fanout, "t.case-events", encode(event).value)  # type: ignore[arg-type]
    assert fanout.handled == [event.id] and pool.errors == []
