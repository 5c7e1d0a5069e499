"""What a resident reads about their case (pure): the phone ending, the steps shown, masked names and numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.act import lifecycle_action, rating_level
from services.intake.resident_rating import rating_action
from services.intake.resident_view import mask_numbers, phone_matches, progress
from services.intake.schemas import ActionIn
from shared.domain.lifecycle import Action

T0 = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
TZ = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("phones", "given", "found"),
    [
        (["13812345678"], "5678", True),
        (["138-1234-5678"], "5678", True),
        (["+86 138 1234 5678"], "5678", True),
        (["13812345678"], "5670", False),
        (["13812345678", "13900001111"], "1111", True),  # the reporter of a report merged into the case
        ([], "5678", False),  # no phone (a camera's report): nobody can look it up
        (["123"], "0123", False),
    ],
)
def test_the_phone_ending(phones: list[str], given: str, found: bool) -> None:
    assert phone_matches(phones, given) is found


def _row(**fields: Any) -> dict[str, Any]:
    base = {
        "case_number": "GD-261202-000001",
        "title": "楼道堆满杂物，联系13812345678",
        "state": "in_progress",
        "lead_name": "西关街道第一网格",
        "person_name": "张三丰",
        "resolve_by": T0 + timedelta(days=2),
        "merged_into": None,
    }
    return {**base, **fields}


def test_the_progress_says_who_by_when_and_what_was_done_and_nothing_internal() -> None:
    entries = [
        ("accept", {}, T0),
        ("comment", {"text": "内部备注：居民脾气不好"}, T0),  # never shown
        ("rejected", {"reason": "x"}, T0),
        ("progress", {"text": "已联系物业 0298-1234567"}, T0 + timedelta(hours=1)),
        ("resolve", {"text": "已清理"}, T0 + timedelta(hours=2)),
        ("verify_passed", {"text": "核查人内部意见"}, T0 + timedelta(hours=3)),
    ]
    view = progress(_row(), entries, [], TZ)
    assert view["handler_unit"] == "西关街道第一网格" and view["handler_person"] == "张**"
    assert view["resolve_by_local"] == "2026-12-04 09:30"  # the district's local time
    assert view["title"] == "楼道堆满杂物，联系*******5678"
    steps = [(s["what"], s["text"]) for s in view["steps"]]
    assert steps == [
        ("承办单位已签收", None),
        ("处置进展", "已联系物业 ********4567"),
        ("已办结", "已清理"),
        ("已核查通过", None),
    ]
    assert view["steps"][0]["at_local"] == "2026-12-02 09:30"


def test_a_closed_case_has_no_deadline_and_its_rating_level_shows() -> None:
    entries = [("rate_satisfied", {"level": "basically_satisfied"}, T0), ("close", {}, T0)]
    view = progress(_row(state="closed"), entries, [], TZ)
    assert view["resolve_by"] is None and view["state_text"] == "已结案"
    assert [s["what"] for s in view["steps"]] == ["您已评价：基本满意", "已结案"]


def test_mask_numbers_leaves_short_numbers() -> None:
    assert mask_numbers("3号楼2单元") == "3号楼2单元"
    assert mask_numbers("身份证610102199001011234") == "身份证**************1234"


@pytest.mark.parametrize(
    ("body", "level", "action"),
    [
        ({"level": "basically_satisfied"}, "basically_satisfied", Action.RATE_SATISFIED),
        ({"level": "unsatisfied"}, "unsatisfied", Action.RATE_UNSATISFIED),
        ({"satisfied": True}, "satisfied", Action.RATE_SATISFIED),
        ({"score": 2}, "unsatisfied", Action.RATE_UNSATISFIED),
        ({"score": 4}, "satisfied", Action.RATE_SATISFIED),
    ],
)
def test_the_three_levels_and_the_old_ways_of_rating(body: dict[str, Any], level: str, action: Action) -> None:
    rate = ActionIn.model_validate({"action": "rate", "actor": {"id": "r"}, **body})
    assert rating_level(rate) == level and lifecycle_action(rate) is action
    assert rating_action(level) is action  # the link's rating means the same


def test_a_level_that_contradicts_satisfied_is_refused() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        ActionIn.model_validate({"action": "rate", "actor": {"id": "r"}, "level": "unsatisfied", "satisfied": True})
