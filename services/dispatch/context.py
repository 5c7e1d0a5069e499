"""What every handler needs: the active registry and catalog, the topics, the policy, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.domain.catalog import MatterCatalog
from shared.domain.registry import Registry
from shared.domain.routing import DEFAULT_POLICY, Policy
from shared.topics import Topics


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """A new report is the same problem as an open case of the same matter this close, this recent."""

    radius_m: float = 100.0
    window: timedelta = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class AfterCarePolicy:
    """How long a command centre has to verify a resolved case, and a resident to rate a verified one."""

    verify_within_days: float = 2.0  # working days
    follow_up_within_hours: float = 72.0  # calendar hours; then the case closes without a rating


@dataclass(frozen=True)
class Context:
    registry: Registry
    catalog: MatterCatalog
    version: str  # the registry version routing decisions are recorded with
    topics: Topics
    policy: Policy = DEFAULT_POLICY
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    after_care: AfterCarePolicy = field(default_factory=AfterCarePolicy)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    deadline_scale: float = 1.0  # every deadline's allowance times this (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE)

    def now(self) -> datetime:
        return self.clock()
