"""The console's case page text (trace_text.js, history_text.js) run under node on what the domain really writes:
every routing rule and system note in Chinese with names and local times, reminders and void deadlines folded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shared.domain.model import Assignee, AssigneeKind
from shared.domain.routing import ReportFacts, Urgency, escalate, route, summon
from shared.domain.routing.ladder import escalate_part
from shared.registry_files.load import load_directory

ROOT = Path(__file__).parents[3]
STATIC = ROOT / "services/console/static"
LOADED = load_directory(ROOT / "data" / "sample-district")
REG, CAT = LOADED.registry, LOADED.catalog
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))
BUILDING = sorted(REG.buildings.values(), key=lambda b: b.code)[0]
CHAIN = REG.chain(BUILDING.micro_grid)
STREET, DISTRICT = (u for u in CHAIN if u.level.value in ("street", "district"))
NAMES = {
    **{f"unit:{u.code}": u.name for u in REG.units.values()},
    **{f"branch:{b.code}": b.name for b in REG.branches.values()},
    **{f"department:{d.code}": d.name for d in REG.departments.values()},
}
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node runs the console's modules")

# What may stay Latin in a Chinese sentence: "App", and nothing else of three letters or more.
ENGLISH = re.compile(r"\b(?!App\b)[A-Za-z]{3,}\b")
CODE = re.compile(r"\b(unit|branch|department):")


def _node(body: str, payload: Any) -> Any:
    """Run `body` (an async function body given `input`, returning JSON-able) with the console's modules."""
    script = f"""
        import * as trace from "{(STATIC / "trace_text.js").as_uri()}";
        import * as history from "{(STATIC / "history_text.js").as_uri()}";
        import * as dom from "{(STATIC / "dom.js").as_uri()}";
        dom.setTimeZone("Asia/Shanghai");
        const input = JSON.parse(await new Promise((ok) => {{
          let s = ""; process.stdin.on("data", (c) => (s += c)); process.stdin.on("end", () => ok(s));
        }}));
        const out = await (async () => {{ {body} }})();
        process.stdout.write(JSON.stringify(out));
    """
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--experimental-default-type=module", "--input-type=module", "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def _steps() -> list[dict[str, Any]]:
    """Trace steps the domain writes: routing of every catalog matter, escalations, summons, missed parts."""
    steps: list[dict[str, Any]] = []
    mg = REG.unit(BUILDING.micro_grid)
    lon, lat = mg.boundary.representative_point().coords[0]
    reports = [ReportFacts(matter=code, address=BUILDING.address) for code in CAT.codes]
    reports += [
        ReportFacts(title="楼下垃圾堆放好几天没人清运", lon=lon, lat=lat),
        ReportFacts(title="小区里燃气泄漏，很多人闻到煤气味", address=BUILDING.address, urgency=Urgency.EMERGENCY),
        ReportFacts(title="有点吵", grid_code=CHAIN[1].code, households=60),
        ReportFacts(title="看不懂的事", lon=0.0, lat=0.0),
        ReportFacts(matter="NOPE", address="不存在的地址"),
    ]
    for report in reports:
        steps += route(report, REG, CAT, NOW).to_dict()["trace"]
    for unit in CHAIN:
        steps += [{"rule": s.rule, "reason": s.reason, "detail": s.detail} for s in escalate(_u(unit.code), REG).trace]
    branch = REG.branches_for("city_management", BUILDING.micro_grid)[0]
    for who in (Assignee(AssigneeKind.BRANCH, branch.code), Assignee(AssigneeKind.DEPARTMENT, branch.department)):
        steps += [{"rule": s.rule, "reason": s.reason, "detail": s.detail} for s in escalate(who, REG).trace]
        part = escalate_part(who, REG, NOW, place=BUILDING.micro_grid)
        steps += [{"rule": s.rule, "reason": s.reason, "detail": s.detail} for s in part.trace]
    for by in (STREET.code, DISTRICT.code):
        calls = summon(BUILDING.micro_grid, ["police", "city_management"], by, NOW, REG)
        steps += [{"rule": s.rule, "reason": s.reason, "detail": s.detail} for s in calls.trace]
    return steps


def _u(code: str) -> Assignee:
    return Assignee(AssigneeKind.UNIT, code)


