"""Topics, settings, the DSN mask, migration discovery and the HTTP problem mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.db.migrate import discover
from shared.db.pool import describe_dsn
from shared.errors import BrokerUnavailable, Conflict, InvalidInput, MigrationError, NotFound
from shared.settings import DatabaseSettings, KafkaSettings, LocalInfraSettings
from shared.topics import Topics
from shared.web import problem_response


def test_topic_names_follow_the_prefix_and_department_topics_are_separate() -> None:
    topics = Topics("gd")
    assert topics.reports == "gd.reports"
    assert topics.dead_letter == "gd.dead-letter"
    assert topics.department_assignments("CGJ") == "gd.department.cgj.assignments"
    names = [s.name for s in topics.core_specs()]
    assert len(names) == len(set(names)) == 6
    assert all(s.partitions >= 1 and s.retention_ms > 0 for s in topics.core_specs())


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092")
    monkeypatch.setenv("GRIDDISPATCH_DB_POOL_MAX_SIZE", "42")
    monkeypatch.setenv("GRIDDISPATCH_LOCAL_POSTGRES_PORT", "5555")
    assert KafkaSettings().bootstrap_servers == "10.0.0.1:9092"
    assert DatabaseSettings().pool_max_size == 42
    assert LocalInfraSettings().postgres_port == 5555


def test_defaults_point_at_the_local_infrastructure() -> None:
    local = LocalInfraSettings()
    assert KafkaSettings().bootstrap_servers == f"127.0.0.1:{local.kafka_port}"
    assert f"127.0.0.1:{local.postgres_port}" in DatabaseSettings().url


def test_password_is_masked() -> None:
    assert describe_dsn("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert describe_dsn("postgresql://h/d") == "postgresql://h/d"


def test_migrations_are_discovered_in_order() -> None:
    versions = [m.version for m in discover()]
    assert versions == sorted(versions) and versions[0] == 1


def test_badly_named_or_duplicate_migrations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="not named"):
        discover(tmp_path)
    (tmp_path / "1_x.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0001_b.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="share a version"):
        discover(tmp_path)


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (InvalidInput("bad", field="location"), 422, False),
        (NotFound("no case"), 404, False),
        (Conflict("illegal"), 409, False),
        (BrokerUnavailable("down"), 503, True),
    ],
)
def test_errors_become_rfc9457_problems(error: Exception, status: int, retry_after: bool) -> None:
    response = problem_response(error, instance="/v1/x")  # type: ignore[arg-type]
    body = json.loads(response.body)
    assert response.status_code == status == body["status"]
    assert response.media_type == "application/problem+json"
    assert body["type"].endswith(error.code)  # type: ignore[attr-defined]
    assert ("Retry-After" in response.headers) is retry_after
    if isinstance(error, InvalidInput):
        assert body["field"] == "location"
