"""The chaos ledger's comparison logic: each kind of lost or doubled work is named, a clean run has none."""

from __future__ import annotations

from chaos.ledger import CaseRow, DeadlineEvent, DeadlineRow, Post, Snapshot, check, summary

A, B, C, M = "case-a", "case-b", "case-c", "case-m"


def _case(case_id: str, actions: tuple[str, ...] = ("report", "assign"), **kw: object) -> CaseRow:
    fields: dict[str, object] = {
        "case_id": case_id,
        "state": "assigned",
        "lead": "unit:610199004001",
        "merged_into": None,
        "actions": actions,
        "seqs": tuple(range(1, len(actions) + 1)),
    }
    fields.update(kw)
    return CaseRow(**fields)  # type: ignore[arg-type]


def _clean() -> Snapshot:
    """Three reports, one merged into another case; one deadline fell due and escalated; two webhooks."""
    return Snapshot(
        accepted={A, B, M},
        submitted={A, B, M},
        cases={
            A: _case(A, ("report", "assign", "escalate", "assign")),
            B: _case(B, ("report", "assign", "accept"), state="accepted"),
            M: _case(M, ("report",), state="merged", lead=None, merged_into=B),
        },
        deadlines=[DeadlineRow("d1", A, fell_due=True), DeadlineRow("d2", B, fell_due=False)],
        deadline_events=[
            DeadlineEvent("e-over", "d1", "overdue", published=True),
            DeadlineEvent("e-esc", "d1", "escalate", published=True),
        ],
        dispatch_processed={"e-esc"},
        webhook_events={"w1", "w2"},
        deliveries={"w1": "delivered", "w2": "delivered"},
        posts=[Post("w1", "w1"), Post("w2", "w2"), Post("w2", "w2")],  # a redelivery is allowed
    )


def _details(s: Snapshot) -> list[str]:
    return [str(v) for v in check(s)]


def test_a_clean_run_has_no_violations_and_counts_what_happened() -> None:
    s = _clean()
    assert check(s) == []
    assert summary(s) == {
        "accepted": 3,
        "cases": 2,
        "merged": 1,
        "deadlines_fired": 1,
        "webhooks_delivered": 2,
        "duplicates_seen": 1,
        "webhook_events": 2,
        "deadlines_due": 1,
    }


def test_an_accepted_report_without_a_case_is_lost() -> None:
    s = _clean()
    s.accepted.add(C)
    assert _details(s) == [f"[reports] {C}: accepted (202) but no case and no merged report"]


def test_a_report_recorded_twice_is_doubled() -> None:
    s = _clean()
    s.cases[B] = _case(B, ("report", "assign", "report"))
    assert any("2 'report' entries" in d for d in _details(s))


def test_a_merged_report_must_point_at_a_case() -> None:
    s = _clean()
    s.cases[M] = _case(M, ("report",), state="merged", lead=None, merged_into="nowhere")
    assert _details(s) == [f"[reports] {M}: merged into nowhere, which is not a case"]


def test_a_case_for_a_refused_report_is_named_but_one_the_client_gave_up_on_is_not() -> None:
    s = _clean()
    s.submitted.add(C)
    s.cases[C] = _case(C)
    assert _details(s) == [f"[reports] {C}: a case for a report intake never accepted"]
    s.unanswered.add(C)
    assert check(s) == []


def test_a_case_without_a_lead_or_with_a_doubled_assignment() -> None:
    s = _clean()
    s.cases[B] = _case(B, ("report", "assign"), lead=None)
    s.cases[A] = _case(A, ("report", "assign", "assign"))
    details = _details(s)
    assert f"[assignments] {B}: no current assignment (state assigned)" in details
    assert any(d.startswith(f"[assignments] {A}: 2 'assign' entries for 1 routings") for d in details)


def test_a_history_with_a_gap() -> None:
    s = _clean()
    s.cases[B] = _case(B, ("report", "assign"), seqs=(1, 3))
    assert _details(s) == [f"[assignments] {B}: history seqs not 1..n: (1, 3)"]


def test_a_due_deadline_that_never_fired_or_fired_twice() -> None:
    s = _clean()
    s.deadline_events = [DeadlineEvent("e-esc", "d1", "escalate", published=True)]
    assert _details(s) == ["[deadlines] d1: fell due; overdue fired 0 times"]
    s.deadline_events = [
        *_clean().deadline_events,
        DeadlineEvent("e-over-2", "d1", "overdue", published=True),
    ]
    details = _details(s)
    assert "[deadlines] d1: fell due; overdue fired 2 times" in details
    assert "[deadlines] d1: overdue fired 2 times" in details


def test_a_fired_deadline_left_unpublished_or_not_applied() -> None:
    s = _clean()
    s.deadline_events = [
        DeadlineEvent("e-over", "d1", "overdue", published=False),
        DeadlineEvent("e-esc", "d1", "escalate", published=True),
    ]
    s.dispatch_processed = set()
    assert _details(s) == [
        "[deadlines] d1: overdue event e-over never published",
        "[deadlines] d1: escalate e-esc not applied by dispatch",
    ]


def test_a_deadline_not_yet_due_may_be_unfired() -> None:
    s = _clean()
    s.deadlines.append(DeadlineRow("d3", B, fell_due=False))
    assert check(s) == []


def test_webhooks_missing_pending_or_with_the_wrong_key() -> None:
    s = _clean()
    s.webhook_events.add("w3")
    s.deliveries["w3"] = "pending"
    s.posts.append(Post("w9", "w1"))
    assert _details(s) == [
        "[webhooks] w3: delivery pending",
        "[webhooks] w3: never reached the receiver",
        "[webhooks] w9: Idempotency-Key differs from event id w1",
        "[webhooks] w9: received, but no such event was published",
    ]


def test_an_event_the_subscription_never_got_a_delivery_for() -> None:
    s = _clean()
    s.webhook_events.add("w4")
    assert _details(s) == [
        "[webhooks] w4: no delivery for an event the subscription matches",
        "[webhooks] w4: never reached the receiver",
    ]
