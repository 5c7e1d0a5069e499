"""requirements.lock (runtime) and requirements-dev.lock (runtime and development), with hashes, agree with
pyproject.toml and with constraints.txt, the versions chosen by hand that `make lock` compiles them from.

No network: this reads the files. `make lock` regenerates both (pip-compile --generate-hashes).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from shared.settings import PROJECT_ROOT

PYPROJECT = PROJECT_ROOT / "pyproject.toml"
RUNTIME_LOCK = PROJECT_ROOT / "requirements.lock"
DEV_LOCK = PROJECT_ROOT / "requirements-dev.lock"
CONSTRAINTS = PROJECT_ROOT / "constraints.txt"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, how many hashes) of a pip-compile --generate-hashes output."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        pin = _PIN.match(line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = (pin.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def read_constraints(path: Path) -> dict[str, str]:
    pins = (_PIN.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {canonicalize_name(p.group(1)): p.group(2) for p in pins if p}


def disagreements(requirements: Iterable[str], lock: dict[str, tuple[str, int]]) -> list[str]:
    """What in `requirements` (PEP 508 strings) the lock lacks, pins outside the range, or pins without a hash."""
    wrong = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in lock:
            wrong.append(f"{req.name}: not in the lock")
            continue
        version, hashes = lock[name]
        if not req.specifier.contains(Version(version), prereleases=True):
            wrong.append(f"{req.name}: locked {version}, pyproject wants {req.specifier}")
        if hashes == 0:
            wrong.append(f"{req.name}: no hash")
    return wrong


def project() -> dict[str, list[str]]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return {"runtime": data["dependencies"], "dev": data["optional-dependencies"]["dev"]}


REGENERATE = "run `make lock` after changing pyproject.toml or constraints.txt"


def test_the_runtime_lock_covers_every_runtime_dependency_with_hashes() -> None:
    assert disagreements(project()["runtime"], read_lock(RUNTIME_LOCK)) == [], REGENERATE


def test_the_development_lock_covers_both_with_hashes() -> None:
    deps = project()
    assert disagreements(deps["runtime"] + deps["dev"], read_lock(DEV_LOCK)) == [], REGENERATE


def test_the_runtime_lock_holds_no_development_tool() -> None:
    runtime = read_lock(RUNTIME_LOCK)
    for tool in ("pytest", "ruff", "mypy", "schemathesis", "playwright", "pip-tools"):
        assert tool not in runtime, f"{tool} is a development tool, yet in requirements.lock"


def test_every_locked_package_is_hashed_and_the_locks_agree() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    assert [n for n, (_, h) in {**runtime, **dev}.items() if h == 0] == []
    assert {n: v for n, (v, _) in runtime.items() if dev.get(n, (v,))[0] != v} == {}, "the locks pin differently"
    assert set(runtime) <= set(dev), "the development lock must install the runtime too"


def test_the_locks_keep_the_versions_chosen_in_constraints() -> None:
    chosen = read_constraints(CONSTRAINTS)
    dev = read_lock(DEV_LOCK)
    differ = {n: (chosen[n], v) for n, (v, _) in dev.items() if n in chosen and chosen[n] != v}
    assert differ == {}, f"constraints.txt says one version, the lock another: {differ}; {REGENERATE}"


def test_a_disagreement_is_found() -> None:
    lock = {"fastapi": ("0.100.0", 2), "uvicorn": ("0.30.0", 0)}
    assert disagreements(["fastapi>=0.115", "uvicorn>=0.30", "httpx>=0.27"], lock) == [
        "fastapi: locked 0.100.0, pyproject wants >=0.115",
        "uvicorn: no hash",
        "httpx: not in the lock",
    ]
    assert disagreements(['tomli>=2; python_version < "3.0"'], {}) == []
