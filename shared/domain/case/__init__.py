"""The case aggregate: a case, the commands that change it, and the facts they emit (pure, no I/O)."""

from shared.domain.case.commands import Fired, Request, act, fire, merge_report, open_case, refuse_unknown
from shared.domain.case.model import (
    SYSTEM,
    AfterCarePolicy,
    Case,
    CaseDeadline,
    Changed,
    DeadlineStatus,
    DuplicatePolicy,
    Entry,
    Fact,
    Notice,
    Refusal,
    Rules,
    Who,
    derived_id,
)
from shared.domain.case.visibility import scope_keys

__all__ = [
    "SYSTEM",
    "AfterCarePolicy",
    "Case",
    "CaseDeadline",
    "Changed",
    "DeadlineStatus",
    "DuplicatePolicy",
    "Entry",
    "Fact",
    "Fired",
    "Notice",
    "Refusal",
    "Request",
    "Rules",
    "Who",
    "act",
    "derived_id",
    "fire",
    "merge_report",
    "open_case",
    "refuse_unknown",
    "scope_keys",
]
