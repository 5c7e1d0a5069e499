"""The tier plan: warnings, overdue and escalate, re-alerts; each once, whatever the ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.escalation.tiers import plan

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=10)
WARN = [T0 + timedelta(hours=5), T0 + timedelta(hours=8)]
REALERT = timedelta(minutes=30)


def test_nothing_before_the_first_warning() -> None:
    p = plan(WARN, DUE, 0, T0 + timedelta(hours=1), REALERT)
    assert p.fire == () and p.fired == 0 and p.next_fire_at == WARN[0]


def test_each_warning_then_overdue_and_escalate_then_realerts() -> None:
    p1 = plan(WARN, DUE, 0, WARN[0], REALERT)
    assert [f.tier for f in p1.fire] == ["warning"] and p1.next_fire_at == WARN[1]
    p2 = plan(WARN, DUE, p1.fired, WARN[1] + timedelta(seconds=1), REALERT)
    assert [(f.tier, f.index) for f in p2.fire] == [("warning", 1)] and p2.next_fire_at == DUE
    p3 = plan(WARN, DUE, p2.fired, DUE, REALERT)
    assert [f.tier for f in p3.fire] == ["overdue", "escalate"] and p3.next_fire_at == DUE + REALERT
    assert all(f.scheduled_at == DUE for f in p3.fire)
    p4 = plan(WARN, DUE, p3.fired, DUE + REALERT, REALERT)
    assert [f.tier for f in p4.fire] == ["realert"]
    p5 = plan(WARN, DUE, p4.fired, DUE + REALERT + timedelta(minutes=1), REALERT)
    assert p5.fire == ()


def test_a_deadline_long_past_fires_overdue_without_stale_warnings() -> None:
    p = plan(WARN, DUE, 0, DUE + timedelta(days=2), REALERT)
    assert [f.tier for f in p.fire] == ["overdue", "escalate"]
    assert p.next_fire_at == DUE + timedelta(days=2) + REALERT  # re-alerts count from now, not from the past


def test_two_warnings_due_at_once_fire_only_the_latest() -> None:
    p = plan(WARN, DUE, 0, WARN[1], REALERT)
    assert [(f.tier, f.index) for f in p.fire] == [("warning", 1)] and p.fired == 2


def test_no_warnings_configured() -> None:
    assert plan([], DUE, 0, DUE - timedelta(seconds=1), REALERT).next_fire_at == DUE
    assert [f.tier for f in plan([], DUE, 0, DUE, REALERT).fire] == ["overdue", "escalate"]


@given(st.lists(st.integers(min_value=0, max_value=24 * 60), min_size=1, max_size=40))
def test_any_sequence_of_ticks_fires_each_tier_once(minutes: list[int]) -> None:
    fired, seen = 0, []
    for now in sorted(T0 + timedelta(minutes=m) for m in minutes):
        p = plan(WARN, DUE, fired, now, REALERT)
        assert all(f.scheduled_at <= now for f in p.fire)  # never early
        assert p.next_fire_at > now or not p.fire or p.next_fire_at >= now
        seen += [(f.tier, f.index) for f in p.fire]
        fired = p.fired
    assert len(seen) == len(set(seen))  # no tier twice
    assert [t for t, _ in seen if t != "realert"] == sorted(
        (t for t, _ in seen if t != "realert"), key=["warning", "overdue", "escalate"].index
    )
