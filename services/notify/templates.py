"""Chinese SMS and e-mail texts rendered from events: pure functions, times local to the district, data masked.

Events carry ids, not everything a message names: `CaseFacts` (case number, title, address, reporter) is what
the caller read from the case's row. Every reporter name and phone number that reaches a text is masked with
shared.privacy, and so is any phone or ID-card number a resident typed into a title or address.

* `render(event, case, audience=..., tz=...)` picks the template for an event (None: no message for it);
* `digest(events, cases, ...)` groups several events for one recipient into one message;
* the templates themselves: `case_assigned`, `deadline_fired`, `case_changed` (staff), `case_accepted`,
  `case_resolved`, `rating_requested`, `case_merged` (the reporter), `action_rejected` (the actor).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.lifecycle import DueKind, State, Tier
from shared.events import CloudEvent, EventType
from shared.events.types import ActionRejected, CaseAssigned, CaseChanged, DeadlineFired
from shared.privacy import mask_name, mask_phone

DEFAULT_TIMEZONE = "Asia/Shanghai"
DIGEST_MAX_LINES = 5  # an SMS digest longer than this is cut: the rest is in the app
TITLE_MAX_CHARS = 30  # SMS are billed per 70 characters; a title is cut rather than the instruction

Zone = str | tzinfo


class Audience(StrEnum):
    STAFF = "staff"  # assignees, assisting units, summoned departments, supervisors, the actor of an action
    REPORTER = "reporter"  # the resident who reported the case


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What a message names that the event does not carry, read by the caller from the case's row."""

    case_number: str | None = None
    title: str | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    rating_link: str | None = None  # the signed link to the rating page (shared/resident_links.py), when minted


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message: the e-mail subject, the SMS or e-mail text, and the line it takes in a digest."""

    subject: str
    text: str
    line: str


STATE_NAMES: dict[str, str] = {
    State.REPORTED: "已上报",
    State.ASSIGNED: "已派单",
    State.ACCEPTED: "已签收",
    State.IN_PROGRESS: "处置中",
    State.RESOLVED: "已办结",
    State.VERIFIED: "已核查",
    State.RATED: "已评价",
    State.CLOSED: "已结案",
    State.RETURNED: "已退单",
    State.ESCALATED: "已上报上级",
    State.MERGED: "已合并",
    State.REOPENED: "重办",
    State.CANCELLED: "已撤销",
}
ACTION_NAMES = {
    "assign": "派单",
    "accept": "签收",
    "return": "退单",
    "start": "开始处置",
    "progress": "反馈进展",
    "resolve": "办结",
    "report_in": "报到",
    "summon": "吹哨",
    "verify_passed": "核查通过",
    "verify_failed": "核查不通过",
    "rate_satisfied": "评价满意",
    "rate_unsatisfied": "评价不满意",
    "reopen": "重办",
    "escalate": "上报",
    "escalate_part": "报到超时上报",  # a summoned party did not report in: the rung above answers for its part
    "realert": "超时再次提醒",  # the district command centre missed a deadline: it keeps the case, chased again
    "merge": "合并",
    "close": "结案",
    "cancel": "撤销",
    "comment": "备注",
    "claim": "认领",  # a person of the unit takes the case on (派单到人)
    "hand_over": "转交",  # to a colleague of the same unit
    "reassign": "改派经办人",  # the unit's head names another person
    "urge": "催办",  # the supervising level's formal reminder
    "supervise": "督办",  # a missed deadline put the rung above on the case as supervisor
    "supervise_order": "督办单",  # a yellow or red supervision order to the lead
    "reply_order": "督办回复",  # the lead's reply to a supervision order
    "order_unanswered": "督办单逾期未回复",  # its reply-by passed: a red order or a take-over follows
    "request_extension": "申请延期",  # the lead asks for a later resolve-by (shared/domain/case/clock_commands.py)
    "decide_extension": "延期审批",  # the supervising level approves or refuses it
    "request_suspension": "申请挂起",  # the lead asks to stop the clock
    "decide_suspension": "挂起审批",
    "resume": "恢复计时",  # the remaining allowance runs again
    "report_up": "上报",  # the lead reported the matter beyond its unit (shared/domain/case/report_up_commands.py)
    "decide_report_up": "上报决定",  # the rung took it, assigned a department or sent it back
    "report_up_climbed": "上报逾期未决, 已报上一级",
    "report_up_realert": "上报逾期未决, 再次提醒",
}
# what a CaseAssigned says by the role it names (shared/domain/case/supervision_commands.py adds the supervision ones)
ROLE_TAGS: dict[str, str] = {
    "lead": "新派单",
    "assisting": "协办派单",
    "summoned": "协办派单",
    "urged": "催办",
    "supervisor": "督办",
    "supervision_order_yellow": "黄牌督办",
    "supervision_order_red": "红牌督办",
    "order_replied": "督办回复",
    "extension_requested": "延期申请",
    "extension_approved": "延期已批准",
    "extension_refused": "延期未批准",
    "suspension_requested": "挂起申请",
    "suspension_approved": "挂起已批准",
    "suspension_refused": "挂起未批准",
    "resumed": "恢复计时",
    "report_up": "上报待决",
    "report_up_sent_back": "上报退回",
    "report_up_climbed": "上报已报上一级",
}
SUPERVISION_ROLES: dict[str, str] = {
    "urged": "上级催办，请尽快办理",
    "supervisor": "本案超时，已列入你单位督办",
    "supervision_order_yellow": "收到黄牌督办单，请按期回复办理情况",
    "supervision_order_red": "收到红牌督办单，请立即办理并回复",
    "order_replied": "督办单已回复，请查看",
    "extension_requested": "承办单位申请延期，请审批",
    "extension_approved": "延期申请已批准，请按新的办结时限办理",
    "extension_refused": "延期申请未批准，请按原时限办理",
    "suspension_requested": "承办单位申请挂起，请审批",
    "suspension_approved": "挂起申请已批准，计时暂停",
    "suspension_refused": "挂起申请未批准，计时继续",
    "resumed": "已恢复计时，请在剩余时限内办结",
    "report_up": "下级上报，请按期决定：自办、指派部门或退回",
    "report_up_sent_back": "上报已退回，请按指示办理",
    "report_up_climbed": "上报逾期未决，已报上一级",
}
DEADLINE_NAMES: dict[str, str] = {
    DueKind.ACCEPT: "签收",
    DueKind.RESOLVE: "办结",
    DueKind.REPORT_IN: "报到",
    DueKind.VERIFY: "核查",
    DueKind.FOLLOW_UP: "回访",
    DueKind.ORDER_REPLY: "督办回复",
    DueKind.RESUME: "挂起到期恢复",
    DueKind.REPORT_UP_DECISION: "上报决定",
}

# Numbers a resident may type into a title or an address: mobile, landline, ID card (18 characters).
_PERSONAL_NUMBER = re.compile(r"(?<![0-9])(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{17}[0-9Xx])(?![0-9])")


# ---------------------------------------------------------------- shared pieces


def zone(tz: Zone) -> tzinfo:
    """A time zone from its IANA name (the district's setting) or as given."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local_time(when: datetime, tz: Zone, reference: datetime | None = None) -> str:
    """3月5日 14:30 in the district's zone; the year is named only when it differs from the reference's."""
    at = when.astimezone(zone(tz))
    year = "" if reference is None or reference.astimezone(zone(tz)).year == at.year else f"{at.year}年"
    return f"{year}{at.month}月{at.day}日 {at:%H:%M}"


def duration(span: timedelta) -> str:
    """2天3小时, 5小时20分, 45分钟: how long, to the minute."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分" if minutes else f"{hours}小时"
    return f"{minutes}分钟"


def scrub(text: str, case: CaseFacts | None = None) -> str:
    """Mask the reporter's name and phone, and any phone or ID-card number, wherever they occur in text."""
    if case and case.reporter_phone:
        text = text.replace(case.reporter_phone, mask_phone(case.reporter_phone) or "")
    if case and case.reporter_name and len(case.reporter_name) >= 2:  # a one-character "name" masks to itself
        text = text.replace(case.reporter_name, mask_name(case.reporter_name) or "")
    return _PERSONAL_NUMBER.sub(lambda m: mask_phone(m.group(0)) or "", text)


def _title(title: str | None, case: CaseFacts | None) -> str:
    """The title, masked and cut to fit an SMS."""
    text = scrub((title or "").strip(), case)
    return text if len(text) <= TITLE_MAX_CHARS else text[: TITLE_MAX_CHARS - 1] + "…"


def _number(case_id: str, case: CaseFacts | None, number: str | None = None) -> str:
    """The case number people know; the start of the case id when the caller had none."""
    return number or (case.case_number if case and case.case_number else None) or f"案件{case_id[:8]}"


def _reporter_line(case: CaseFacts | None) -> str | None:
    """反映人：张* 138****5678, masked; None when nothing is known of the reporter."""
    if case is None or not (case.reporter_name or case.reporter_phone):
        return None
    who = [mask_name(case.reporter_name), mask_phone(case.reporter_phone)]
    return "反映人：" + " ".join(w for w in who if w)


def _message(tag: str, number: str, core: str, ask: str, extra: Sequence[str | None] = ()) -> Rendered:
    """【tag】core，ask。 plus extra lines; the digest line is the first sentence without brackets."""
    head = f"{core}，{ask}" if ask else core
    lines = [f"【{tag}】{head}。", *(e for e in extra if e)]
    return Rendered(subject=f"{tag} {number}", text="\n".join(lines), line=f"{tag} {head}")


# ---------------------------------------------------------------- staff


def case_assigned(
    event: CloudEvent[CaseAssigned], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """新派单 (lead) or 协办派单 (assisting): the case, its accept-by and resolve-by, where, and who reported."""
    data = event.data
    number = _number(data.case_id, case, data.case_number)
    tag = ROLE_TAGS.get(data.role, "协办派单")
    if data.role in SUPERVISION_ROLES:  # supervision tells of the case, not of a new assignment
        core = f"{number} {_title(data.title, case)}"
        return _message(tag, number, core, SUPERVISION_ROLES[data.role], [])
    due = [
        f"请于{local_time(data.accept_by, tz, event.time)}前签收" if data.accept_by else "请尽快签收",
        f"{local_time(data.resolve_by, tz, event.time)}前办结" if data.resolve_by else "",
    ]
    address = f"地址：{scrub(case.address, case)}" if case and case.address else None
    core = f"{number} {_title(data.title, case)}"
    return _message(tag, number, core, "，".join(d for d in due if d), [address, _reporter_line(case)])


def deadline_fired(
    event: CloudEvent[DeadlineFired], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """预警 before a deadline, 超时 at it, 升级 when escalated, 再次提醒 while a top-rung case stays overdue."""
    data = event.data
    number = _number(data.case_id, case)
    core = f"{number} {_title(case.title if case else None, case)}".rstrip()
    kind = DEADLINE_NAMES.get(data.kind, data.kind)
    due = local_time(data.due_at, tz, event.time)
    if data.tier is Tier.WARNING:
        return _message("预警", number, core, f"{kind}时限{due}将到，请抓紧办理")
    if data.tier is Tier.OVERDUE:
        return _message("超时", number, core, f"已超过{kind}时限（{due}），请立即办理")
    if data.tier is Tier.ESCALATE:
        return _message("升级", number, core, f"超过{kind}时限（{due}）未办，已上报上一级督办")
    late = duration(event.time - data.due_at)
    return _message("再次提醒", number, core, f"超过{kind}时限已{late}，仍未办理，请督办")


def case_changed(
    event: CloudEvent[CaseChanged], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """A transition as staff see it: 升级督办 for an escalation, 再次提醒 for a top-rung re-alert, otherwise the
    action and the new state."""
    data = event.data
    number = _number(data.case_id, case)
    core = f"{number} {_title(case.title if case else None, case)}".rstrip()
    if data.action == "escalate":
        return _message("升级督办", number, core, "已逐级上报，请督办")
    if data.action == "realert":  # the top rung: nobody above to take it, so the district is told again
        kind = DEADLINE_NAMES.get(str(data.detail.get("kind", "")), "")
        return _message("再次提醒", number, core, f"超过{kind}时限仍未办理，已无上一级可上报，请立即办理")
    action = ACTION_NAMES.get(data.action, data.action)
    state = STATE_NAMES.get(data.to_state, data.to_state)
    return _message(f"案件{action}", number, core, f"当前状态：{state}")


def action_rejected(
    event: CloudEvent[ActionRejected], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """The actor learns that the action was not applied, with the case's state and the rule's code."""
    data = event.data
    number = _number(data.case_id, case)
    action = ACTION_NAMES.get(data.action, data.action)
    state = "案件不存在" if data.state is None else f"案件当前状态：{STATE_NAMES.get(data.state, data.state)}"
    return _message("操作未执行", number, f"{number} {action}未执行", f"{state}（{data.code}）")


# ---------------------------------------------------------------- the reporter


def _to_reporter(tag: str, event: CloudEvent[CaseChanged], case: CaseFacts | None, news: str) -> Rendered:
    """您反映的问题 <number> <news>, greeting the reporter by masked name when known."""
    number = _number(event.data.case_id, case)
    name = mask_name(case.reporter_name) if case and case.reporter_name else None
    greeting = f"{name}您好，" if name else ""
    title = _title(case.title if case else None, case)
    about = f"（{title}）" if title else " "
    sentence = f"{greeting}您反映的问题 {number}{about}{news}"
    return Rendered(subject=f"{tag} {number}", text=f"【{tag}】{sentence}", line=f"{number} {news}")


def case_accepted(
    event: CloudEvent[CaseChanged], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """您反映的问题 … 已受理."""
    return _to_reporter("已受理", event, case, "已受理，正在办理。")


def case_resolved(
    event: CloudEvent[CaseChanged], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """您反映的问题 … 已办结."""
    return _to_reporter("已办结", event, case, f"已于{local_time(event.time, tz)}办结。")


def rating_requested(
    event: CloudEvent[CaseChanged], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE
) -> Rendered:
    """请对办理结果进行评价, once the result is verified, with the signed rating link when there is one."""
    link = case.rating_link if case else None
    if link:
        return _to_reporter("请您评价", event, case, f"已办结并经核查，请点击链接评价（满意/基本满意/不满意）：{link}")
    return _to_reporter("请您评价", event, case, "已办结并经核查，请对办理结果进行评价（满意/基本满意/不满意）。")


def case_merged(event: CloudEvent[CaseChanged], case: CaseFacts | None = None, tz: Zone = DEFAULT_TIMEZONE) -> Rendered:
    """A duplicate report: it is handled together with the open case it was merged into."""
    into = event.data.detail.get("into_case_number")
    news = f"与{into}为同一问题，已合并办理。" if isinstance(into, str) and into else "已与同一问题合并办理。"
    return _to_reporter("已合并", event, case, news)


_FOR_REPORTER: dict[str, Callable[[CloudEvent[CaseChanged], CaseFacts | None, Zone], Rendered]] = {
    State.ACCEPTED: case_accepted,
    State.RESOLVED: case_resolved,
    State.VERIFIED: rating_requested,
    State.MERGED: case_merged,
}


# ---------------------------------------------------------------- choosing and grouping


def render(
    event: CloudEvent[Any],
    case: CaseFacts | None = None,
    *,
    audience: Audience = Audience.STAFF,
    tz: Zone = DEFAULT_TIMEZONE,
) -> Rendered | None:
    """The message for one event and audience; None when that audience gets no text for it."""
    if audience is Audience.REPORTER:
        if event.type is EventType.CASE_CHANGED and event.data.to_state in _FOR_REPORTER:
            return _FOR_REPORTER[event.data.to_state](event, case, tz)
        return None
    if event.type is EventType.CASE_ASSIGNED:
        return case_assigned(event, case, tz)
    if event.type is EventType.DEADLINE_FIRED:
        return deadline_fired(event, case, tz)
    if event.type is EventType.CASE_CHANGED:
        return case_changed(event, case, tz)
    if event.type is EventType.ACTION_REJECTED:
        return action_rejected(event, case, tz)
    return None


def digest(
    events: Sequence[CloudEvent[Any]],
    cases: Mapping[str, CaseFacts] | None = None,
    *,
    audience: Audience = Audience.STAFF,
    tz: Zone = DEFAULT_TIMEZONE,
    max_lines: int = DIGEST_MAX_LINES,
) -> Rendered | None:
    """您有 N 条新消息: one numbered, timed line per event, oldest first; None when none has a text."""
    cases = cases or {}
    ordered = sorted(events, key=lambda e: e.time)
    rendered = [(e, render(e, cases.get(e.subject), audience=audience, tz=tz)) for e in ordered]
    lines = [f"{local_time(e.time, tz)[-5:]} {r.line}" for e, r in rendered if r is not None]
    if not lines:
        return None
    head = f"您有 {len(lines)} 条新消息"
    shown = [f"{i}. {line}" for i, line in enumerate(lines[:max_lines], start=1)]
    more = [f"…另有 {len(lines) - max_lines} 条，请登录系统查看。"] if len(lines) > max_lines else []
    return Rendered(subject=head, text="\n".join([f"{head}：", *shown, *more]), line=head)
