"""Metrics of people signing in and of their tokens (every service that checks a person's token counts here)."""

from __future__ import annotations

from prometheus_client import Counter

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
