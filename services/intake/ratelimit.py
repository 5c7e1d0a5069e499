"""A token bucket per client: `rate_per_min` requests a minute, bursts up to the same number.

Buckets live in this process; with N intake workers behind a balancer a client gets up to N times its rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from shared.errors import RateLimited


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill time)

    def take(self, client: str, rate_per_min: int) -> None:
        """Spend one token or raise RateLimited with the seconds until the next one."""
        now = self._clock()
        per_second = rate_per_min / 60.0
        tokens, last = self._buckets.get(client, (float(rate_per_min), now))
        tokens = min(float(rate_per_min), tokens + (now - last) * per_second)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / per_second) if per_second > 0 else 60
            self._buckets[client] = (tokens, now)
            raise RateLimited(f"more than {rate_per_min} requests a minute", retry_after=max(wait, 1))
        self._buckets[client] = (tokens - 1.0, now)
