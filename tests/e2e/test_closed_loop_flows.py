"""The closed loop's other flows, all four services on the real broker and database (the session's `loop`).

Each test reports in a micro-grid of its own and with a matter of its own, so no test's case absorbs another's
as a duplicate (same matter, within 100 m, within 72 h). Points are inside the sample district's micro-grids of
street 610199004, the street centre's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.loop_fixtures import STREET, Loop, stream, until

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)

STREET_UNIT = f"unit:{STREET}"
CASE_ASSIGNED = "cn.griddispatch.case.assigned.v1"


def at(lon: float, lat: float) -> dict[str, float]:
    return {"lon": lon, "lat": lat}


async def grid_app(loop: Loop, community: str) -> str:
    """The grid workers' app of a community (it acts for every grid and micro-grid below it)."""
    return await loop.key(f"grid app {community}", [f"unit:{community}"], ["submit", "read", "act"], source="grid_app")


async def report_parts_in(loop: Loop, case_id: str, parties: list[str], who: dict[str, str] | None = None) -> None:
    """Each assisting party's own system reports its part (a unit's may be its grid app or the street centre)."""
    who = who or {}
    for party in parties:
        client = who.get(party) or await loop.key(party, [party], ["read", "act"])
        body = {"action": "report_in", "actor": {"id": "staff", "unit": party}, "text": "已配合处置"}
        await loop.post_action(client, case_id, body)

    async def in_() -> bool:
        return not set(parties) & set((await loop.case(case_id))["progress"]["owing"])

    await until(in_, what=f"the parts of {parties}")


def history_of(case: dict[str, Any]) -> list[str]:
    return [h["action"] for h in case["history"]]


async def test_a_big_matter_is_led_by_a_department_with_street_and_grid_assisting_and_closed_together(
    loop: Loop,
) -> None:
    report = {"title": "路灯不亮", "description": "小区门口一排路灯晚上都不亮", "location": at(108.93675, 34.27186)}
    case_id = await loop.report(report)
    case = await loop.reach(case_id, "assigned", "dispatch")
    lead, assisting = case["assignment"]["lead"], case["assignment"]["assisting"]
    assert lead == "branch:city_management-610199004"  # the department's branch for the street leads
    grid, community = "unit:610199004002001", "unit:610199004002"
    assert {STREET_UNIT, grid, community} <= set(assisting)  # the street and the grid where it happened assist
    assert set(case["progress"]["owing"]) == set(assisting)
    city = await loop.key("city management", [lead], ["read", "act"])
    await loop.act(city, case_id, {"action": "accept", "actor": {"id": "cm1", "unit": lead}}, "accepted")
    early = {"action": "resolve", "actor": {"id": "cm1", "unit": lead}, "text": "已修复"}
    await loop.post_action(city, case_id, early)  # refused by dispatch: the co-assigned parts are not in yet

    async def refused() -> bool:
        return "rejected" in await loop.history(case_id)

    await until(refused, what="the early resolve to be refused")
    assert (await loop.case(case_id))["state"] == "accepted"
    app = await grid_app(loop, "610199004002")
    await report_parts_in(loop, case_id, assisting, {STREET_UNIT: "street centre", grid: app, community: app})
    await loop.act(city, case_id, early, "resolved")
    verify = {"action": "verify", "actor": {"id": "c", "unit": STREET_UNIT}, "passed": True}
    await loop.act("street centre", case_id, verify, "verified")
    done = await loop.act("hotline", case_id, {"action": "rate", "actor": {"id": "r"}, "score": 5}, "closed")
    steps = history_of(done)
    assert steps[:3] == ["report", "assign", "accept"] and steps[-4:] == [
        "resolve",
        "verify_passed",
        "rate_satisfied",
        "close",
    ]
    assert steps.count("report_in") == len(assisting)
    assert steps.index("rejected") < steps.index("report_in")  # the lead could resolve only once every part was in
    parts = [d for d in done["deadlines"]["items"] if d["kind"] == "report_in"]
    assert {d["party"] for d in parts} == set(assisting) and {d["status"] for d in parts} == {"met"}


