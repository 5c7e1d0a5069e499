"""The console's consultation forms (consult.js) run under node: which of convene and record-outcome a user is
offered, a district's duty officer included (it convenes on behalf of the case's street, issue 19 item 2).

consult.js builds its forms through the case page's form builder, which the test passes in and which records what
was asked of it; the little DOM the card needs is stubbed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

STATIC = Path(__file__).parents[3] / "services/console/static"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node runs the console's modules")

DISTRICT, STREET, COMMUNITY = "unit:610199", "unit:610199004", "unit:610199004001"
HELD = {"consultation_id": "k-1", "invited": ["department:police"], "opinions_by": "2026-12-02T12:00:00+00:00"}

# Just enough of a browser for dom.js's h() and session.js's storage.
STUB = """
class Node {}
class Element extends Node {
  constructor(tag) { super(); this.tag = tag; this.children = []; this.attrs = {}; this.dataset = {}; }
  setAttribute(k, v) { this.attrs[k] = v; }
  addEventListener() {}
  append(...c) { this.children.push(...c); }
  replaceChildren() { this.children = []; }
}
globalThis.Node = Node;
globalThis.document = {
  createElement: (t) => new Element(t),
  createElementNS: (_, t) => new Element(t),
  createTextNode: (s) => Object.assign(new Node(), { text: s }),
};
const store = new Map();
globalThis.sessionStorage = {
  getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k),
};
"""


def _offered(case: dict[str, Any], units: list[str], actor_unit: str, *, sees_all: bool = False) -> dict[str, str]:
    """The forms consultPanel offers this user on this case: {form id: its hint}."""
    script = f"""
        {STUB}
        const {{ consultPanel }} = await import("{(STATIC / "consult.js").as_uri()}");
        const input = JSON.parse(process.argv[1]);
        const ctx = {{
          config: {{ district: "610199" }}, actorUnit: input.actorUnit, sees_all: input.seesAll,
          me: {{ scopes: ["read", "act", "supervise"], units: input.units, sees_all: input.seesAll }},
        }};
        const form = (spec) => ({{ id: spec.id, hint: spec.hint || "" }});
        const {{ forms }} = consultPanel({{ c: input.case, ctx, caseId: "case-1", form, onDone: () => {{}}, depts: [] }});
        process.stdout.write(JSON.stringify(Object.fromEntries(forms.map((f) => [f.id, f.hint]))), () => process.exit(0));
    """
    payload = {"case": case, "units": units, "actorUnit": actor_unit, "seesAll": sees_all}
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script, json.dumps(payload)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(json.loads(done.stdout))


def _case(consultation: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"state": "accepted", "assignment": {"lead": "unit:610199004001001"}, "consultation": consultation,
            "history": history or []}  # fmt: skip


def _convened(convener: str, **detail: Any) -> dict[str, Any]:
    entry = {"action": "convene", "detail": {"consultation_id": "k-1", "convener": convener, **detail}}
    return _case({**HELD, "convener": convener}, [entry])


def test_a_district_duty_officer_is_offered_convene_on_behalf_of_the_street() -> None:
    offered = _offered(_case({}), ["*"], DISTRICT, sees_all=True)
    assert list(offered) == ["action-convene"] and "区代表案件所在街道发起会商" in offered["action-convene"]
    street = _offered(_case({}), [STREET], STREET)
    assert list(street) == ["action-convene"] and "区可代表案件所在街道发起" in street["action-convene"]


def test_the_district_records_the_outcome_of_what_it_convened_for_the_street_only() -> None:
    for_street = _convened(STREET, on_behalf_of=STREET)
    assert "action-record-outcome" in _offered(for_street, ["*"], DISTRICT, sees_all=True)
    assert "action-record-outcome" in _offered(for_street, [STREET], STREET)  # the street's own consultation
    by_community = _convened(COMMUNITY)
    assert "action-record-outcome" not in _offered(by_community, ["*"], DISTRICT, sees_all=True)
    assert "action-record-outcome" in _offered(by_community, [COMMUNITY], COMMUNITY)
    assert "action-record-outcome" not in _offered(for_street, [COMMUNITY], COMMUNITY)


def test_nothing_is_offered_once_the_case_left_handling() -> None:
    assert _offered({**_case({}), "state": "closed"}, ["*"], DISTRICT, sees_all=True) == {}
