"""Message texts: Chinese, times in the district's zone, personal data masked, one per event and audience."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.notify import templates
from services.notify.templates import Audience, CaseFacts, digest, render
from shared.events import CloudEvent, new_event
from shared.events.types import (
    ActionRejected,
    Actor,
    CaseAssigned,
    CaseChanged,
    Contract,
    DeadlineFired,
    Probe,
)

CASE_ID = "3f1c9a52-8b7e-4d2a-9c10-5e6f7a8b9c0d"
NUMBER = "GD-20261123-0007"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
FACTS = CaseFacts(
    case_number=NUMBER,
    title="张三家门口路灯不亮，请回电13812345678",
    address="香米园社区3号楼，联系人张三 029-87654321",
    reporter_name="张三",
    reporter_phone="13812345678",
)
WORKER = Actor(id="worker-1", role="assignee", unit="unit:610199001001")


def _event(data: Contract, at: datetime = T0) -> CloudEvent[Any]:
    return new_event(data, source="/test", subject=CASE_ID, time=at)


def _assigned(role: str = "lead", accept_in: timedelta | None = timedelta(hours=8)) -> CloudEvent[Any]:
    return _event(
        CaseAssigned(
            case_id=CASE_ID,
            case_number=NUMBER,
            assignee="unit:610199001001",
            role=role,
            matter_code="streetlight",
            level="grid",
            accept_by=T0 + accept_in if accept_in else None,
            resolve_by=T0 + timedelta(days=2) if accept_in else None,
            title=FACTS.title or "",
        )
    )


def _fired(tier: str, kind: str = "resolve", late: timedelta = timedelta(0)) -> CloudEvent[Any]:
    data = DeadlineFired(case_id=CASE_ID, deadline_id="d1", kind=kind, tier=tier, due_at=T0, assignee="unit:1")
    return _event(data, T0 + late)


def _changed(to_state: str, action: str = "accept", **detail: object) -> CloudEvent[Any]:
    data = CaseChanged(
        case_id=CASE_ID, seq=3, action=action, from_state="assigned", to_state=to_state, actor=WORKER, detail=detail
    )
    return _event(data)


def _no_personal_data(text: str) -> None:
    """Neither the reporter's name nor any whole phone number survives into a text."""
    assert "张三" not in text
    assert "13812345678" not in text and "87654321" not in text


# ---------------------------------------------------------------- staff


def test_case_assigned_to_the_lead() -> None:
    msg = render(_assigned(), FACTS)
    assert msg is not None
    assert msg.subject == f"新派单 {NUMBER}"
    first, address, reporter = msg.text.splitlines()
    assert first.startswith(f"【新派单】{NUMBER} 张*家门口路灯不亮")
    assert "请于11月23日 17:00前签收，11月25日 09:00前办结。" in first  # 01:00 UTC + 8 h is 17:00 in Shanghai
    assert address == "地址：香米园社区3号楼，联系人张* 029*****4321"
    assert reporter == "反映人：张* 138****5678"
    _no_personal_data(msg.text)
    _no_personal_data(msg.line)


def test_case_assigned_to_an_assisting_unit_without_deadlines() -> None:
    msg = render(_assigned(role="assisting", accept_in=None))
    assert msg is not None and msg.subject == f"协办派单 {NUMBER}"
    assert msg.text.startswith(f"【协办派单】{NUMBER} ") and msg.text.endswith("，请尽快签收。")
    assert "请回电138****5678" in msg.text  # without case facts the name is unknown, yet the number is masked


def test_times_follow_the_configured_zone() -> None:
    shanghai = render(_assigned(), FACTS)
    urumqi = render(_assigned(), FACTS, tz="Asia/Urumqi")  # UTC+6
    utc = render(_assigned(), FACTS, tz=ZoneInfo("UTC"))
    assert shanghai and urumqi and utc
    assert "11月23日 17:00前签收" in shanghai.text
    assert "11月23日 15:00前签收" in urumqi.text
    assert "11月23日 09:00前签收" in utc.text


def test_a_deadline_in_another_year_names_the_year() -> None:
    msg = render(_assigned(accept_in=timedelta(days=40)), FACTS)
    assert msg is not None and "请于2027年1月2日 09:00前签收" in msg.text