def test_every_rule_the_domain_writes_reads_in_chinese_with_names() -> None:
    steps = _steps()
    rules = {s["rule"] for s in steps}
    assert {"locate.address", "units.lead_branch", "deadline.accept", "escalate.unit", "summon.on_behalf"} <= rules
    lines = _node("return input.steps.map((s) => trace.traceText(s, input.names));", {"steps": steps, "names": NAMES})
    for step, line in zip(steps, lines, strict=True):
        assert line and not ENGLISH.search(line), f"{step['rule']}: {line!r} (from {step['reason']!r})"
        assert not CODE.search(line), f"{step['rule']}: a code left in {line!r}"
    on_behalf = lines[[s["rule"] for s in steps].index("summon.on_behalf")]
    assert on_behalf == f"{DISTRICT.name}代表{STREET.name}吹哨"


def test_deadlines_in_the_trace_read_in_local_time() -> None:
    at = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)  # 10:30 in Xi'an
    step = {
        "rule": "deadline.accept",
        "reason": "catalog: accept within 2 hour(s), by x",
        "detail": {"at": at.isoformat()},
    }
    (line,) = _node("return input.map((s) => trace.traceText(s, {}));", [step])
    assert line == "签收时限：2 小时内，至 2026-03-04 10:30"


def test_a_missed_deadline_s_escalation_note_names_the_unit_in_local_time() -> None:
    grid = next(u for u in CHAIN if u.level.value == "grid")
    community = next(u for u in CHAIN if u.level.value == "community")
    event = {
        "action": "escalate",
        "actor": {"id": "system", "role": "system"},
        "detail": {
            "reason": f"accept deadline 2026-12-01T19:53:54+00:00 missed by unit:{grid.code}",
            "from": f"unit:{grid.code}",
            "to": f"unit:{community.code}",
            "at_top": False,
        },
    }
    (note,) = _node(
        "return input.events.map((e) => history.noteText(e, input.names));", {"events": [event], "names": NAMES}
    )
    assert note == f"{grid.name}未在签收时限（2026-12-02 03:53）内完成：上报升级；升级至{community.name}"


def test_a_district_s_summons_for_a_street_says_so() -> None:
    event = {
        "action": "summon",
        "actor": {"id": "duty-1", "role": "supervisor", "unit": f"unit:{DISTRICT.code}"},
        "detail": {"departments": ["police"], "on_behalf_of": f"unit:{STREET.code}"},
    }
    (note,) = _node(
        "return input.events.map((e) => history.noteText(e, input.names));", {"events": [event], "names": NAMES}
    )
    assert note == f"召集：{NAMES['department:police']}；{DISTRICT.name}代表{STREET.name}吹哨"


def test_a_district_s_consultation_for_a_street_says_so() -> None:
    from shared.domain.case import Request, Who, act
    from tests.unit.domain.case_helpers import entries
    from tests.unit.domain.test_case_commands import DISTRICT as AT_DISTRICT
    from tests.unit.domain.test_case_commands import RULES, h, lead, opened
    from tests.unit.domain.test_case_commands import STREET as AT_STREET

    case = opened("dog_nuisance").case
    case = act(case, Request("accept", lead(case)), RULES, h(0.5), cause="accept-1").case
    district = Who("duty-1", "supervisor", AT_DISTRICT)
    payload = {"invited": ["department:police"], "opinions_by": h(4).isoformat()}
    convened = act(
        case, Request("convene", district, "犬只伤人，需公安参与", payload=payload), RULES, h(1), cause="c-1"
    )
    decided = act(convened.case, Request("record_outcome", district, "公安牵头", payload={"lead": "department:police"}),
                  RULES, h(2), cause="r-1")  # fmt: skip
    events = [
        {"action": e.action, "actor": e.actor.as_dict(), "detail": e.detail, "at": e.at.isoformat()}
        for e in entries(convened) + entries(decided)[:1]
    ]
    assert [e["action"] for e in events] == ["convene", "record_outcome"]
    notes = _node(
        "return input.events.map((e) => history.noteText(e, input.names));", {"events": events, "names": NAMES}
    )
    behalf = f"{NAMES[AT_DISTRICT]}代表{NAMES[AT_STREET]}"
    assert notes == [
        f"会商议题：犬只伤人，需公安参与；邀请：{NAMES['department:police']}；意见截止 2026-03-04 14:00；{behalf}发起会商",
        f"会商结论：公安牵头；{behalf}记录会商结论",
    ]


