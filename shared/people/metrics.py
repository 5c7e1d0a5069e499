"""Metrics of people: administration, signing in and their tokens (registered once per process, on import; every
service that checks a person's token counts here)."""

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

SIGN_INS = Counter(
    "griddispatch_sign_ins_total",
    "Sign-in attempts of people by method (password, oidc) and outcome (ok, invalid_credentials, locked, "
    "disabled, rate_limited)",
    ["method", "outcome"],
)
REFRESHES = Counter(
    "griddispatch_token_refreshes_total", "Refresh-token exchanges by outcome (ok, or the refusal's code)", ["outcome"]
)
TOKEN_REFUSALS = Counter(
    "griddispatch_person_token_refusals_total", "Requests refused for their person token, by problem code", ["code"]
)
