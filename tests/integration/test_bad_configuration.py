"""A wrong setting ends in one clear line naming what is wrong and where: never a traceback."""

from __future__ import annotations

import pytest

from griddispatch.infra import postgres as local_postgres
from shared.settings import LocalInfraSettings
from tests.cli import griddispatch


def _assert_clear_failure(result: object, *must_mention: str) -> None:
    out = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out
    for text in must_mention:
        assert text in out, f"{text!r} not in {out!r}"


@pytest.mark.parametrize("command", [("check",), ("topics", "ensure"), ("serve", "intake", "--port", "18990")])
def test_unreachable_broker(local_infra: LocalInfraSettings, command: tuple[str, ...]) -> None:
    result = griddispatch(
        *command,
        env={
            "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "GRIDDISPATCH_DB_URL": local_postgres.url_of(local_infra),
        },
        timeout=60,
    )
    _assert_clear_failure(result, "127.0.0.1:1", "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS")


def test_unreachable_database() -> None:
    result = griddispatch("db", "migrate", env={"GRIDDISPATCH_DB_URL": "postgresql://u:secret@127.0.0.1:1/x"})
    _assert_clear_failure(result, "unreachable", "127.0.0.1:1", "GRIDDISPATCH_DB_URL")
    assert "secret" not in result.stdout + result.stderr  # the password is never printed


def test_wrong_password(local_infra: LocalInfraSettings) -> None:
    url = local_postgres.url_of(local_infra).replace(f":{local_infra.postgres_password}@", ":wrong-password@")
    result = griddispatch("db", "migrate", env={"GRIDDISPATCH_DB_URL": url})
    _assert_clear_failure(result, "refused the credentials", "GRIDDISPATCH_DB_URL")
    assert "wrong-password" not in result.stdout + result.stderr


def test_database_that_does_not_exist(local_infra: LocalInfraSettings) -> None:
    result = griddispatch("db", "migrate", env={"GRIDDISPATCH_DB_URL": local_postgres.url_of(local_infra, "nope")})
    _assert_clear_failure(result, "no such database", "/nope", "GRIDDISPATCH_DB_URL")


def test_malformed_database_url() -> None:
    result = griddispatch("db", "migrate", env={"GRIDDISPATCH_DB_URL": "mysql://what"})
    _assert_clear_failure(result, "GRIDDISPATCH_DB_URL")


def test_unknown_service_name() -> None:
    result = griddispatch("serve", "billing")
    _assert_clear_failure(result, "unknown service 'billing'", "intake")
