"""Minting the rating link the outcome SMS carries (shared/resident_links.py signs it; intake checks it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg

from shared import resident_links
from shared.domain.lifecycle import DueKind
from shared.queries import deadlines
from shared.settings import ResidentSettings


class RatingLinks:
    def __init__(self, key: bytes, settings: ResidentSettings, page: str, clock: Callable[[], datetime]) -> None:
        self.key = key
        self.settings = settings
        self.page = page  # the rate page's URL (resident_links.page_url)
        self.clock = clock

    async def for_case(self, conn: asyncpg.Connection | asyncpg.Pool, case_id: uuid.UUID) -> str:
        """A fresh link for the case, valid until the earlier of its life and the follow-up window's end."""
        now = self.clock()
        due = await deadlines.open_due(conn, case_id, DueKind.FOLLOW_UP.value)
        token = resident_links.mint(self.key, case_id, resident_links.expiry(now, self.settings, due), now)
        return resident_links.link(self.page, token)
