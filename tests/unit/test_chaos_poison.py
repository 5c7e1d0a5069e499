"""The poison scenario's messages and its check: each poison is what it claims, each misrouting is named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chaos.harness import FaultRecord, Result
from chaos.ledger import Violation
from chaos.poison import DeadLetter, Poison, Rejection, check_poison, poison_round
from shared.errors import InvalidInput
from shared.events import EventType, decode
from shared.topics import Topics

TOPICS = Topics("t")


def _round() -> list[Poison]:
    return poison_round(TOPICS, "GD-20261201-000042", 108.94, 34.26)


def _letter(p: Poison, reason: str | None = None, topic: str | None = None) -> DeadLetter:
    return DeadLetter(p.key, p.value, reason or p.reason or "", f"{topic or p.topic}:1:7")


def _rejection(p: Poison, **kw: object) -> Rejection:
    fields: dict[str, object] = {
        "event_id": f"rej-{p.event_id}",
        "action_event_id": p.event_id,
        "code": "unknown_case",
        "state": None,
        "published": True,
    }
    fields.update(kw)
    return Rejection(**fields)  # type: ignore[arg-type]


def _clean(poisons: list[Poison]) -> tuple[list[DeadLetter], list[Rejection], set[str]]:
    letters = [_letter(p) for p in poisons if p.reason]
    rejections = [_rejection(p) for p in poisons if p.reason is None]
    processed = {p.event_id for p in poisons if p.reason is None and p.event_id}
    return letters, rejections, processed


def _check(poisons: list[Poison], letters: list[DeadLetter], rejections: list[Rejection], **kw: object) -> list[str]:
    processed = kw.pop("processed", {p.event_id for p in poisons if p.reason is None})
    found: list[Violation] = check_poison(
        poisons,
        letters,
        rejections,
        processed,  # type: ignore[arg-type]
        kw.pop("cases", set()),  # type: ignore[arg-type]
        kw.pop("exactly_once", True),  # type: ignore[arg-type]
    )
    return [str(v) for v in found]


def test_a_round_has_every_kind_on_each_input_topic_it_can_go_to() -> None:
    kinds = {(p.kind, p.topic.removeprefix("t.")) for p in _round()}
    assert kinds == {
        ("not_json", "reports"),
        ("not_json", "actions"),
        ("not_json", "deadlines"),
        ("unexpected_type", "reports"),
        ("unexpected_type", "actions"),
        ("invalid_report", "reports"),
        ("invalid_deadline", "deadlines"),
        ("duplicate_case_number", "reports"),
        ("unknown_case", "actions"),
    }
    assert len({p.value for p in _round() + _round()}) == 18  # each message unique: a dead letter names its poison


@pytest.mark.parametrize("kind", ["not_json", "invalid_report", "invalid_deadline"])
def test_undecodable_poison_fails_decoding_with_the_reason_expected(kind: str) -> None:
    poisons = [p for p in _round() if p.kind == kind]
    assert poisons
    for poison in poisons:
        with pytest.raises(InvalidInput) as err:
            decode(poison.value)
        assert err.value.detail["reason"] == poison.reason


def test_decodable_poison_is_a_valid_event_of_the_kind_claimed() -> None:
    by_kind = {p.kind: p for p in _round() if p.topic != TOPICS.deadlines}
    assert decode(by_kind["unexpected_type"].value).type is EventType.PROBE
    duplicate = decode(by_kind["duplicate_case_number"].value)
    assert duplicate.type is EventType.REPORT_SUBMITTED
    assert duplicate.data.case_number == "GD-20261201-000042" and duplicate.data.case_id == duplicate.subject
    action = decode(by_kind["unknown_case"].value)
    assert action.type is EventType.ACTION_REQUESTED and by_kind["unknown_case"].reason is None
    assert by_kind["unknown_case"].key == action.subject.encode()


def test_nothing_notify_could_fan_out_goes_onto_the_deadlines_topic() -> None:
    for poison in _round():
        if poison.topic == TOPICS.deadlines:
            with pytest.raises(InvalidInput):
                decode(poison.value)


def test_every_poison_where_it_belongs_is_clean() -> None:
    poisons = _round()
    assert _check(poisons, *_clean(poisons)[:2]) == []


def test_a_poison_missing_doubled_or_with_the_wrong_reason_or_source() -> None:
    poisons = _round()
    letters, rejections, _ = _clean(poisons)
    not_json = letters[0]
    assert any("not on the dead-letter topic" in v for v in _check(poisons, letters[1:], rejections))
    doubled = [*letters, not_json]
    assert any("dead-lettered 2 times" in v for v in _check(poisons, doubled, rejections))
    assert _check(poisons, doubled, rejections, exactly_once=False) == []  # a restarted worker may redo one
    wrong = [replace(not_json, reason="processing_error"), *letters[1:]]
    assert any("dlq_reason 'processing_error', expected 'not_json'" in v for v in _check(poisons, wrong, rejections))
    elsewhere = [replace(not_json, source="t.dead-letter:0:1"), *letters[1:]]
    assert any("dlq_source t.dead-letter:0:1" in v for v in _check(poisons, elsewhere, rejections))


def test_a_valid_message_on_the_dead_letter_topic_is_named() -> None:
    poisons = _round()
    letters, rejections, _ = _clean(poisons)
    valid = DeadLetter(
        b"case-x", b'{"type": "cn.griddispatch.report.submitted.v1"}', "processing_error", "t.reports:2:9"
    )
    found = _check(poisons, [*letters, valid], rejections)
    assert found == [
        "[dead-letters] t.reports:2:9: dead-lettered (processing_error) but not a poison: a valid message lost"
    ]
    assert _check([], [valid], []) == found  # no poison sent (kill9): nothing may be there


def test_an_action_on_an_unknown_case_must_be_rejected_once_not_dead_lettered() -> None:
    poisons = _round()
    action = next(p for p in poisons if p.kind == "unknown_case")
    letters, rejections, _ = _clean(poisons)
    assert any("0 rejected events" in v for v in _check(poisons, letters, []))
    assert any("2 rejected events" in v for v in _check(poisons, letters, rejections * 2))
    assert any("dead-lettered 1x" in v for v in _check(poisons, [*letters, _letter(action, "x")], rejections))
    other = [_rejection(action, code="illegal_transition")]
    assert any("code illegal_transition" in v for v in _check(poisons, letters, other))
    unpublished = [_rejection(action, published=False)]
    assert any("never published" in v for v in _check(poisons, letters, unpublished))
    assert any("not recorded as processed" in v for v in _check(poisons, letters, rejections, processed=set()))


def test_a_case_opened_for_a_poison_report_is_named() -> None:
    poisons = _round()
    duplicate = next(p for p in poisons if p.kind == "duplicate_case_number")
    letters, rejections, _ = _clean(poisons)
    found = _check(poisons, letters, rejections, cases={duplicate.case_id})
    assert found == [f"[poison] duplicate_case_number {duplicate.event_id}: a case {duplicate.case_id} exists for it"]


def test_the_result_line_shows_what_a_fault_measured_and_the_checks_figures() -> None:
    counts = dict.fromkeys(
        ("accepted", "cases", "merged", "deadlines_fired", "deadlines_due", "webhooks_delivered", "webhook_events"), 1
    )
    result = Result(
        "kill9",
        {**counts, "duplicates_seen": 0},
        [],
        [FaultRecord("kill -9 dispatch", 12.0, 15.0, {"flood": 200, "in_flight": 37})],
        60.0,
        figures={"dead_letters": 0},
    )
    line = result.line()
    assert "kill -9 dispatch: healed 12.0s, recovered 15.0s flood=200 in_flight=37]" in line
    assert "] dead_letters=0 drain=" in line