async def test_a_return_is_rerouted_and_repeated_returns_go_to_arbitration(loop: Loop) -> None:
    report = {"title": "垃圾堆放没人清运", "description": "路边垃圾堆了好几天", "location": at(108.93888, 34.27148)}
    case_id = await loop.report(report)
    first = (await loop.reach(case_id, "assigned", "dispatch"))["assignment"]["lead"]
    assert first == "unit:610199004002002001"  # the micro-grid
    app = await grid_app(loop, "610199004002")
    back = {
        "action": "return",
        "actor": {"id": "w", "unit": first},
        "reason_code": "not_our_area",
        "text": "不属于本微网格，是隔壁小区的",
    }
    await loop.post_action(app, case_id, back)

    async def moved_from(lead: str) -> bool:
        case = await loop.case(case_id)
        return case["state"] == "assigned" and case["assignment"]["lead"] != lead

    await until(lambda: moved_from(first), what="the re-route after the first return")
    case = await loop.case(case_id)
    second = case["assignment"]["lead"]
    assert second == "unit:610199004002002"  # the grid above it, never the unit that returned it
    assert case["progress"]["returned_by"] == [first] and history_of(case)[-2:] == ["return", "assign"]
    back = {
        "action": "return",
        "actor": {"id": "g", "unit": second},
        "reason_code": "needs_enforcement",
        "text": "网格无执法权，需街道协调",
    }
    await loop.post_action(app, case_id, back)
    await until(lambda: moved_from(second), what="arbitration after the second return")
    case = await loop.case(case_id)
    assert case["assignment"]["lead"] == STREET_UNIT  # the street command centre arbitrates
    assert case["progress"]["returned_by"] == [first, second]
    assign = case["history"][-1]
    assert assign["action"] == "assign" and assign["detail"]["arbitration"] is True
    assert "returns.arbitration" in assign["detail"]["rules"]


async def test_an_unsatisfied_rating_reopens_the_case_for_its_lead(loop: Loop) -> None:
    report = {
        "title": "小广告乱贴",
        "description": "单元门上贴满了小广告",
        "location": at(108.94183, 34.27145),
        "reporter": {"name": "李女士", "phone": "13900001111"},
    }
    case_id = await loop.report(report)
    case = await loop.reach(case_id, "assigned", "dispatch")
    lead = case["assignment"]["lead"]
    app = await grid_app(loop, "610199004002")
    await loop.act(app, case_id, {"action": "accept", "actor": {"id": "w", "unit": lead}}, "accepted")
    await report_parts_in(loop, case_id, case["assignment"]["assisting"])
    resolve = {"action": "resolve", "actor": {"id": "w", "unit": lead}, "text": "已清除"}
    await loop.act(app, case_id, resolve, "resolved")
    verify = {"action": "verify", "actor": {"id": "c", "unit": STREET_UNIT}, "passed": True}
    await loop.act("street centre", case_id, verify, "verified")
    rate = {"action": "rate", "actor": {"id": "r"}, "score": 2, "text": "第二天又贴满了"}
    reopened = await loop.act("hotline", case_id, rate, "reopened")
    assert history_of(reopened)[-1] == "rate_unsatisfied" and reopened["progress"]["reopens"] == 1
    assert reopened["assignment"]["lead"] == lead  # back to the same lead
    open_kinds = {d["kind"] for d in reopened["deadlines"]["items"] if d["status"] == "open"}
    assert "resolve" in open_kinds  # a fresh resolve-by
    again = await loop.act(app, case_id, {"action": "accept", "actor": {"id": "w", "unit": lead}}, "accepted")
    assert history_of(again)[-2:] == ["rate_unsatisfied", "accept"]


async def test_one_problem_from_hotline_and_app_is_merged_and_both_reporters_hear_the_outcome(loop: Loop) -> None:
    hotline_phone, app_phone = "13700002222", "13600003333"
    first = {
        "title": "垃圾桶满溢",
        "description": "小区东门垃圾桶满溢没人管",
        "location": at(108.92914, 34.26675),
        "reporter": {"name": "赵先生", "phone": hotline_phone},
    }
    case_id = await loop.report(first)
    case = await loop.reach(case_id, "assigned", "dispatch")
    app = await grid_app(loop, "610199004003")
    second = {  # the grid worker's app, a few tens of metres away, on behalf of another resident
        "title": "垃圾桶满溢",
        "description": "东门垃圾桶满了，垃圾撒了一地",
        "location": at(108.92934, 34.26690),
        "reporter": {"name": "钱女士", "phone": app_phone},
    }
    merged_id = await loop.report(second, who=app)
    merged = await loop.reach(merged_id, "merged", "the app's report to be merged")
    assert history_of(merged)[-1] == "merge" and merged["history"][-1]["detail"]["into"] == case_id

    async def linked() -> bool:
        return "link" in await loop.history(case_id)

    await until(linked, what="the open case to count the merged report")
    lead = case["assignment"]["lead"]
    await loop.act(app, case_id, {"action": "accept", "actor": {"id": "w", "unit": lead}}, "accepted")
    await report_parts_in(loop, case_id, case["assignment"]["assisting"])
    resolve = {"action": "resolve", "actor": {"id": "w", "unit": lead}, "text": "已清运"}
    await loop.act(app, case_id, resolve, "resolved")
    verify = {"action": "verify", "actor": {"id": "c", "unit": STREET_UNIT}, "passed": True}
    await loop.act("street centre", case_id, verify, "verified")
    await loop.act("hotline", case_id, {"action": "rate", "actor": {"id": "r"}, "score": 5}, "closed")

    async def both_told() -> bool:
        texts = [*loop.hooks.sms_to(hotline_phone), *loop.hooks.sms_to(app_phone)]
        told = {p for p in (hotline_phone, app_phone) if any("办结" in t for t in loop.hooks.sms_to(p))}
        return told == {hotline_phone, app_phone} and bool(texts)

    await until(both_told, what="both reporters to be told the case is resolved")
    number = case["case_number"]
    told = loop.hooks.sms_to(app_phone)
    assert any("已合并" in t and number in t for t in told)  # told first that theirs is handled with the open case
    assert not any("赵" in t for t in told)  # never greeted with the other resident's name


