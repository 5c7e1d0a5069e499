"""The district command centre misses a deadline: nowhere to climb, so it keeps the case and is chased again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.routing import RoutingError, escalate, realert_top
from tests.unit.domain.test_routing import NOW, REG, U


def test_the_district_keeps_the_case_with_a_fresh_deadline_of_the_same_length() -> None:
    step = escalate(U("D"), REG)
    starts, due = NOW, NOW + timedelta(hours=2)
    late = due + timedelta(minutes=7)
    again = realert_top(step, starts, due, late)
    assert again.lead == U("D")
    assert again.due_at == late + timedelta(hours=2)  # the allowance again, from when it was found missed
    assert [s.rule for s in again.trace] == ["escalate.at_top", "escalate.realert"]


def test_a_shrunken_allowance_stays_shrunken_but_never_zero() -> None:
    step = escalate(U("D"), REG)
    demo = realert_top(step, NOW, NOW + timedelta(seconds=3), NOW + timedelta(seconds=4))
    assert demo.due_at == NOW + timedelta(seconds=7)
    empty = realert_top(step, NOW, NOW, NOW)
    assert empty.due_at - NOW == timedelta(seconds=1)  # a deadline recorded with no allowance is no busy loop


def test_below_the_top_the_case_climbs_instead() -> None:
    step = escalate(U("D-S1"), REG)
    assert not step.at_top and step.target == U("D")
    with pytest.raises(RoutingError, match="can climb to unit:D"):
        realert_top(step, NOW, NOW + timedelta(hours=1), NOW)
