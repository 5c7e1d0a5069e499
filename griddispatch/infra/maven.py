"""Jars from Maven Central through Maven and the system's Java: fetched once into the local cache, then reused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from shared.errors import ConfigurationError


def fetch_runtime_jars(what: str, pom: Path, properties: dict[str, str], libs: Path, expect: str) -> Path:
    """The runtime dependencies of `pom` copied into `libs` (a `.complete` marker says done); `expect` is a glob
    that must match a jar there, `what` names it in errors. Later calls find the folder and return at once."""
    done = libs / ".complete"
    if done.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigurationError(f"Maven is needed to fetch {what}'s jars: apt-get install maven")
    partial = libs.with_name(libs.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            *(f"-D{name}={value}" for name, value in properties.items()),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(partial.glob(expect)):
        version = " ".join(properties.values())
        raise ConfigurationError(
            f"Maven could not fetch {what} {version} from Maven Central "
            f"(pom {pom}): {(result.stdout + result.stderr)[-2000:]}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    done.touch()
    return libs
