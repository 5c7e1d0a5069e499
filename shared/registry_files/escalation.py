"""The catalog's escalation policy (`escalation`): the district default at the top of catalog.yaml, and a matter
type's own, which overrides it field by field (docs/registry-format.md#escalation-policy).

    escalation:
      policy: supervise        # supervise | take_over
      take_over_after: 2       # supervise: the 2nd missed deadline at the same lead takes the case over
      reply_within_hours: 24   # a supervision order's reply-by
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.domain.model import EscalationPolicy, EscalationRule
from shared.registry_files.fields import RecordReader
from shared.registry_files.validate import Problems

FIELDS = frozenset({"policy", "take_over_after", "reply_within_hours"})
KEY = "escalation"


def parse_rule(file: str, record: str, raw: Any, base: EscalationRule, problems: Problems) -> EscalationRule | None:
    """The rule `raw` describes, missing fields taken from `base`; None (reported) when it is not one."""
    if not isinstance(raw, dict):
        problems.add(file, record, KEY, f"must be a mapping with {', '.join(sorted(FIELDS))}, not {raw!r}")
        return None
    r = RecordReader(
        file, record, {f"{KEY}.{k}": v for k, v in raw.items()}, problems, frozenset(f"{KEY}.{f}" for f in FIELDS)
    )
    policy = r.choice(f"{KEY}.policy", EscalationPolicy, base.policy)
    after = raw.get("take_over_after", base.take_over_after)
    if isinstance(after, bool) or not isinstance(after, int) or after < 2:
        r.report(f"{KEY}.take_over_after", f"must be a whole number of missed deadlines, 2 or more, not {after!r}")
    hours = r.number(f"{KEY}.reply_within_hours", base.reply_within_hours)
    if not r.ok or policy is None:
        return None
    return replace(base, policy=policy, take_over_after=int(after), reply_within_hours=hours)


def as_document(rule: EscalationRule) -> dict[str, Any]:
    return {
        "policy": rule.policy.value,
        "take_over_after": rule.take_over_after,
        "reply_within_hours": rule.reply_within_hours,
    }
