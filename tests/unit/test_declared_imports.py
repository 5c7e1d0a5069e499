"""Every third-party package the code imports is declared in pyproject.toml, not merely brought by another.

The imports of the packaged code (griddispatch/, services/, shared/) must be among project.dependencies; those
of what runs from a checkout with the dev extra (chaos/, bench/, tests/) among those or the dev extra. Import
names are mapped to distributions by the installed metadata (`yaml` is PyYAML, `jwt` PyJWT).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ("griddispatch", "services", "shared")
CHECKOUT = ("chaos", "bench", "tests")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in requirements}  # type: ignore[union-attr]


def _imports(folder: str) -> dict[str, str]:
    """Top-level module imported -> one file importing it, over every .py file under the folder."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _undeclared(folders: tuple[str, ...], declared: set[str]) -> list[str]:
    ours = {*PACKAGED, *CHECKOUT, "__future__", "conftest"}
    owners = importlib.metadata.packages_distributions()
    missing = []
    for folder in folders:
        for module, where in _imports(folder).items():
            if module in sys.stdlib_module_names or module in ours:
                continue
            distributions = {_canonical(d) for d in owners.get(module, [])}
            assert distributions, f"{module} ({where}) is installed by no distribution"
            if not distributions & declared:
                missing.append(f"{module} ({where}): from {sorted(distributions)}")
    return sorted(set(missing))


def test_the_packaged_code_imports_only_declared_dependencies() -> None:
    assert _undeclared(PACKAGED, _declared(PROJECT["dependencies"])) == []


def test_chaos_bench_and_tests_import_only_dependencies_or_the_dev_extra() -> None:
    declared = _declared(PROJECT["dependencies"]) | _declared(PROJECT["optional-dependencies"]["dev"])
    assert _undeclared(CHECKOUT, declared) == []
