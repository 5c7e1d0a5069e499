"""The assessment report (考核报表): the ranking as CSV (UTF-8 with a BOM, for Excel) and as a printable A4 page.

Pure rendering of what the router computed; the headings are the glossary's Chinese names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from shared.domain.assessment import Period, Ranked, Weights

BOM = "\ufeff"
LEVEL_NAMES = {
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "department": "部门",
    "branch": "部门分支",
    "person": "人员",
    "grid_worker": "网格员",  # level=person&role=grid_worker
}
WEIGHT_NAMES = {
    "accepted_on_time": "按时签收率",
    "resolved_on_time": "按时办结率",
    "satisfaction": "满意率",
    "overdue": "超时率（扣分）",
    "escalated": "上报率（扣分）",
    "wrongly_returned": "错误退单率（扣分）",
    "urged": "催办率（扣分）",
}
# (heading, key of Ranked.as_dict()), in the order of the report
COLUMNS: tuple[tuple[str, str], ...] = (
    ("排名", "rank"),
    ("编码", "code"),
    ("名称", "name"),
    ("得分", "score"),
    ("受理量", "received"),
    ("按时签收", "accepted_on_time"),
    ("按时签收率", "accepted_on_time_rate"),
    ("按时办结", "resolved_on_time"),
    ("按时办结率", "resolved_on_time_rate"),
    ("超时", "overdue"),
    ("上报", "escalated"),
    ("退单", "returned"),
    ("错误退单", "wrongly_returned"),
    ("催办", "urged"),
    ("督办单", "orders_issued"),
    ("督办已回复", "orders_answered"),
    ("督办按时回复", "orders_answered_in_time"),
    ("评价数", "rated"),
    ("满意数", "satisfied"),
    ("满意率", "satisfaction_rate"),
    ("平均签收时长（小时）", "avg_accept_hours"),
    ("平均办结时长（小时）", "avg_resolve_hours"),
    ("申请延期", "extensions_asked"),
    ("批准延期", "extensions_approved"),
    ("挂起", "suspensions"),
    ("挂起时长（小时）", "suspended_hours"),
    ("主动上报", "reported_up"),
)
_RATES = {"accepted_on_time_rate", "resolved_on_time_rate", "satisfaction_rate"}


def cell(key: str, value: object) -> str:
    """A value as the report prints it: rates as percentages, nothing as empty."""
    if value is None:
        return ""
    if key in _RATES and isinstance(value, float | int):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def title(period: Period, level: str, area: str) -> str:
    return f"{area} {period.text} {LEVEL_NAMES.get(level, level)}考核排名"


def report_csv(ranked: Sequence[Ranked]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([heading for heading, _ in COLUMNS])
    for row in ranked:
        values = row.as_dict()
        writer.writerow([cell(key, values.get(key)) for _, key in COLUMNS])
    return BOM + out.getvalue()


def attachment(period: Period, level: str, area_code: str, area_name: str) -> str:
    ascii_name = f"griddispatch-assessment-{area_code}-{level}-{period.text}.csv"
    chinese = f"{area_name}-{period.text}-{LEVEL_NAMES.get(level, level)}考核.csv"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(chinese)}"


_CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; font-size: 10pt;
       color: #000; margin: 0; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 10pt 0 4pt; }
p.meta { margin: 0 0 6pt; color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #555; padding: 2pt 4pt; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead { display: table-header-group; } tr { page-break-inside: avoid; }
table.weights { width: auto; }
@media screen { body { margin: 16px; } .no-print { margin-bottom: 8px; } }
@media print { .no-print { display: none; } }
"""


def report_html(
    ranked: Sequence[Ranked],
    *,
    period: Period,
    level: str,
    area: str,
    weights: Weights,
    weights_set: str,
    generated_at: datetime,
) -> str:
    """A self-contained page (no scripts, no outside files) to print on A4 paper."""
    heading = escape(title(period, level, area))
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h, _ in COLUMNS)
    body = []
    for row in ranked:
        values = row.as_dict()
        tds = []
        for _, key in COLUMNS:
            text = escape(cell(key, values.get(key)))
            tds.append(f"<td>{text}</td>" if key in ("code", "name") else f"<td class='num'>{text}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    if not body:
        body.append(f"<tr><td colspan='{len(COLUMNS)}'>本期无数据。</td></tr>")
    weight_rows = "".join(
        f"<tr><th scope='row'>{escape(WEIGHT_NAMES[name])}</th><td class='num'>{value:g}</td></tr>"
        for name, value in weights.as_dict().items()
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{heading}</title><style>{_CSS}</style></head>
<body>
<p class="no-print">打印：Ctrl+P（A4 横向）</p>
<h1>{heading}</h1>
<p class="meta">考核期间：{escape(period.start.strftime("%Y-%m-%d"))}
至 {escape(period.end.strftime("%Y-%m-%d"))}（不含）
· 生成时间：{escape(generated_at.strftime("%Y-%m-%d %H:%M"))}</p>
<h2>考核排名</h2>
<table class="ranking"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<h2>评分权重</h2>
<p class="meta">得分 = 100 ×（按时签收率、按时办结率、满意率的加权平均 − 超时率、上报率、错误退单率、催办率的加权和），
限于 0 至 100；无评价时满意率及其权重不计；受理量为 0 不评分、不排名；得分相同名次相同。{escape(weights_set)}</p>
<table class="weights"><thead><tr><th scope="col">指标</th><th scope="col">权重</th></tr></thead>
<tbody>{weight_rows}</tbody></table>
</body></html>
"""
