"""Run the real `griddispatch` command as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def griddispatch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
