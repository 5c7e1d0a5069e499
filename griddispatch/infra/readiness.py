"""What a service's /readyz says, in a word for `griddispatch up` and `status`.

    summary = read_readiness("http://127.0.0.1:8001")    # Readiness(ready=False, text="not ready: no registry")

The reading is I/O; `readiness_of` (an answer to a judgement) is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

REGISTRY_CHECK = "registry"
IMPORT_COMMAND = "griddispatch registry import <dir>"
SAMPLE_IMPORT = "griddispatch registry import data/sample-district"


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    text: str  # "ready", "not ready: no registry", "not ready: kafka, postgres", "starting", "no answer"
    failing: tuple[str, ...] = ()

    @property
    def waits_for_registry_only(self) -> bool:
        """Up and running, with nothing to route by until a registry is imported."""
        return not self.ready and self.failing == (REGISTRY_CHECK,)


def readiness_of(status_code: int, body: Any) -> Readiness:
    if status_code == 200:
        return Readiness(True, "ready")
    checks = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict):
        return Readiness(False, f"not ready ({status_code})")
    failing = tuple(sorted(name for name, c in checks.items() if isinstance(c, dict) and not c.get("ok")))
    if body.get("runtime") == "starting" and not set(failing) - {REGISTRY_CHECK}:
        return Readiness(False, "starting")
    if not failing:
        return Readiness(False, f"not ready ({status_code})")
    words = ["no registry" if name == REGISTRY_CHECK else name for name in failing]
    return Readiness(False, "not ready: " + ", ".join(words), failing)


def read_readiness(url: str, timeout_s: float = 3.0) -> Readiness:
    try:
        answer = httpx.get(f"{url}/readyz", timeout=timeout_s)
    except httpx.HTTPError:
        return Readiness(False, "no answer")
    try:
        body = answer.json()
    except ValueError:
        body = None
    return readiness_of(answer.status_code, body)


def no_registry_warning(service: str = "dispatch") -> str:
    return (
        f"WARNING: no registry version is active: {service} accepts reports but routes none until one is imported: "
        f"`{IMPORT_COMMAND}` (the sample district: `{SAMPLE_IMPORT}`)"
    )
