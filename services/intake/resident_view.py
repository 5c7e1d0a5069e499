"""What a resident reads about their case, in plain Chinese: pure functions over the case's row and history.

A resident sees what was done (accepted, progress notes, resolved, verified, rated, reopened, closed), who handles
it (the unit's name, the person's masked name) and by when, in the district's local time; never an internal note,
a comment, a refusal or anyone's phone number.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.lifecycle import State
from shared.privacy import mask_name

LEVEL_WORDS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}

# What each state tells the resident.
STATE_TEXT: dict[str, str] = {
    State.REPORTED: "已受理，正在分派",
    State.ASSIGNED: "已派发至承办单位，等待签收",
    State.ACCEPTED: "承办单位已签收，正在办理",
    State.IN_PROGRESS: "正在处置",
    State.RESOLVED: "已办结，等待核查",
    State.VERIFIED: "已办结并经核查，请您评价",
    State.RATED: "您已评价",
    State.CLOSED: "已结案",
    State.RETURNED: "正在重新分派",
    State.ESCALATED: "已提交上级协调办理",
    State.MERGED: "与同一问题合并办理",
    State.REOPENED: "重新办理中",
    State.CANCELLED: "已撤销",
}

# The history entries a resident reads, and how each is said; the text shown only where the handler wrote it for
# the resident (a progress note, what the resolve did).
_STEP: dict[str, str] = {
    "accept": "承办单位已签收",
    "progress": "处置进展",
    "resolve": "已办结",
    "verify_passed": "已核查通过",
    "verify_failed": "核查未通过，重新办理",
    "rate_satisfied": "您已评价",
    "rate_unsatisfied": "您已评价：不满意，重新办理",
    "reopen": "重新办理",
    "merge": "与同一问题合并办理",
    "close": "已结案",
}
RESIDENT_ACTIONS = frozenset(_STEP)
_WITH_TEXT = frozenset({"progress", "resolve"})

_PERSONAL_NUMBER = re.compile(r"(?<![0-9])(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{17}[0-9Xx])(?![0-9])")


def mask_numbers(text: str) -> str:
    """Any phone or ID-card number a handler typed: all but its last four digits starred."""
    return _PERSONAL_NUMBER.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:], text)


def local(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


def last4(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def phone_matches(phones: Iterable[str], given: str) -> bool:
    """Whether `given` ends any of the phones, compared in constant time (each phone is compared)."""
    found = False
    for phone in phones:
        found |= hmac.compare_digest(last4(phone).encode(), given.encode())
    return found


def step(action: str, detail: dict[str, Any], at: datetime, tz: str) -> dict[str, Any]:
    what = _STEP[action]
    if action == "rate_satisfied":
        what = f"您已评价：{LEVEL_WORDS.get(str(detail.get('level')), '满意')}"
    text = detail.get("text") if action in _WITH_TEXT else None
    return {
        "at": at,
        "at_local": local(at, tz),
        "what": what,
        "text": mask_numbers(str(text)) if text else None,
    }


def progress(
    row: Any, entries: Sequence[tuple[str, dict[str, Any], datetime]], photos: list[dict[str, str]], tz: str
) -> dict[str, Any]:
    """The look-up's answer from the case's row (resident_queries.CASE_BY_NUMBER) and its history."""
    state = str(row["state"])
    handling = state not in (State.CLOSED, State.CANCELLED, State.MERGED, State.RATED)
    resolve_by = row["resolve_by"] if handling else None
    return {
        "case_number": row["case_number"],
        "title": mask_numbers(str(row["title"])),
        "state": state,
        "state_text": STATE_TEXT.get(state, state),
        "handler_unit": row["lead_name"],
        "handler_person": mask_name(row["person_name"]),
        "resolve_by": resolve_by,
        "resolve_by_local": local(resolve_by, tz) if resolve_by else None,
        "steps": [step(a, d, at, tz) for a, d, at in entries if a in _STEP],
        "photos_after": photos,
        "merged_into": row["merged_into"],
    }
