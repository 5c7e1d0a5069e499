"""The errors notify's operations answer, for their OpenAPI document: every one `application/problem+json`."""

from __future__ import annotations

from typing import Any

from shared.web import problem_responses

PROBLEMS: dict[int, str] = {
    400: "the body could not be read (not UTF-8)",
    401: "no API key, or an unknown or revoked one",
    403: "this API key lacks the scope for this",
    404: "no such subscription, delivery or stream that this client may see",
    413: "request body too large (GRIDDISPATCH_NOTIFY_MAX_BODY_BYTES)",
    422: "invalid request: `field` names what is wrong",
    503: "PostgreSQL is unreachable; retry after Retry-After",
}


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    return problem_responses(PROBLEMS, *statuses, **described)
