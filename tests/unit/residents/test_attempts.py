"""The sliding window of attempts that throttles guessing a case's phone ending (pure, a clock we move)."""

from __future__ import annotations

import pytest

from services.intake.attempts import AttemptLimiter
from shared.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_for_the_whole_window_then_lifts() -> None:
    clock = Clock()
    limiter = AttemptLimiter(5, 3600, clock)
    for _ in range(5):
        limiter.take("case:GD-1")
        clock.now += 60
    with pytest.raises(RateLimited) as raised:
        limiter.check("case:GD-1")
    assert raised.value.detail["retry_after"] == 3600 - 300  # until the first attempt leaves the window
    limiter.check("case:GD-2")  # another key is not affected
    clock.now = 1000.0 + 3600
    limiter.check("case:GD-1")  # the first has left: one more may be tried


def test_ten_thousand_guesses_take_years() -> None:
    clock = Clock()
    limiter = AttemptLimiter(5, 3600, clock)
    tried = 0
    for _ in range(24 * 60):  # a day, one try a minute
        try:
            limiter.take("case:GD-1")
            tried += 1
        except RateLimited:
            pass
        clock.now += 60
    assert tried == 5 * 24  # 120 a day: the 10,000 endings take about 83 days, half of them on average 41


def test_checking_does_not_count_but_counting_does() -> None:
    limiter = AttemptLimiter(2, 60, Clock())
    for _ in range(10):
        limiter.check("k")
    limiter.count("k")
    limiter.count("k")
    with pytest.raises(RateLimited):
        limiter.check("k")
