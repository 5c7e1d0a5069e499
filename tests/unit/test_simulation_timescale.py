"""The replay and dispatch's deadline scale: the warning when they disagree, how long to wait for deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from griddispatch.simulation.summary_text import scale_text
from griddispatch.simulation.timescale import scale_mismatch, tail_wait_s

NOW = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)


def test_a_dispatch_on_the_real_clock_is_named_with_the_fix() -> None:
    text = scale_mismatch(1 / 480, 1.0, "http://127.0.0.1:8001")
    assert text is not None and text.startswith("WARNING: dispatch runs with deadline scale 1, not 0.00208333")
    assert "real clock" in text and "GRIDDISPATCH_DISPATCH_DEADLINE_SCALE=0.00208333" in text


def test_another_speed_ups_scale_says_what_an_hour_lasts() -> None:
    text = scale_mismatch(1 / 480, 1 / 240)
    assert text is not None and "one hour of allowance lasts 15.0 s, not the 7.5 s" in text


def test_the_scale_make_prints_agrees_and_an_unknown_one_is_a_note() -> None:
    assert scale_mismatch(1 / 480, 0.00208333) is None  # awk's %.6g of 1/480
    assert scale_mismatch(1.0, 1.0) is None
    unknown = scale_mismatch(1 / 480, None, "http://127.0.0.1:8001")
    assert unknown is not None and unknown.startswith("note:") and "http://127.0.0.1:8001/readyz" in unknown


def test_the_wait_covers_the_latest_due_time_plus_grace_within_the_cap() -> None:
    dues = [NOW + timedelta(seconds=10), NOW + timedelta(seconds=70)]
    assert tail_wait_s(dues, NOW, grace_s=30, cap_s=240) == 100
    assert tail_wait_s(dues, NOW, grace_s=30, cap_s=60) == 60
    assert tail_wait_s([NOW - timedelta(minutes=5)], NOW, grace_s=30, cap_s=240) == 0
    assert tail_wait_s([], NOW, grace_s=30, cap_s=240) == 0


def test_the_summary_says_how_deadlines_count() -> None:
    assert scale_text(1.0) == "on the real clock"
    assert scale_text(1 / 480) == "shortened x0.00208333 (1 hour of allowance = 7.5 s)"
    assert scale_text(None) == "dispatch's deadline scale unknown"
