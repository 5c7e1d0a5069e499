"""The Open311 face's pure mapping: states to open/closed and notes, names, titles, date windows, XML."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.open311_format import (
    case_title,
    date_window,
    full_name,
    is_closed,
    status_notes,
    wanted_states,
)
from services.intake.open311_http import to_xml
from services.intake.open311_schemas import ReadContext
from shared.domain.lifecycle import State
from shared.errors import InvalidInput

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _row(state: str, **more: Any) -> dict[str, Any]:
    return {"case_id": uuid.uuid4(), "state": state, "merged_into": None, "overdue": False, **more}


@pytest.mark.parametrize("state", list(State))
def test_every_state_is_open_or_closed_and_says_itself_first(state: State) -> None:
    assert is_closed(state) == (state in (State.CLOSED, State.CANCELLED, State.MERGED))
    notes = status_notes(_row(state.value), ReadContext())
    assert notes == state.value or notes.startswith(f"{state.value}: ")
    assert f"{state.value}: {state.value}" not in notes  # the phrase does not repeat the state


def test_notes_carry_the_merge_target_the_reason_and_overdue() -> None:
    target, merged, cancelled = uuid.uuid4(), _row("merged"), _row("cancelled")
    merged["merged_into"] = target
    ctx = ReadContext(
        merged_into={target: "GD-261122-000001"}, reasons={merged["case_id"]: "同一井盖", cancelled["case_id"]: "撤回"}
    )
    assert status_notes(merged, ctx) == "merged: a duplicate of case GD-261122-000001, which carries on; 同一井盖"
    assert status_notes(cancelled, ctx) == "cancelled: 撤回"
    assert status_notes(_row("closed"), ctx) == "closed"
    assert status_notes(_row("in_progress", overdue=True), ctx) == "in_progress: being handled (overdue)"
    assert status_notes(_row("some_future_state"), ctx) == "some_future_state"


def test_names_are_written_as_their_language_writes_them() -> None:
    assert full_name("先生", "王") == "王先生"
    assert full_name("Wei", "Wang") == "Wei Wang"
    assert full_name(None, "王") == "王" and full_name("Ann", None) == "Ann" and full_name(None, None) is None


def test_titles_are_the_service_and_the_first_line_of_the_description() -> None:
    assert case_title("环境卫生", None) == "环境卫生" and case_title("环境卫生", "  \n ") == "环境卫生"
    assert case_title("环境卫生", "垃圾没人清运\n第二行") == "环境卫生：垃圾没人清运"
    long = case_title("环境卫生", "垃" * 40)
    assert long == "环境卫生：" + "垃" * 30 + "…"


def test_the_date_window_is_the_last_90_days_unless_asked_and_never_longer() -> None:
    since, until = date_window(None, None, NOW)
    assert until - since == timedelta(days=90, microseconds=1) and until > NOW
    since, until = date_window("2026-11-01T00:00:00+08:00", None, NOW)
    assert since == datetime(2026, 10, 31, 16, tzinfo=UTC) and until - since > timedelta(days=90)
    for start, end, field in [
        ("2026-11-01T00:00:00", None, "start_date"),
        ("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", "end_date"),
        ("2026-06-01T00:00:00Z", "2026-05-01T00:00:00Z", "end_date"),
        (None, "soon", "end_date"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            date_window(start, end, NOW)
        assert caught.value.detail["field"] == field


def test_status_filters() -> None:
    open_states, pending = wanted_states("open")
    assert pending and set(open_states) == {s.value for s in State} - {"closed", "cancelled", "merged"}
    closed_states, pending = wanted_states("closed")
    assert not pending and set(closed_states) == {"closed", "cancelled", "merged"}
    assert wanted_states("open,closed") == ((), True) and wanted_states(None) == ((), True)
    with pytest.raises(InvalidInput):
        wanted_states("pending")


def test_xml_lists_take_singular_tags_and_drop_what_xml_cannot_carry() -> None:
    document = to_xml("service_requests", [{"status": "open", "lat": None, "note": "a\x01b", "flag": True}])
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(document)
    assert [r.tag for r in root] == ["request"]
    assert root.findtext("request/note") == "ab" and root.findtext("request/lat") == ""
    assert root.findtext("request/flag") == "true"
