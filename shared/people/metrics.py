"""Metrics of people administration (registered once per process, on import)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CHANGES = Counter(
    "griddispatch_people_changes_total",
    "Audited changes to persons: created, updated, role_granted, role_revoked, disabled, enabled, password_set, ...",
    ["event"],
)
REGISTRY_IMPORT_SECONDS = Histogram(
    "griddispatch_people_registry_import_seconds", "Time to bring persons and roles in line with a registry version"
)
