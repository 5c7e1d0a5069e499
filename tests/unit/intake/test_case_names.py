"""Which codes a case's view names (their names are looked up for the page) and the actions its state allows."""

from __future__ import annotations

from services.intake.case_names import allowed_by_role, parties_in


def test_the_codes_a_case_mentions_in_rows_history_and_trace() -> None:
    view = {
        "assignment": {"lead": "branch:gas-610199004", "assisting": ["unit:610199004"], "place": "610199004001001006"},
        "history": [
            {"detail": {"reason": "accept deadline 2026-12-01T19:53:54Z missed by unit:610199004001."}},
            {"detail": {"departments": ["police"], "on_behalf_of": "unit:610199004"}},
        ],
        "routing": {
            "trace": [{"rule": "locate.point_in_polygon", "reason": "…", "detail": {"unit": "610199004001001"}}]
        },
    }
    assert parties_in(view) == {
        "branch:gas-610199004",
        "unit:610199004",
        "unit:610199004001",  # the sentence's full stop is not part of the code
        "unit:610199004001001006",
        "unit:610199004001001",
        "department:police",
    }


def test_the_actions_each_role_may_take_follow_the_lifecycle() -> None:
    assigned = allowed_by_role("assigned")
    assert "accept" in assigned["assignee"] and "summon" not in assigned["supervisor"]
    assert "summon" in allowed_by_role("accepted")["supervisor"]
    assert allowed_by_role("cancelled") == {"assignee": [], "assisting": [], "supervisor": []}
    assert allowed_by_role("received") == {"assignee": [], "assisting": [], "supervisor": []}  # not dispatched yet