@pytest.mark.parametrize(
    ("tier", "late", "expected"),
    [
        (
            "warning",
            -timedelta(hours=2),
            "【预警】GD-20261123-0007 张*家门口路灯不亮，请回电138****5678，办结时限11月23日 09:00将到，请抓紧办理。",
        ),
        (
            "overdue",
            timedelta(0),
            "【超时】GD-20261123-0007 张*家门口路灯不亮，请回电138****5678，已超过办结时限（11月23日 09:00），请立即办理。",
        ),
        (
            "escalate",
            timedelta(0),
            "【升级】GD-20261123-0007 张*家门口路灯不亮，请回电138****5678，超过办结时限（11月23日 09:00）未办，已上报上一级督办。",
        ),
        (
            "realert",
            timedelta(hours=2, minutes=30),
            "【再次提醒】GD-20261123-0007 张*家门口路灯不亮，请回电138****5678，超过办结时限已2小时30分，仍未办理，请督办。",
        ),
    ],
)
def test_deadline_tiers(tier: str, late: timedelta, expected: str) -> None:
    msg = render(_fired(tier, late=late), FACTS)
    assert msg is not None and msg.text == expected
    assert msg.subject == f"{expected[1 : expected.index('】')]} {NUMBER}"


@pytest.mark.parametrize(("kind", "name"), [("accept", "签收"), ("report_in", "报到"), ("verify", "核查")])
def test_deadline_kinds_are_named(kind: str, name: str) -> None:
    msg = render(_fired("overdue", kind=kind), FACTS)
    assert msg is not None and f"已超过{name}时限" in msg.text


def test_a_deadline_without_case_facts_names_the_case_by_its_id() -> None:
    msg = render(_fired("overdue"))
    assert msg is not None and msg.text.startswith(f"【超时】案件{CASE_ID[:8]}，已超过办结时限")


def test_realert_durations() -> None:
    assert templates.duration(timedelta(minutes=45)) == "45分钟"
    assert templates.duration(timedelta(hours=3)) == "3小时"
    assert templates.duration(timedelta(days=2, hours=5, minutes=9)) == "2天5小时"
    assert templates.duration(timedelta(days=1)) == "1天"
    assert templates.duration(-timedelta(minutes=5)) == "0分钟"


def test_escalation_change_for_supervisors() -> None:
    msg = render(_changed("escalated", action="escalate"), FACTS)
    assert (
        msg is not None
        and msg.text == f"【升级督办】{NUMBER} 张*家门口路灯不亮，请回电138****5678，已逐级上报，请督办。"
    )


def test_a_top_rung_re_alert_tells_the_district_again() -> None:
    msg = render(_changed("assigned", action="realert", kind="accept"), FACTS)
    assert msg is not None
    assert (
        msg.text
        == f"【再次提醒】{NUMBER} 张*家门口路灯不亮，请回电138****5678，超过签收时限仍未办理，已无上一级可上报，请立即办理。"
    )


def test_other_changes_for_staff_name_action_and_state() -> None:
    msg = render(_changed("returned", action="return"), FACTS)
    assert msg is not None and msg.text.endswith("当前状态：已退单。") and msg.text.startswith("【案件退单】")


def test_a_rejected_action_tells_the_actor_why() -> None:
    data = ActionRejected(
        case_id=CASE_ID,
        action_event_id="e1",
        action="accept",
        actor=WORKER,
        state="resolved",
        code="illegal_transition",
        reason="accept is not allowed in state resolved",
    )
    msg = render(_event(data), FACTS)
    assert msg is not None
    assert msg.text == f"【操作未执行】{NUMBER} 签收未执行，案件当前状态：已办结（illegal_transition）。"
    unknown = render(_event(data.model_copy(update={"state": None, "code": "unknown_case"})))
    assert unknown is not None and "案件不存在（unknown_case）" in unknown.text


# ---------------------------------------------------------------- the reporter


def test_reporter_is_told_the_case_is_accepted() -> None:
    msg = render(_changed("accepted"), FACTS, audience=Audience.REPORTER)
    assert msg is not None and msg.subject == f"已受理 {NUMBER}"
    assert (
        msg.text
        == f"【已受理】张*您好，您反映的问题 {NUMBER}（张*家门口路灯不亮，请回电138****5678）已受理，正在办理。"
    )


def test_reporter_is_told_the_case_is_resolved_in_local_time() -> None:
    msg = render(_changed("resolved", action="resolve"), FACTS, audience=Audience.REPORTER)
    assert msg is not None and msg.text.endswith("已于11月23日 09:00办结。")
    assert "您反映的问题 GD-20261123-0007" in msg.text
    _no_personal_data(msg.text)


def test_reporter_is_asked_to_rate() -> None:
    msg = render(_changed("verified", action="verify_passed"), FACTS, audience=Audience.REPORTER)
    assert msg is not None and "请对办理结果进行评价" in msg.text and msg.subject == f"请您评价 {NUMBER}"
    _no_personal_data(msg.text)


