"""Metrics of the console's reads (map, statistics, exports, deliveries)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CONSOLE_QUERY_SECONDS = Histogram(
    "griddispatch_console_query_seconds", "Time taken by a console read in the database", ["query"]
)
EXPORTS = Counter("griddispatch_console_exports_total", "Monthly reports downloaded as CSV")
ASSESSMENT_REPORTS = Counter(
    "griddispatch_assessment_reports_total", "Assessment reports produced, by format", ["format"]
)
ASSESSMENT_WEIGHT_CHANGES = Counter(
    "griddispatch_assessment_weight_changes_total", "Changes of the assessment score's weights"
)
