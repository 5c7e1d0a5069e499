"""Consumer lag from offsets (shared/kafka_lag.lag_of), the pure part of dispatch's lag gauge."""

from __future__ import annotations

from aiokafka import TopicPartition

from shared.kafka_lag import lag_of

P0, P1, P2 = (TopicPartition("griddispatch.reports", p) for p in range(3))


def test_lag_is_what_lies_after_the_committed_offset() -> None:
    assert lag_of({P0: 120, P1: 7}, {P0: 100, P1: 7}, {}) == {P0: 20, P1: 0}


def test_a_partition_never_committed_lags_by_all_it_still_holds() -> None:
    # -1 is the broker's "no offset"; absent is the same. Retention may have removed the oldest (start 40).
    assert lag_of({P0: 50, P1: 50, P2: 0}, {P0: -1}, {P0: 40, P1: 0, P2: 0}) == {P0: 10, P1: 50, P2: 0}


def test_a_commit_ahead_of_a_stale_end_offset_is_no_negative_lag() -> None:
    assert lag_of({P0: 10}, {P0: 12}, {}) == {P0: 0}