async def test_a_summoned_department_that_does_not_report_in_is_escalated_to_its_department(loop: Loop) -> None:
    report = {"title": "楼道灯坏了", "description": "声控灯不亮，晚上楼道一片黑", "location": at(108.9347, 34.2668)}
    case_id = await loop.report(report)
    case = await loop.reach(case_id, "assigned", "dispatch")
    lead, co_assigned = case["assignment"]["lead"], case["assignment"]["assisting"]
    market = await loop.key("market supervision", ["department:market_supervision"], ["read", "act"])
    await loop.subscribe(market, "/market-supervision")
    app = await grid_app(loop, "610199004004")
    await loop.act(app, case_id, {"action": "accept", "actor": {"id": "w", "unit": lead}}, "accepted")
    summon = {
        "action": "summon",
        "actor": {"id": "c", "unit": STREET_UNIT},
        "departments": ["market_supervision", "civil_affairs"],
        "text": "街道吹哨：请市场监管、民政到场",
    }
    await loop.post_action("street centre", case_id, summon)
    branch, civil = "branch:market_supervision-610199004", "department:civil_affairs"

    async def summoned() -> bool:
        return {branch, civil} <= set((await loop.case(case_id))["progress"]["owing"])

    await until(summoned, what="the summons")
    await report_parts_in(loop, case_id, [civil, *co_assigned])  # civil affairs reports in; the branch does not

    # time passes: the branch's report-in deadline falls due now
    await loop.due_now(case_id, "report_in", branch)

    async def escalated() -> bool:
        return "escalate_part" in await loop.history(case_id)

    await until(escalated, what="the missed part to be escalated")
    case = await loop.case(case_id)
    step = next(h for h in case["history"] if h["action"] == "escalate_part")
    assert step["detail"]["party"] == branch and step["detail"]["to"] == "department:market_supervision"
    assert case["state"] == "accepted" and case["assignment"]["lead"] == lead  # only the part moved up
    assert set(case["progress"]["owing"]) == {branch, "department:market_supervision"}
    parts = {(d["party"], d["status"]) for d in case["deadlines"]["items"] if d["kind"] == "report_in"}
    assert (branch, "void") in parts and ("department:market_supervision", "open") in parts

    async def department_told() -> bool:
        events = [e for e in loop.hooks.events("/market-supervision") if e["subject"] == case_id]
        assigned = {e["data"]["assignee"] for e in events if e["type"] == CASE_ASSIGNED}
        overdue = {e["data"]["assignee"] for e in events if e["data"].get("tier") == "overdue"}
        return "department:market_supervision" in assigned and branch in overdue

    await until(department_told, what="the department to hear of its branch's overdue part and its summons")
    early = {"action": "resolve", "actor": {"id": "w", "unit": lead}, "text": "灯已修好"}
    await loop.post_action(app, case_id, early)  # refused: market supervision's part is still owed
    await report_parts_in(loop, case_id, ["department:market_supervision"], {"department:market_supervision": market})
    case = await loop.case(case_id)
    parts = {(d["party"], d["status"]) for d in case["deadlines"]["items"] if d["kind"] == "report_in"}
    assert ("department:market_supervision", "met") in parts and not case["progress"]["owing"]
    assert case["state"] == "accepted" and history_of(case)[-2:] == ["rejected", "report_in"]
    await loop.act(app, case_id, early, "resolved")


async def test_a_camera_detection_reaches_the_micro_grid_workers_live_stream(loop: Loop) -> None:
    camera = await loop.key("camera platform", ["*"], ["submit", "read"], source="camera")
    worker = await grid_app(loop, "610199004005")
    micro_grid = "unit:610199004005001001"
    report = {
        "title": "垃圾堆放",
        "description": "摄像头识别：路边垃圾堆放",
        "location": at(108.94042, 34.26697),
        "source_ref": "CAM-0421-20261122-0001",
        "attachments": ["https://cameras.example.gov.cn/snap/0421/0001.jpg"],
    }
    async with stream(loop, micro_grid, worker) as live:
        case_id = await loop.report(report, who=camera)

        async def next_for_case() -> dict[str, Any]:
            while True:
                name, event = await live.next()
                if event["subject"] == case_id and name == CASE_ASSIGNED:
                    return event

        event = await asyncio.wait_for(next_for_case(), timeout=180)
    assert event["data"]["assignee"] == micro_grid and event["data"]["role"] == "lead"
    case = await loop.case(case_id)
    assert case["source"] == "camera" and case["assignment"]["lead"] == micro_grid
