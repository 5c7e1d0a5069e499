"""The role table, role grants and the registry's role words: pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.api_clients import Scope
from shared.domain.model import Level
from shared.errors import InvalidInput
from shared.people.model import (
    ROLE_SCOPES,
    Person,
    RoleGrant,
    RoleName,
    check_person_id,
    role_from_registry,
    scopes_of,
)
from shared.people.principal import principal_id, principal_of


def test_every_role_has_scopes_and_only_command_roles_supervise() -> None:
    assert set(ROLE_SCOPES) == set(RoleName)
    supervising = {r for r, s in ROLE_SCOPES.items() if Scope.SUPERVISE in s}
    assert supervising == {
        RoleName.GRID_HEAD,
        RoleName.DUTY_OFFICER,
        RoleName.DEPARTMENT_HEAD,
        RoleName.DISTRICT_SUPERVISOR,
    }
    assert [r for r, s in ROLE_SCOPES.items() if Scope.ADMIN in s] == [RoleName.ADMINISTRATOR]
    assert Scope.PERSONAL_DATA not in ROLE_SCOPES[RoleName.GRID_WORKER]


def test_a_grant_checks_role_and_unit() -> None:
    assert str(RoleGrant.of("grid_worker", "unit:610102001001")) == "grid_worker@unit:610102001001"
    with pytest.raises(InvalidInput, match="unknown role"):
        RoleGrant.of("mayor", "unit:1")
    with pytest.raises(InvalidInput, match="is not"):
        RoleGrant.of("grid_worker", "grid 7")


def test_registry_role_words() -> None:
    assert role_from_registry("volunteer", Level.MICRO_GRID) is RoleName.MICRO_GRID_HEAD
    assert role_from_registry("grid_head", Level.GRID) is RoleName.GRID_HEAD
    assert role_from_registry("duty_officer", Level.STREET) is RoleName.DUTY_OFFICER
    assert role_from_registry("duty_officer", None) is RoleName.DEPARTMENT_HANDLER  # listed on a department
    with pytest.raises(InvalidInput):
        role_from_registry("chef", Level.GRID)


@pytest.mark.parametrize("value", ["", "-a", "a b", "x" * 65, "张三"])
def test_bad_person_ids(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_person_id(value)


def test_a_person_is_seen_as_a_client_with_the_union_of_its_roles() -> None:
    person = Person(
        id="p-1",
        name="王芳",
        roles=(RoleGrant.of("grid_worker", "unit:g1"), RoleGrant.of("duty_officer", "unit:c1")),
    )
    client = principal_of(person, signed_in_at=datetime(2026, 12, 2, tzinfo=UTC), rate_per_min=600)
    assert client.person is person
    assert client.units == {"unit:g1", "unit:c1"}
    assert client.scopes == scopes_of(person.roles) >= {"read", "act", "supervise"}
    assert client.id == principal_id("p-1") != principal_id("p-2")
    assert not client.sees_all
