"""What every handler needs: the rules commands consult (registry, catalog, policies), the topics, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.case import AfterCarePolicy, DuplicatePolicy, Rules
from shared.topics import Topics

__all__ = ["AfterCarePolicy", "Context", "DuplicatePolicy"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    rules: Rules
    topics: Topics
    clock: Callable[[], datetime] = field(default=_utc_now)

    def now(self) -> datetime:
        return self.clock()
