"""Assessment arithmetic: periods, the score from weights, the ranking with ties, the report's CSV and page."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.assessment_report import COLUMNS, report_csv, report_html
from shared.domain.assessment import (
    BadPeriod,
    BadWeights,
    Figures,
    Subject,
    Weights,
    parse_period,
    rank,
    score,
)

TZ = ZoneInfo("Asia/Shanghai")


def test_months_and_quarters_on_the_district_clock() -> None:
    november = parse_period("2026-11", TZ)
    assert (november.start, november.end) == (datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ))
    assert november.months == ("2026-11",) and not november.is_quarter
    q4 = parse_period("2026-q4", TZ)
    assert q4.text == "2026-Q4" and q4.months == ("2026-10", "2026-11", "2026-12")
    assert (q4.start, q4.end) == (datetime(2026, 10, 1, tzinfo=TZ), datetime(2027, 1, 1, tzinfo=TZ))
    assert parse_period("2024-Q1", TZ).end == datetime(2024, 4, 1, tzinfo=TZ)
    assert parse_period("2024-02", TZ).start.utcoffset() is not None


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q0", "2026-Q5", "26-11", "2026/11", "", "1899-12",
                                  "2200-01", "2026-11-01", "2026-Q4x", "x" * 40])  # fmt: skip
def test_anything_else_is_a_bad_period(text: str) -> None:
    with pytest.raises(BadPeriod) as caught:
        parse_period(text, TZ)
    assert caught.value.code == "bad_period" and caught.value.detail["field"] == "period"


def test_the_score_of_the_documented_formula() -> None:
    f = Figures(received=4, accepted_on_time=4, resolved_on_time=2, rated=2, satisfied=1, overdue=1)
    # good = (0.3·1 + 0.4·0.5 + 0.3·0.5) / 1.0 = 0.65; bad = 0.2 · 0.25 = 0.05
    assert score(f, Weights()) == 60.0
    # nothing rated: satisfaction and its weight are left out: (0.3·1 + 0.4·0.5) / 0.7 − 0.05
    assert score(replace(f, rated=0, satisfied=0), Weights()) == round(100 * (0.5 / 0.7 - 0.05), 2)
    assert score(Figures(), Weights()) is None  # nothing received: no score
    assert score(Figures(received=1, overdue=1, escalated=1), Weights()) == 0.0  # never below 0


def test_weights_from_a_change_keep_the_rest_and_refuse_nonsense() -> None:
    base = Weights(urged=1.0)
    changed = Weights.of({"overdue": 2}, base=base)
    assert (changed.overdue, changed.urged, changed.resolved_on_time) == (2.0, 1.0, 0.4)
    for bad in ({"speed": 1}, {"overdue": -0.1}, {"overdue": 10.5}, {"overdue": True}, {"overdue": "1"},
                {"accepted_on_time": 0, "resolved_on_time": 0, "satisfaction": 0}):  # fmt: skip
        with pytest.raises(BadWeights):
            Weights.of(bad)


def test_ranks_share_places_on_ties_and_skip_after_them() -> None:
    subjects = [
        Subject("b", "乙", Figures(received=2, accepted_on_time=2, resolved_on_time=2)),
        Subject("a", "甲", Figures(received=1, accepted_on_time=1, resolved_on_time=1)),
        Subject("c", "丙", Figures(received=2, accepted_on_time=1)),
        Subject("z", "无", Figures()),
        Subject("d", "丁", Figures(received=2)),
    ]
    ranked = rank(subjects, Weights())
    assert [(r.subject.code, r.rank) for r in ranked] == [("a", 1), ("b", 1), ("c", 3), ("d", 4), ("z", None)]


counts = st.integers(min_value=0, max_value=50)
weights = st.builds(
    Weights,
    **{name: st.floats(min_value=0, max_value=10, allow_nan=False) for name in Weights.names()},
).filter(lambda w: w.accepted_on_time + w.resolved_on_time + w.satisfaction > 0)


@st.composite
def figures(draw: st.DrawFn) -> Figures:
    received = draw(st.integers(min_value=1, max_value=50))
    rated = draw(counts)
    return Figures(
        received=received,
        accepted_on_time=draw(st.integers(0, received)),
        resolved_on_time=draw(st.integers(0, received)),
        overdue=draw(st.integers(0, received)),
        escalated=draw(st.integers(0, received)),
        wrongly_returned=draw(st.integers(0, received)),
        urged=draw(counts),
        rated=rated,
        satisfied=draw(st.integers(0, rated)),
    )


@given(figures(), weights, st.sampled_from(["accepted_on_time", "resolved_on_time", "satisfied"]))
def test_more_of_a_good_figure_never_lowers_the_score(f: Figures, w: Weights, name: str) -> None:
    limit = f.rated if name == "satisfied" else f.received
    if getattr(f, name) < limit:
        better = replace(f, **{name: getattr(f, name) + 1})
        assert (score(better, w) or 0) >= (score(f, w) or 0)


@given(figures(), weights, st.sampled_from(["overdue", "escalated", "wrongly_returned", "urged"]))
def test_more_of_a_bad_figure_never_raises_the_score(f: Figures, w: Weights, name: str) -> None:
    worse = replace(f, **{name: getattr(f, name) + 1})
    assert (score(worse, w) or 0) <= (score(f, w) or 0)


@given(st.lists(figures(), min_size=1, max_size=12), weights)
def test_equal_scores_rank_equally_and_better_ranks_higher(many: list[Figures], w: Weights) -> None:
    subjects = [Subject(f"u{i:02d}", f"单位{i}", f) for i, f in enumerate(many)]
    subjects += [replace(subjects[0], code="twin")]  # the same figures: the same score, the same rank
    ranked = rank(subjects, w)
    by_code = {r.subject.code: r for r in ranked}
    assert by_code["twin"].rank == by_code["u00"].rank
    for a in ranked:
        for b in ranked:
            if a.score is not None and b.score is not None:
                assert (a.score == b.score) == (a.rank == b.rank)
                assert (a.score > b.score) == (a.rank is not None and b.rank is not None and a.rank < b.rank)
    assert [r.rank for r in ranked][0] == 1
    assert all(0 <= (r.score or 0) <= 100 for r in ranked)


def test_the_csv_and_the_page_show_the_ranking_with_chinese_headings() -> None:
    ranked = rank(
        [
            Subject("610199002001", "文景社区", Figures(received=2, accepted_on_time=2, rated=1, satisfied=1)),
            Subject("610199002002", "远东社区<script>", Figures()),
        ],
        Weights(),
    )
    text = report_csv(ranked)
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert lines[0] == [h for h, _ in COLUMNS]
    first = dict(zip(lines[0], lines[1], strict=True))
    assert (first["排名"], first["名称"], first["受理量"], first["满意率"]) == ("1", "文景社区", "2", "100.0%")
    assert dict(zip(lines[0], lines[2], strict=True))["得分"] == ""
    period = parse_period("2026-Q4", TZ)
    page = report_html(ranked, period=period, level="community", area="西关街道", weights=Weights(),
                       weights_set="权重为系统默认值。", generated_at=datetime(2027, 1, 2, 9, 0, tzinfo=TZ))  # fmt: skip
    assert "西关街道 2026-Q4 社区考核排名" in page and "<script>" not in page and "远东社区&lt;script&gt;" in page
    assert "按时办结率" in page and "错误退单率（扣分）" in page and "size: A4" in page


async def test_the_endpoints_are_in_intakes_openapi_document() -> None:
    from services.intake.main import create_app
    from tests.unit.test_openapi_documents import fetch_document

    paths = (await fetch_document(create_app()))["paths"]
    for path in ("/v1/assessment", "/v1/assessment.csv", "/v1/assessment/report"):
        operation = paths[path]["get"]
        assert {"period", "level", "unit"} <= {p["name"] for p in operation["parameters"]}, path
        assert "422" in operation["responses"], path
    assert {"get", "put"} <= set(paths["/v1/assessment/weights"])
