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


@dataclass(frozen=True)
class Context:
    registry: Registry
    catalog: MatterCatalog
    version: str  # the registry version routing decisions are recorded with
    topics: Topics
    policy: Policy = DEFAULT_POLICY
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def now(self) -> datetime:
        return self.clock()
