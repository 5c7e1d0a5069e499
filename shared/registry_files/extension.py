"""The catalog's extension limits (`extension`, 延期): the district default at the top of catalog.yaml, and a matter
type's own, which overrides it field by field (docs/registry-format.md#extension-limits).

    extension:
      max_count: 1            # approved extensions per lead
      max_working_days: 5     # how far one extension may move the resolve-by, in working days
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.domain.model import ExtensionRule
from shared.registry_files.fields import RecordReader
from shared.registry_files.validate import Problems

FIELDS = frozenset({"max_count", "max_working_days"})
KEY = "extension"


def parse_rule(file: str, record: str, raw: Any, base: ExtensionRule, problems: Problems) -> ExtensionRule | None:
    """The limits `raw` describes, missing fields taken from `base`; None (reported) when they are not ones."""
    if not isinstance(raw, dict):
        problems.add(file, record, KEY, f"must be a mapping with {', '.join(sorted(FIELDS))}, not {raw!r}")
        return None
    r = RecordReader(
        file, record, {f"{KEY}.{k}": v for k, v in raw.items()}, problems, frozenset(f"{KEY}.{f}" for f in FIELDS)
    )
    count = raw.get("max_count", base.max_count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        r.report(f"{KEY}.max_count", f"must be a whole number of extensions, 0 or more, not {count!r}")
    days = r.number(f"{KEY}.max_working_days", base.max_working_days)
    if not r.ok:
        return None
    return replace(base, max_count=int(count), max_working_days=days)


def as_document(rule: ExtensionRule) -> dict[str, Any]:
    return {"max_count": rule.max_count, "max_working_days": rule.max_working_days}
