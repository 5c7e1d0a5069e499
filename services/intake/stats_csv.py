"""The monthly report (月度统计报表) as CSV: Chinese column headers, a BOM so Excel reads it as UTF-8."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from services.intake.stats import Stats, StatsRow

BOM = "\ufeff"
HEADERS = (
    "单位编码",
    "单位名称",
    "受理量",
    "按时签收",
    "按时签收率",
    "按时办结",
    "按时办结率",
    "超期",
    "上报/升级",
    "退回",
    "评价数",
    "满意数",
    "满意率",
    "催办",
    "督办单",
    "批准延期",
    "挂起",
    "挂起时长（小时）",
    "主动上报",
)


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _line(row: StatsRow, code: str) -> list[str]:
    t = row.tally
    return [
        code,
        row.name,
        str(t.received),
        str(t.accepted_in_time),
        percent(row.accepted_in_time_rate),
        str(t.resolved_in_time),
        percent(row.resolved_in_time_rate),
        str(t.overdue),
        str(t.escalated),
        str(t.returned),
        str(t.rated),
        str(t.satisfied),
        percent(row.satisfaction_rate),
        str(t.urged),
        str(t.orders_issued),
        str(t.extensions_approved),
        str(t.suspensions),
        f"{t.suspended_seconds / 3600:.2f}",
        str(t.reported_up),
    ]


def monthly_csv(stats: Stats) -> str:
    """One line per unit, then 合计; CRLF line ends as Excel writes them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in stats.rows:
        writer.writerow(_line(row, row.unit))
    writer.writerow(_line(stats.totals, ""))
    return BOM + out.getvalue()


def attachment(month: str, unit: str, unit_name: str) -> str:
    """Content-Disposition: an ASCII filename for old clients, the Chinese one (RFC 6266 filename*) for the rest."""
    ascii_name = f"griddispatch-monthly-{unit}-{month}.csv"
    chinese = f"{unit_name}-{month}-月度统计报表.csv"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(chinese)}"
