"""The field app's static copies (services/field_app/static/) agree with the domain, and its service worker
caches every file of the app shell, so the app opens offline whole."""

from __future__ import annotations

import json
import re
from typing import get_args

from services.field_app.routes import FIELD_APP_DIR
from services.intake.schemas import ApiAction
from shared.domain.lifecycle import Action, DueKind, Role, State, allowed_actions
from shared.people.model import RoleName

LABELS = (FIELD_APP_DIR / "labels.js").read_text(encoding="utf-8")
CASE = (FIELD_APP_DIR / "case.js").read_text(encoding="utf-8")
WORKER = (FIELD_APP_DIR / "sw.js").read_text(encoding="utf-8")


def _keys(source: str, name: str) -> set[str]:
    match = re.search(rf"export const {name} = \{{(.*?)\n\}};", source, re.S) or re.search(
        rf"const {name} = \{{(.*?)\}};", source, re.S
    )
    assert match, f"no {name}"
    return set(re.findall(r"(?:^|[,{\s])(\w+):", match.group(1), re.M))


def shell() -> list[str]:
    match = re.search(r"const SHELL = (\[.*?\]);", WORKER, re.S)
    assert match, "sw.js has no SHELL"
    return list(json.loads(re.sub(r",\s*\]", "]", match.group(1))))


def test_every_state_and_person_role_has_a_chinese_name() -> None:
    assert _keys(LABELS, "STATES") == {s.value for s in State} | {"received"}
    assert _keys(LABELS, "ROLES") == {r.value for r in RoleName}


def test_the_deadline_kinds_and_actions_named_are_the_domains() -> None:
    assert _keys(LABELS, "DEADLINES") <= {k.value for k in DueKind}
    history_only = {"report", "rejected", "deadline"}  # what the history names besides the actions
    assert _keys(LABELS, "ACTIONS") <= {a.value for a in Action} | set(get_args(ApiAction)) | history_only


def test_what_the_app_offers_the_lead_the_lifecycle_allows() -> None:
    match = re.search(r"const LEAD_ACTIONS = \{(.*?)\};", CASE, re.S)
    assert match
    offered = {state: json.loads(actions) for state, actions in re.findall(r"(\w+): (\[[^\]]*\])", match.group(1))}
    assert offered, "case.js offers nothing"
    for state, actions in offered.items():
        allowed = {a.value for a in allowed_actions(State(state), Role.ASSIGNEE)}
        assert set(actions) <= allowed, (state, set(actions) - allowed)


def test_the_service_worker_caches_the_whole_shell() -> None:
    files = {
        p.relative_to(FIELD_APP_DIR).as_posix() for p in FIELD_APP_DIR.rglob("*") if p.is_file() and p.name != "sw.js"
    }
    cached = set(shell())
    assert cached - {"./"} == files, (files - cached, cached - files)
    assert "./" in cached  # /app/ itself, as it is opened from the home screen


def test_the_manifest_makes_an_installable_app() -> None:
    manifest = json.loads((FIELD_APP_DIR / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["start_url"] == manifest["scope"] == "/app/" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        data = (FIELD_APP_DIR / icon["src"]).read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and icon["sizes"] == f"{width}x{height}"
