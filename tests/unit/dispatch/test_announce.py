"""Dispatch's announcements are built without validating them again: they must still be exactly what the
contracts accept, byte for byte what a validated event encodes to, on the right topics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.dispatch.announce import announcements, department_of
from shared.domain.case import Request, Rules, Who, act, open_case
from shared.events import decode, encode
from shared.registry_files.load import load_directory
from shared.topics import Topics
from tests.unit.domain.case_helpers import report_case

LOADED = load_directory(Path(__file__).parents[3] / "data" / "sample-district")
RULES = Rules(LOADED.registry, LOADED.catalog, LOADED.version)
AT = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
TOPICS = Topics("gd")


def test_every_announcement_validates_and_encodes_as_a_validated_event() -> None:
    building = sorted(RULES.registry.buildings.values(), key=lambda b: b.code)[0]
    case, decision = report_case(RULES, building, matter="gas_leak", at=AT)
    opened = open_case(case, decision, Who("hotline", "resident"), RULES, AT, cause="report-1")
    refused = act(opened.case, Request("resolve", Who("x", "resident")), RULES, AT, cause="action-1")
    pairs = [p for fact in (*opened.facts, *refused.facts) for p in announcements(fact, TOPICS, RULES.registry, AT)]
    types = {event.type.value for _, event in pairs}
    assert types == {
        "cn.griddispatch.case.changed.v1",
        "cn.griddispatch.case.assigned.v1",
        "cn.griddispatch.action.rejected.v1",
    }
    for _, event in pairs:
        encoded = encode(event)
        again = decode(encoded.value)  # what every consumer does: the contract accepts it
        assert encode(again).value == encoded.value
    departments = {department_of(RULES.registry, str(decision.lead))} - {None}
    assert departments  # a gas leak goes to the gas department's branch: its own topic gets the notice too
    topics = {topic for topic, _ in pairs}
    assert {TOPICS.case_events, TOPICS.assignments} | {TOPICS.department_assignments(d) for d in departments} <= topics
