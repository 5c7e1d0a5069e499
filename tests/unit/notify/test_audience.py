"""Who hears of what: streams, subscriptions by visibility and filters, people, reporters, urgency; and back-off."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.notify.audience import CaseView, Person, SubscriptionView, audience, short_type
from services.notify.worker import backoff
from shared.events import EventType, new_event
from shared.events.types import Actor, CaseAssigned, CaseChanged, DeadlineFired
from shared.settings import NotifySettings

CASE = CaseView(
    case_id="c1",
    lead="branch:city-1",
    assisting=("unit:g1",),
    scope_keys=frozenset({"branch:city-1", "department:city", "unit:g1", "unit:s1", "unit:d1", "client:h"}),
    matter_code="sanitation",
    level="grid",
    urgency="normal",
    reporter_phones=("13812345678", "13900001111"),
)


def _sub(**kw: object) -> SubscriptionView:
    base: dict[str, object] = {
        "id": "s",
        "channel": "webhook",
        "target": "https://x",
        "client_units": frozenset({"*"}),
        "client_key": "client:z",
    }
    return SubscriptionView(**{**base, **kw})  # type: ignore[arg-type]


def _assigned(assignee: str = "unit:g1") -> object:
    data = CaseAssigned(
        case_id="c1",
        case_number="GD-1",
        assignee=assignee,
        role="lead",
        matter_code="sanitation",
        level="grid",
        title="垃圾",
    )
    return new_event(data, source="/t", subject="c1")


def test_assignment_reaches_streams_people_and_matching_subscriptions() -> None:
    subs = [
        _sub(id="all"),
        _sub(id="dept", client_units=frozenset({"department:city"})),
        _sub(id="other-dept", client_units=frozenset({"department:police"})),
        _sub(id="own", client_units=frozenset(), client_key="client:h"),  # sees what it submitted
        _sub(id="wrong-type", event_types=frozenset({"deadline.fired"})),
        _sub(id="wrong-matter", matter_types=frozenset({"noise"})),
        _sub(id="right-level", levels=frozenset({"grid"})),
        _sub(id="unit-filter", units=frozenset({"unit:s1"})),
        _sub(id="unit-miss", units=frozenset({"unit:s9"})),
    ]
    aud = audience(_assigned(), CASE, subs, [Person("w1", "13700000000")])  # type: ignore[arg-type]
    # the parties, and every unit the case lies in (its place's grid, street, district) for their consoles
    assert set(aud.streams) == {"branch:city-1", "unit:g1", "unit:s1", "unit:d1"}
    keys = {r.key for r in aud.recipients}
    assert keys == {
        "person:w1",
        "subscription:all",
        "subscription:dept",
        "subscription:own",
        "subscription:right-level",
        "subscription:unit-filter",
    }
    assert not aud.urgent


def test_reporters_hear_of_acceptance_and_resolution_only() -> None:
    for action, told in (("accept", True), ("resolve", True), ("merge", True), ("comment", False), ("assign", False)):
        data = CaseChanged(
            case_id="c1", seq=3, action=action, from_state="a", to_state="b", actor=Actor(id="x", role="assignee")
        )
        aud = audience(new_event(data, source="/t", subject="c1"), CASE, [])
        reporters = [r for r in aud.recipients if r.key.startswith("reporter:")]
        assert (len(reporters) == 2) is told  # the reporter and the one whose report was merged in


def test_escalation_tiers_are_urgent_warnings_are_not() -> None:
    for tier, urgent in (("warning", False), ("overdue", True), ("escalate", True), ("realert", True)):
        data = DeadlineFired(
            case_id="c1", deadline_id="d", kind="accept", tier=tier, due_at=datetime.now(UTC), assignee="unit:g1"
        )
        assert audience(new_event(data, source="/t", subject="c1"), CASE, []).urgent is urgent
    from dataclasses import replace

    assert audience(_assigned(), replace(CASE, urgency="emergency"), []).urgent is True  # type: ignore[arg-type]


def test_short_type() -> None:
    assert short_type(EventType.CASE_ASSIGNED) == "case.assigned"
    assert short_type(EventType.DEADLINE_FIRED) == "deadline.fired"


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    settings = NotifySettings(backoff_base_s=2, backoff_max_s=600)
    rnd = random.Random(1)
    waits = [backoff(n, settings, None, rnd) for n in range(1, 12)]
    assert 1 <= waits[0] <= 3 and all(w <= 900 for w in waits)
    assert waits[6] > waits[1]
    assert backoff(3, settings, 42.0, rnd) == 42.0
    assert backoff(3, settings, 10_000.0, rnd) == 600


def test_the_next_rung_streams_a_missed_deadline_and_the_paged_persons_get_sms() -> None:
    data = DeadlineFired(
        case_id="c1", deadline_id="d", kind="accept", tier="overdue", due_at=datetime.now(UTC), assignee="unit:g1"
    )
    aud = audience(new_event(data, source="/t", subject="c1"), CASE, [], [Person("duty", "13600000000")], "unit:s1")
    assert "unit:s1" in aud.streams and "unit:g1" in aud.streams
    assert [(r.key, r.channel, r.target) for r in aud.recipients] == [("person:duty", "sms", "13600000000")]
    assert aud.urgent and aud.extra == {}


def test_an_unstaffed_alert_carries_the_flag_for_the_stream_rows() -> None:
    aud = audience(_assigned(), CASE, [], [], unstaffed=True)  # type: ignore[arg-type]
    assert aud.extra == {"unstaffed": True} and aud.recipients == ()