def test_the_request_to_rate_carries_the_signed_link_when_there_is_one() -> None:
    link = "https://intake.example/resident/rate/#t=eyJhbGciOiJIUzI1NiJ9.e30.sig"
    facts = replace(FACTS, rating_link=link)
    msg = render(_changed("verified", action="verify_passed"), facts, audience=Audience.REPORTER)
    assert msg is not None and msg.text.endswith(f"请点击链接评价（满意/基本满意/不满意）：{link}")
    _no_personal_data(msg.text)
    grouped = digest(
        [_changed("resolved", action="resolve"), _changed("verified", action="verify_passed")],
        {CASE_ID: facts},
        audience=Audience.REPORTER,
    )
    assert grouped is not None and link in grouped.text  # a digest keeps the link whole


def test_reporter_of_a_duplicate_learns_which_case_handles_it() -> None:
    msg = render(
        _changed("merged", action="merge", into_case_number="GD-20261122-0003"), None, audience=Audience.REPORTER
    )
    assert msg is not None
    assert msg.text == f"【已合并】您反映的问题 案件{CASE_ID[:8]} 与GD-20261122-0003为同一问题，已合并办理。"


def test_an_anonymous_reporter_gets_no_greeting() -> None:
    msg = render(_changed("accepted"), CaseFacts(case_number=NUMBER), audience=Audience.REPORTER)
    assert msg is not None and msg.text == f"【已受理】您反映的问题 {NUMBER} 已受理，正在办理。"


@pytest.mark.parametrize("to_state", ["in_progress", "assigned", "closed", "returned"])
def test_reporter_gets_nothing_for_internal_steps(to_state: str) -> None:
    assert render(_changed(to_state), FACTS, audience=Audience.REPORTER) is None


def test_reporter_gets_nothing_for_staff_events() -> None:
    assert render(_assigned(), FACTS, audience=Audience.REPORTER) is None
    assert render(_fired("overdue"), FACTS, audience=Audience.REPORTER) is None


def test_events_without_a_text() -> None:
    assert render(_event(Probe(note="x"))) is None


# ---------------------------------------------------------------- digests and masking


def test_a_digest_groups_events_oldest_first_with_local_times() -> None:
    events = [_fired("warning", late=timedelta(minutes=20)), _assigned(), _fired("overdue", late=timedelta(hours=1))]
    msg = digest(events, {CASE_ID: FACTS})
    assert msg is not None and msg.subject == "您有 3 条新消息"
    head, *lines = msg.text.splitlines()
    assert head == "您有 3 条新消息："
    assert lines[0].startswith(f"1. 09:00 新派单 {NUMBER}")
    assert lines[1].startswith(f"2. 09:20 预警 {NUMBER}")
    assert lines[2].startswith(f"3. 10:00 超时 {NUMBER}")
    _no_personal_data(msg.text)


def test_a_long_digest_is_cut_with_a_count_of_the_rest() -> None:
    events = [_fired("warning", late=timedelta(minutes=i)) for i in range(8)]
    msg = digest(events, {CASE_ID: FACTS}, max_lines=3)
    assert msg is not None and msg.subject == "您有 8 条新消息"
    lines = msg.text.splitlines()
    assert len(lines) == 5 and lines[-1] == "…另有 5 条，请登录系统查看。"
    assert [line[:12] for line in lines[1:4]] == ["1. 09:00 预警 ", "2. 09:01 预警 ", "3. 09:02 预警 "]


def test_a_digest_for_the_reporter_and_one_with_nothing_to_say() -> None:
    msg = digest(
        [_changed("accepted"), _changed("resolved", action="resolve")], {CASE_ID: FACTS}, audience=Audience.REPORTER
    )
    assert msg is not None and msg.subject == "您有 2 条新消息"
    assert f"1. 09:00 {NUMBER} 已受理，正在办理。" in msg.text
    assert digest([_event(Probe())]) is None
    assert digest([]) is None


def test_scrub_masks_every_kind_of_number_and_the_name() -> None:
    text = "张三说：手机13812345678，座机029-87654321，身份证61010319900101123X，门牌12号"
    assert (
        templates.scrub(text, FACTS) == "张*说：手机138****5678，座机029*****4321，身份证610***********123X，门牌12号"
    )


def test_a_long_title_is_cut_for_sms() -> None:
    long_title = "路灯" * 40
    msg = render(_changed("accepted"), CaseFacts(case_number=NUMBER, title=long_title), audience=Audience.REPORTER)
    assert msg is not None and f"（{'路灯' * 14}路…）" in msg.text


def test_every_lifecycle_action_has_a_chinese_name() -> None:
    from services.notify.templates import ACTION_NAMES
    from shared.domain.lifecycle import Action

    assert {a.value for a in Action} <= set(ACTION_NAMES), "a staff text would show the action's English code"


def test_every_state_deadline_kind_and_action_has_a_chinese_name() -> None:
    from shared.domain.lifecycle import Action, DueKind, State

    assert set(templates.STATE_NAMES) == set(State)
    assert set(templates.DEADLINE_NAMES) == set(DueKind)
    assert {a.value for a in Action} <= set(templates.ACTION_NAMES)
