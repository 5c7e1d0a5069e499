"""`griddispatch registry ...` and `griddispatch route --explain` as an operator runs them, on the real database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from shared.settings import PROJECT_ROOT, DatabaseSettings
from tests.cli import griddispatch

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
NOW = "2026-11-23T10:00:00+08:00"


def _report(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(fields, ensure_ascii=False), encoding="utf-8")
    return path


def test_validate_summarises_a_good_directory() -> None:
    result = griddispatch("registry", "validate", str(SAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    assert summary["units"]["micro_grid"] >= 200 and summary["matter_types"] >= 50


def test_validate_lists_every_problem_with_file_record_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLE, broken)
    catalog = broken / "catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("level: grid", "level: planet", 1), encoding="utf-8")
    (broken / "buildings.csv").write_text("code,address,micro_grid,lon,lat\nB1,某路1号,NO_SUCH_GRID,,\n", encoding="utf-8")
    result = griddispatch("registry", "validate", str(broken))
    assert result.returncode == 1
    assert "catalog.yaml:" in result.stderr and ": level:" in result.stderr
    assert "buildings.csv:" in result.stderr and "micro_grid" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_versions_and_route_against_the_active_version(empty_database: DatabaseSettings, tmp_path: Path) -> None:
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    first = griddispatch("registry", "import", str(SAMPLE), "--by", "tester", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("imported: version") and "(active)" in first.stdout
    again = griddispatch("registry", "import", str(SAMPLE), env=env)
    assert again.stdout.startswith("already stored")

    versions = json.loads(griddispatch("registry", "versions", "--json", env=env).stdout)
    assert len(versions) == 1 and versions[0]["active"] is True and versions[0]["imported_by"] == "tester"

    report = _report(
        tmp_path,
        title="井盖丢了",
        description="路口的井盖不见了，晚上很危险",
        location={"lon": 108.935, "lat": 34.272},
    )
    from_db = griddispatch("route", "--explain", str(report), "--now", NOW, env=env)
    assert from_db.returncode == 0, from_db.stderr
    decision = json.loads(from_db.stdout)
    assert decision["lead"] and decision["place"]
    rules = [step["rule"] for step in decision["trace"]]
    assert rules[0] == "locate.point_in_polygon"
    assert any(rule.startswith("classify.") for rule in rules)

    from_dir = griddispatch("route", "--explain", str(report), "--now", NOW, "--registry", str(SAMPLE))
    assert json.loads(from_dir.stdout) == decision  # the stored version routes exactly like its files


def test_route_without_explain_has_no_trace(tmp_path: Path) -> None:
    report = _report(tmp_path, title="噪音扰民", location={"address": "nowhere"})
    result = griddispatch("route", str(report), "--registry", str(SAMPLE), "--now", NOW)
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert "trace" not in decision and decision["lead"]  # unlocated, still routed to someone


def test_route_refuses_a_bad_report_clearly(tmp_path: Path) -> None:
    report = _report(tmp_path, title="x", location={"lon": 500, "lat": 34.2})
    result = griddispatch("route", str(report), "--registry", str(SAMPLE))
    assert result.returncode == 2
    assert "location.lon" in result.stderr and "Traceback" not in result.stderr


def test_route_with_no_active_version_says_what_to_do(empty_database: DatabaseSettings, tmp_path: Path) -> None:
    griddispatch("db", "migrate", env={"GRIDDISPATCH_DB_URL": empty_database.url})
    report = _report(tmp_path, title="x", location={"lon": 108.93, "lat": 34.27})
    result = griddispatch("route", str(report), env={"GRIDDISPATCH_DB_URL": empty_database.url})
    assert result.returncode == 2
    assert "griddispatch registry import" in result.stderr
