"""Every Kafka topic the system uses, in one registry, and their idempotent creation.

Names are `<prefix>.<name>`; the prefix comes from settings so tests and tenants can run side by side on
one broker. Department systems subscribe to their own topic, one per department, so broker ACLs can keep
each department to its own cases.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    description: str = ""

    def configs(self, *, min_insync_replicas: int | None = None) -> dict[str, str]:
        """The topic-level configs to create it with; min.insync.replicas only when one is asked for."""
        configs = {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}
        if min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(min_insync_replicas)
        return configs


# name -> (partitions, retention, description). Six partitions: room for six dispatch workers per group.
_CORE: tuple[tuple[str, int, int, str], ...] = (
    ("reports", 6, 7 * DAY_MS, "new reports from intake and grid-worker app bulk sync; key = case id"),
    ("actions", 6, 7 * DAY_MS, "actions on cases (accept, return, resolve, ...); key = case id"),
    ("deadlines", 6, 7 * DAY_MS, "warnings, overdue and escalations fired by escalation; key = case id"),
    ("case-events", 6, 90 * DAY_MS, "the audit trail: every transition of every case; key = case id"),
    ("assignments", 6, 30 * DAY_MS, "every assignment to any unit, branch or department; key = case id"),
    ("dead-letter", 3, 30 * DAY_MS, "messages no consumer could process, with the reason; key = original"),
)


class Topics:
    """Topic names and specs under one prefix."""

    def __init__(self, prefix: str = "griddispatch") -> None:
        self.prefix = prefix

    def _full(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    @property
    def reports(self) -> str:
        return self._full("reports")

    @property
    def actions(self) -> str:
        return self._full("actions")

    @property
    def deadlines(self) -> str:
        return self._full("deadlines")

    @property
    def case_events(self) -> str:
        return self._full("case-events")

    @property
    def assignments(self) -> str:
        return self._full("assignments")

    @property
    def dead_letter(self) -> str:
        return self._full("dead-letter")

    def department_assignments(self, department_code: str) -> str:
        return self._full(f"department.{department_code.lower()}.assignments")

    def core_specs(self) -> list[TopicSpec]:
        return [TopicSpec(self._full(n), p, r, description=d) for n, p, r, d in _CORE]

    def department_spec(self, department_code: str) -> TopicSpec:
        return TopicSpec(
            self.department_assignments(department_code),
            partitions=3,
            retention_ms=30 * DAY_MS,
            description=f"cases assigned to department {department_code} and its branches; key = case id",
        )


CORE_NAMES = frozenset(name for name, *_ in _CORE)


def topic_kind(topic: str) -> str:
    """A topic's kind, whatever its prefix, for a metric label: a core name, `department` (one label for every
    department's topic), or `other`."""
    if ".department." in topic and topic.endswith(".assignments"):
        return "department"
    name = topic.rsplit(".", 1)[-1]
    return name if name in CORE_NAMES else "other"
