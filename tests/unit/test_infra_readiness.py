"""How `griddispatch up` and `status` put a service's /readyz in words."""

from __future__ import annotations

from griddispatch.infra.readiness import no_registry_warning, readiness_of
from shared.topics import topic_kind


def _body(runtime: str = "started", **failing: str) -> dict[str, object]:
    checks = {name: {"ok": True, "error": None} for name in ("kafka", "postgres", "registry")}
    checks.update({name: {"ok": False, "error": error} for name, error in failing.items()})
    return {"status": "not_ready", "checks": checks, "runtime": runtime}


def test_a_dispatch_without_a_registry_is_up_but_not_ready() -> None:
    state = readiness_of(503, _body(registry="no registry version is active: import one with ..."))
    assert state.text == "not ready: no registry" and not state.ready
    assert state.waits_for_registry_only


def test_a_missing_dependency_is_named_and_is_not_taken_for_a_missing_registry() -> None:
    state = readiness_of(503, _body(kafka="down", registry="none"))
    assert state.text == "not ready: kafka, no registry" and not state.waits_for_registry_only
    assert readiness_of(503, _body(runtime="starting", registry="starting")).text == "starting"
    assert readiness_of(200, {}).ready
    assert readiness_of(500, "oops").text == "not ready (500)"


def test_the_warning_gives_the_command_to_import_one() -> None:
    text = no_registry_warning()
    assert "no registry version is active" in text and "griddispatch registry import" in text


def test_topic_kinds_are_few_whatever_the_department() -> None:
    assert topic_kind("gd.department.gas.assignments") == topic_kind("x-1.department.police.assignments")
    assert topic_kind("gd.department.gas.assignments") == "department"
    assert topic_kind("test-ab12-d3.assignments") == "assignments"
    assert topic_kind("gd.deadlines") == "deadlines" and topic_kind("gd.whatever") == "other"


def test_the_replay_says_loudly_when_due_deadlines_were_left_unfired() -> None:
    from griddispatch.simulation.summary_text import unfired_warning

    assert unfired_warning(0, 35) is None
    text = unfired_warning(262, 35)
    assert text is not None and text.startswith("WARNING: 262 deadlines due more than 35 s ago have not fired")
    assert "is escalation running?" in text