def test_repeated_reminders_fold_into_one_line_with_a_count() -> None:
    def realert(n: int) -> dict[str, Any]:
        at = datetime(2026, 12, 1, 12, 0, n * 2, tzinfo=UTC).isoformat()
        detail = {"lead": f"unit:{DISTRICT.code}", "kind": "accept", "next_due": at}
        return {"action": "realert", "at": at, "actor": {"id": "system"}, "detail": detail}

    history = [{"action": "assign", "at": "2026-12-01T11:00:00+00:00", "detail": {}}]
    history += [realert(n) for n in range(11)]
    history += [{"action": "comment", "at": "2026-12-01T13:00:00+00:00", "detail": {"text": "已电话联系"}}]
    lines = _node(
        "return history.timelineLines(input).map((l) => [l.event.action, l.count, history.repeatText(l)]);", history
    )
    assert lines == [
        ["assign", 1, ""],
        ["realert", 11, "共 11 次，最近一次 2026-12-01 20:00"],
        ["comment", 1, ""],
    ]


def test_void_deadlines_fold_into_one_summary_line() -> None:
    rows = [{"name": "签收时限", "status": "void"}] * 12 + [{"name": "办结时限", "status": "void"}] * 13
    rows += [{"name": "办结时限", "status": "open"}, {"name": "签收时限", "status": "met"}]
    out = _node("const g = history.deadlineGroups(input); return [g.shown.length, g.summary];", rows)
    assert out == [2, "已失效的时限 25 条（签收时限 12、办结时限 13）：案件改派、上报或办结后不再计时"]


def test_notifications_fold_into_one_line_by_status() -> None:
    items = [{"status": "delivered"}] * 6 + [{"status": "pending"}] * 5 + [{"status": "failed"}]
    (line,) = _node("return [history.deliverySummary(input)];", items)
    assert line == "共 12 条：delivered 6、pending 5、failed 1（点击展开）"


def test_every_rule_the_code_can_write_has_a_chinese_sentence() -> None:
    written = set()
    for source in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        written |= set(re.findall(r"trace\.add\(\s*\"([a-z_]+\.[a-z_]+)\"", source.read_text(encoding="utf-8")))
    sentences = set(
        re.findall(r"^\s*\"([a-z_]+\.[a-z_]+)\":", (STATIC / "trace_text.js").read_text(encoding="utf-8"), re.M)
    )
    assert len(written) > 30
    assert written - sentences == set()  # a new rule needs its sentence in trace_text.js


def test_every_refusal_dispatch_can_record_reads_in_chinese() -> None:
    sources = [*(ROOT / "shared/domain/case").glob("*.py"), ROOT / "shared/domain/lifecycle.py"]
    sources += list((ROOT / "shared/domain/routing").glob("*.py"))
    codes = {"invalid_action"}  # commands.py's default for an error without a code
    for source in sources:
        codes |= set(re.findall(r"^    code = \"([a-z_]+)\"", source.read_text(encoding="utf-8"), re.M))
    texts = _node("return input.map((code) => history.refusalText({ code }));", sorted(codes))
    assert len(codes) > 25
    assert [c for c, t in zip(sorted(codes), texts, strict=True) if t == "操作未被接受"] == []


def test_a_real_refusal_s_reason_reads_in_chinese() -> None:
    from shared.domain.lifecycle import Action, CaseProgress, IllegalTransition, Role, State, apply

    accepted = CaseProgress(
        State.ACCEPTED, lead="unit:G", assisting=frozenset({"branch:P"}), owing=frozenset({"branch:P"})
    )
    with pytest.raises(IllegalTransition) as refused:
        apply(accepted, Action.SUMMON, Role.SUPERVISOR, "duty-1", parties=["branch:P"])
    wrong_state = CaseProgress(State.ASSIGNED, lead="unit:G")
    with pytest.raises(IllegalTransition) as too_early:
        apply(wrong_state, Action.SUMMON, Role.SUPERVISOR, "duty-1", parties=["branch:P"])
    details = [{"code": e.value.code, "reason": str(e.value)} for e in (refused, too_early)]
    lines = _node("return input.map((d) => history.refusalText(d));", details)
    assert lines == ["所选部门均已在办理本案（已被召集或协办），无需再次召集", "案件当前状态不允许此操作"]
