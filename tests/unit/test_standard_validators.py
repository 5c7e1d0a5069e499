"""The project's contracts through the validators their ecosystems ship, none written here.

* docs/asyncapi.yaml through the AsyncAPI Initiative's parser (`@asyncapi/parser` from npm, pinned by
  deploy/local/asyncapi-parser/package-lock.json): zero diagnostics, errors or warnings;
* deploy/prometheus/rules.yml through `promtool check rules` (Debian's prometheus package);
* pyproject.toml through `validate-pyproject` (PyPI).

What they need is installed as `make install` installs it, idempotently and only when missing: the scripts
under deploy/local/ run here too, so `pytest` alone works where `make install` has not run.
Each check is shown able to fail on a broken copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from validate_pyproject import api as pyproject_api
from validate_pyproject.error_reporting import ValidationError as PyprojectInvalid

from shared.settings import PROJECT_ROOT

LOCAL = PROJECT_ROOT / "deploy" / "local"
ASYNCAPI = PROJECT_ROOT / "docs" / "asyncapi.yaml"
RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules.yml"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"


def _install(script: str) -> None:
    done = subprocess.run(["bash", str(LOCAL / script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"deploy/local/{script} failed (run `make install`):\n{done.stderr[-2000:]}"


# --- AsyncAPI ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi_parser() -> Path:
    _install("install-asyncapi-parser.sh")
    return LOCAL / "asyncapi-parser" / "check.mjs"


def parse_asyncapi(check: Path, document: Path) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is missing: run `make system-deps`"
    done = subprocess.run([node, str(check), str(document)], capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the parser printed no summary: {done.stderr[-2000:]}"
    return done.returncode, lines[:-1], lines[-1]


def test_asyncapi_document_passes_the_official_parser_without_a_diagnostic(asyncapi_parser: Path) -> None:
    code, diagnostics, summary = parse_asyncapi(asyncapi_parser, ASYNCAPI)
    assert code == 0 and summary["errors"] == 0, diagnostics
    assert summary["version"] == "3.1.0"  # the newest the parser knows: it warns on anything older
    assert diagnostics == []  # not even a warning


def test_the_asyncapi_parser_finds_a_broken_document(asyncapi_parser: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    first = next(iter(doc["operations"].values()))
    first["channel"] = {"$ref": "#/channels/no-such-channel"}
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    code, diagnostics, summary = parse_asyncapi(asyncapi_parser, broken)
    assert code == 1 and summary["errors"] >= 1, diagnostics
    assert any(d["severity"] == 0 for d in diagnostics)


# --- Prometheus rules -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    if shutil.which("promtool") is None:
        _install("install-system-deps.sh")
    found = shutil.which("promtool")
    assert found, "promtool is missing: run `make system-deps` (Debian's prometheus package)"
    return found


def check_rules(promtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_prometheus_rules_pass_promtool(promtool: str) -> None:
    done = check_rules(promtool, RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    rules = [r for g in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_promtool_finds_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    groups["groups"][0]["rules"][0]["expr"] = "sum(rate(griddispatch_x[5m])"  # unbalanced parenthesis
    broken = tmp_path / "rules.yml"
    broken.write_text(yaml.safe_dump(groups), encoding="utf-8")
    done = check_rules(promtool, broken)
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr


# --- pyproject.toml ---------------------------------------------------------------------------------------


def test_pyproject_passes_validate_pyproject() -> None:
    validator = pyproject_api.Validator()
    validator(tomllib.loads(PYPROJECT.read_text(encoding="utf-8")))  # raises, naming the offending field


def test_validate_pyproject_finds_a_broken_file() -> None:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    data["project"]["dependencies"] = "fastapi"  # a string, not a list
    with pytest.raises(PyprojectInvalid):
        pyproject_api.Validator()(data)
