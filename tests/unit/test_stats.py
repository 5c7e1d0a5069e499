"""Statistics arithmetic and the monthly CSV: pure, no database."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

from services.intake.stats import CaseFacts, ratio, tally
from services.intake.stats_csv import HEADERS, attachment, monthly_csv, percent

BUCKETS = [("c1", "文景社区"), ("c2", "远东社区"), ("c3", "劳动社区")]


def test_each_case_counts_once_in_its_row_and_in_the_totals() -> None:
    facts = [
        CaseFacts("c1", accepted_in_time=True, resolved_in_time=True, rated=1, satisfied=1),
        CaseFacts("c1", overdue=True, escalated=True, returned=True, rated=2, satisfied=1),
        CaseFacts("c2", overdue=True),
        CaseFacts("elsewhere", accepted_in_time=True),  # not a row asked for: counted nowhere
    ]
    stats = tally(BUCKETS, facts)
    rows = {r.unit: r.as_dict() for r in stats.rows}
    assert list(rows) == ["c1", "c2", "c3"]
    assert rows["c1"]["received"] == 2 and rows["c1"]["rated"] == 3 and rows["c1"]["satisfaction_rate"] == 0.6667
    assert rows["c1"]["accepted_in_time_rate"] == 0.5 and rows["c2"]["overdue"] == 1
    assert rows["c3"]["received"] == 0 and rows["c3"]["satisfaction_rate"] is None
    totals = stats.totals.as_dict()
    assert (totals["received"], totals["accepted_in_time"], totals["overdue"], totals["satisfied"]) == (3, 1, 2, 2)


def test_rates_without_a_denominator_are_unknown_not_zero() -> None:
    assert ratio(0, 0) is None and ratio(1, 3) == 0.3333
    assert percent(None) == "" and percent(0.6667) == "66.7%" and percent(1.0) == "100.0%"


def test_monthly_csv_has_a_bom_chinese_headers_a_line_per_unit_and_a_total() -> None:
    text = monthly_csv(tally(BUCKETS, [CaseFacts("c2", rated=1, satisfied=1)]))
    assert text.startswith("\ufeff") and "\r\n" in text
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert tuple(lines[0]) == HEADERS
    assert [line[:3] for line in lines[1:]] == [
        ["c1", "文景社区", "0"],
        ["c2", "远东社区", "1"],
        ["c3", "劳动社区", "0"],
        ["", "合计", "1"],
    ]
    assert lines[2][-1] == "100.0%" and lines[1][-1] == ""


def test_the_attachment_is_named_in_ascii_and_in_chinese() -> None:
    header = attachment("2024-02", "610199002", "北关街道")
    assert header.startswith('attachment; filename="griddispatch-monthly-610199002-2024-02.csv"')
    assert unquote(header.split("filename*=UTF-8''")[1]) == "北关街道-2024-02-月度统计报表.csv"


def test_basically_satisfied_counts_as_satisfied_and_is_shown_apart() -> None:
    facts = [
        CaseFacts("c1", rated=1, satisfied=1, basically_satisfied=1),  # 基本满意
        CaseFacts("c1", rated=1, satisfied=1),  # 满意
        CaseFacts("c1", rated=1),  # 不满意
    ]
    row = tally(BUCKETS, facts).rows[0].as_dict()
    assert (row["rated"], row["satisfied"], row["basically_satisfied"]) == (3, 2, 1)
    assert row["satisfaction_rate"] == 0.6667  # 满意率 = (满意 + 基本满意) / rated
