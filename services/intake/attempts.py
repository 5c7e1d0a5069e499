"""At most `limit` attempts per key within a sliding window: the residents' look-up and rating links.

The token bucket of ratelimit.py refills by the minute, which lets a patient client try a case's 10,000 phone
endings in a week; this counts over a window (an hour by default), so guessing takes years. In this process
only, as ratelimit.py: with N intake workers behind a balancer a client gets up to N times the limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from shared.errors import RateLimited

MAX_KEYS = 100_000  # beyond this, keys whose attempts have all left the window are forgotten


class AttemptLimiter:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        """Raise RateLimited (with the seconds until the oldest attempt leaves the window) when the key is spent."""
        now = self._clock()
        attempts = self._recent(key, now)
        if attempts is not None and len(attempts) >= self.limit:
            wait = math.ceil(attempts[0] + self.window_s - now)
            raise RateLimited(
                f"more than {self.limit} attempts in {self.window_s / 60:g} minutes", retry_after=max(wait, 1)
            )

    def count(self, key: str) -> None:
        """One more attempt for the key."""
        now = self._clock()
        if len(self._seen) >= MAX_KEYS:
            self._forget(now)
        self._seen.setdefault(key, deque()).append(now)

    def take(self, key: str) -> None:
        """check, then count."""
        self.check(key)
        self.count(key)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        attempts = self._seen.get(key)
        if attempts is None:
            return None
        while attempts and attempts[0] <= now - self.window_s:
            attempts.popleft()
        return attempts

    def _forget(self, now: float) -> None:
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window_s]:
            del self._seen[key]
