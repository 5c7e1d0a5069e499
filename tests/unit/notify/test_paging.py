"""The escalation policy inside a unit (services/notify/paging.py): who each step pages, pure."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.audience import CaseView
from services.notify.paging import Paged, Step, contacts, deliverable, named_person, page, party_of, reach
from shared.events import new_event
from shared.events.types import CaseAssigned, DeadlineFired
from shared.people.duty import PeopleSnapshot, Roster, Shift, build_snapshot

AT = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Wednesday
GRID, COMMUNITY = "unit:g1", "unit:c1"
DAY = Shift(time(8), time(20), ("duty",))
COMMUNITY_DAY = Shift(time(8), time(20), ("c-duty",))


def _snapshot(
    *,
    grid_shifts: tuple[Shift, ...] = (DAY,),
    community_shifts: tuple[Shift, ...] = (COMMUNITY_DAY,),
    heads: tuple[str, ...] = ("head",),
    inactive: frozenset[str] = frozenset(),
) -> PeopleSnapshot:
    roles = [("duty", "grid_worker", GRID), ("other", "grid_worker", GRID), ("c-duty", "duty_officer", COMMUNITY)]
    roles += [(h, "grid_head", GRID) for h in heads]
    persons = {p for p, _, _ in roles} - inactive
    rosters = [Roster(GRID, grid_shifts), Roster(COMMUNITY, community_shifts)]
    return build_snapshot(persons, roles, rosters)


def _page(step: Step, named: str | None, snapshot: PeopleSnapshot | None = None) -> Paged:
    return page(
        step, GRID, named, AT, snapshot or _snapshot(), level="grid", next_rung=COMMUNITY, next_level="community"
    )


def _fired(kind: str, tier: str, assignee: str = GRID) -> object:
    data = DeadlineFired(case_id="c1", deadline_id="d", kind=kind, tier=tier, due_at=AT, assignee=assignee)
    return new_event(data, source="/t", subject="c1")


def _assigned(person: str | None) -> object:
    data = CaseAssigned(
        case_id="c1", case_number="GD-1", assignee=GRID, role="lead", matter_code=None, level="grid", title="t",
        person=person,
    )  # fmt: skip
    return new_event(data, source="/t", subject="c1")


@pytest.mark.parametrize(
    ("kind", "tier", "step"),
    [
        ("accept", "warning", Step.HEAD),  # not accepted within a step: the head too
        ("resolve", "warning", Step.RESPONSIBLE),
        ("report_in", "warning", Step.RESPONSIBLE),
        ("verify", "warning", Step.RESPONSIBLE),
        ("accept", "overdue", Step.NEXT_RUNG),
        ("resolve", "overdue", Step.NEXT_RUNG),
        ("accept", "realert", Step.NEXT_RUNG),
        ("accept", "escalate", Step.NONE),  # fired with overdue, which pages; dispatch's move sends case.assigned
        ("follow_up", "warning", Step.NONE),
        ("follow_up", "overdue", Step.NONE),
    ],
)
def test_how_far_each_tier_goes(kind: str, tier: str, step: Step) -> None:
    assert reach(_fired(kind, tier)) is step  # type: ignore[arg-type]


def test_a_new_assignment_is_step_one_of_its_assignee() -> None:
    event = _assigned("duty")
    assert reach(event) is Step.RESPONSIBLE  # type: ignore[arg-type]
    assert party_of(event) == GRID  # type: ignore[arg-type]
    assert named_person(event, None) == "duty"  # type: ignore[arg-type]


def test_step_one_pages_only_the_responsible_person() -> None:
    paged = _page(Step.RESPONSIBLE, "duty")
    assert paged.persons == (("duty", "responsible"),) and not paged.unstaffed


def test_step_two_adds_the_heads_and_step_three_the_next_rungs_person_on_duty() -> None:
    assert _page(Step.HEAD, "duty").persons == (("duty", "responsible"), ("head", "head"))
    assert _page(Step.NEXT_RUNG, "duty").persons == (
        ("duty", "responsible"),
        ("head", "head"),
        ("c-duty", "next_rung"),
    )


def test_the_next_rung_with_nobody_on_duty_is_its_head() -> None:
    snapshot = build_snapshot(
        {"duty", "mg-head", "g-head"},
        [("duty", "micro_grid_head", "unit:m1"), ("g-head", "grid_head", GRID)],
        [Roster("unit:m1", (DAY,))],
    )
    paged = page(Step.NEXT_RUNG, "unit:m1", "duty", AT, snapshot, level="micro_grid", next_rung=GRID)
    # the micro-grid's head is the responsible person already; the grid has no roster: its head
    assert paged.persons == (("duty", "responsible"), ("g-head", "next_rung"))


def test_nobody_named_pages_the_heads_and_is_flagged() -> None:
    snapshot = _snapshot(grid_shifts=())  # nobody on duty
    paged = _page(Step.RESPONSIBLE, None, snapshot)
    assert paged.unstaffed and paged.step is Step.HEAD
    assert paged.ids == ("head",)  # responsible_for falls to the head; the heads level adds nobody new


def test_heads_only_all_of_them() -> None:
    snapshot = _snapshot(grid_shifts=(), heads=("head-a", "head-b"))
    assert _page(Step.RESPONSIBLE, None, snapshot).ids == ("head-a", "head-b")


def test_nobody_on_duty_and_no_head_goes_on_up_to_the_next_rung() -> None:
    snapshot = _snapshot(grid_shifts=(), heads=())
    paged = _page(Step.RESPONSIBLE, None, snapshot)
    assert paged.unstaffed and paged.persons == (("c-duty", "next_rung"),)


def test_nobody_anywhere_pages_nobody_but_is_flagged() -> None:
    snapshot = _snapshot(grid_shifts=(), community_shifts=(), heads=())
    paged = _page(Step.NEXT_RUNG, None, snapshot)
    assert paged.unstaffed and paged.persons == ()


def test_a_disabled_responsible_person_gives_way_to_whoever_is_on_duty() -> None:
    snapshot = _snapshot(grid_shifts=(Shift(time(8), time(20), ("other",)),), inactive=frozenset({"duty"}))
    paged = _page(Step.RESPONSIBLE, "duty", snapshot)
    assert paged.ids == ("other",) and not paged.unstaffed  # dispatch named someone: not unstaffed


def test_a_rostered_responsible_person_off_shift_still_answers_for_their_case() -> None:
    at_night = AT + timedelta(hours=12)  # 22:00: the day shift is over
    paged = page(Step.RESPONSIBLE, GRID, "duty", at_night, _snapshot(), level="grid")
    assert paged.ids == ("duty",)  # the case is in their queue; an accept warning adds the head


def test_a_deadline_pages_the_parts_person_of_the_party_it_concerns() -> None:
    case = CaseView(
        case_id="c1", lead=GRID, assisting=("department:d",), scope_keys=frozenset(), matter_code=None, level=None,
        urgency="normal", lead_person="duty", part_persons={"department:d": "handler"},
    )  # fmt: skip
    assert named_person(_fired("accept", "warning"), case) == "duty"  # type: ignore[arg-type]
    assert named_person(_fired("report_in", "warning", "department:d"), case) == "handler"  # type: ignore[arg-type]
    assert named_person(_fired("accept", "warning", "unit:elsewhere"), case) is None  # type: ignore[arg-type]
    assert named_person(_fired("accept", "warning"), None) is None  # type: ignore[arg-type]


def test_nothing_is_paged_at_step_none() -> None:
    assert _page(Step.NONE, None).persons == () and not _page(Step.NONE, None).unstaffed


@pytest.mark.parametrize(
    ("phone", "ok"),
    [("13812345678", True), ("+86 138-1234-5678", True), ("138****5210", False), ("", False), (None, False)],
)
def test_masked_and_missing_phones_are_not_deliverable(phone: str | None, ok: bool) -> None:
    assert deliverable(phone) is ok


def test_a_masked_phone_is_skipped_and_reported() -> None:
    paged = _page(Step.HEAD, "duty")
    people, unreachable = contacts(paged, {"duty": "13812345678", "head": "138****5210"})
    assert [(p.id, p.phone) for p in people] == [("duty", "13812345678")]
    assert unreachable == ("head",)
    assert contacts(paged, {})[1] == ("duty", "head")  # no phone at all


_PEOPLE = st.sampled_from(["a", "b", "c", "d"])


@given(
    on_grid=st.lists(_PEOPLE, max_size=3),
    on_community=st.lists(_PEOPLE, max_size=2),
    heads=st.lists(_PEOPLE, max_size=2, unique=True),
    named=st.none() | _PEOPLE,
    inactive=st.frozensets(_PEOPLE, max_size=2),
)
def test_each_step_pages_everyone_a_lower_one_does_and_only_active_persons_once(
    on_grid: list[str], on_community: list[str], heads: list[str], named: str | None, inactive: frozenset[str]
) -> None:
    roles = [(p, "grid_worker", GRID) for p in on_grid] + [(p, "grid_head", GRID) for p in heads]
    roles += [(p, "duty_officer", COMMUNITY) for p in on_community]
    rosters = [Roster(GRID, (Shift(time(8), time(20), tuple(on_grid)),))] if on_grid else []
    if on_community:
        rosters.append(Roster(COMMUNITY, (Shift(time(8), time(20), tuple(on_community)),)))
    snapshot = build_snapshot({"a", "b", "c", "d"} - inactive, roles, rosters)
    paged = [_page(step, named, snapshot) for step in (Step.RESPONSIBLE, Step.HEAD, Step.NEXT_RUNG)]
    for lower, higher in itertools.pairwise(paged):
        assert set(lower.ids) <= set(higher.ids)
    for p in paged:
        assert len(set(p.ids)) == len(p.ids) and not set(p.ids) & inactive
        assert p.unstaffed is (named is None)
