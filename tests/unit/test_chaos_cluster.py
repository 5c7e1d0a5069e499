"""The cluster scenario's outage figures, from the times of the 202s around a lost broker."""

from __future__ import annotations

from chaos.cluster import _outage_figures


def test_outage_figures_count_the_window_and_the_longest_wait() -> None:
    at = {"killed": 10.0, "fenced": 17.5, "restarted": 30.0, "listed": 42.0}
    accepted = [8.0, 9.5, 11.0, 19.0, 25.0, 41.0, 43.0, 50.0]
    figures = _outage_figures(at, accepted)
    assert figures["accepted_while_down"] == 4  # 11, 19, 25, 41: from the kill until listed again
    assert figures["longest_gap_between_202s_ms"] == 16000  # 25 -> 41
    assert figures["broker_fenced_ms"] == 7500
    assert figures["broker_down_ms"] == 20000
    assert figures["broker_rejoined_ms"] == 12000


def test_a_stall_across_the_whole_outage_is_measured_from_the_last_202_before_it() -> None:
    at = {"killed": 10.0, "fenced": 12.0, "restarted": 20.0, "listed": 25.0}
    figures = _outage_figures(at, [9.0, 26.0])
    assert figures["accepted_while_down"] == 0
    assert figures["longest_gap_between_202s_ms"] == 17000
