"""The console's copies of the lifecycle's vocabulary (static JavaScript) stay equal to shared/domain's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.domain.lifecycle import AWAITING_ACCEPT, UNRESOLVED, DueKind, State
from shared.people.model import RoleName

LABELS = (Path(__file__).parents[3] / "services/console/static/labels.js").read_text(encoding="utf-8")


def _array(name: str) -> set[str]:
    match = re.search(rf"export const {name} = (\[[^\]]*\]);", LABELS)
    assert match, f"labels.js has no {name}"
    return set(json.loads(match.group(1)))


def _keys(name: str) -> set[str]:
    match = re.search(rf"export const {name} = \{{(.*?)\n\}};", LABELS, re.S)
    assert match, f"labels.js has no {name}"
    return set(re.findall(r"^\s*(\w+):", match.group(1), re.M))


def test_the_console_sets_are_the_domain_sets() -> None:
    assert _array("OPEN_STATES") == {s.value for s in UNRESOLVED}
    assert _array("AWAITING_ACCEPT") == {s.value for s in AWAITING_ACCEPT}


def test_every_state_and_deadline_kind_has_a_chinese_name() -> None:
    assert {s.value for s in State} | {"received"} == _keys("STATES")
    assert {k.value for k in DueKind} <= _keys("DEADLINES")


def test_every_role_of_a_person_has_a_chinese_name() -> None:
    assert {r.value for r in RoleName} == _keys("PERSON_ROLES")
