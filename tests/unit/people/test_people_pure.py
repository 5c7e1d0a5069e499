"""The pure parts of people administration: login names, actors, the registry's people, an administrator's reach."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.api_clients import ApiClient
from shared.domain.model import Branch, Department, Person
from shared.domain.registry import Registry
from shared.errors import InvalidInput
from shared.people import reach
from shared.people.admin import UnknownRole, parse_grant
from shared.people.fields import actor_of, check_actor, check_phone, check_username, cli_actor, is_username
from shared.people.from_registry import listed_people
from shared.people.model import Person as Member
from shared.people.model import RoleGrant, RoleName
from shared.registry_files.generate import DistrictSpec, build_district

SMALL = DistrictSpec(streets=1, communities=1, grids=2, micro_grids=3, district_code="5101", seed=3)


def test_usernames_and_phones_never_look_alike() -> None:
    assert check_username("WangFang") == "wangfang" and is_username("wang.fang-2")
    for bad in ("ab", "1abc", "wang fang", "x" * 33, "王芳"):
        with pytest.raises(InvalidInput):
            check_username(bad)
    assert check_phone(" 139-1234 5678 ") == "13912345678" and check_phone("+8613912345678") == "+8613912345678"
    for bad in ("139****5678", "phone", "12"):
        with pytest.raises(InvalidInput):
            check_phone(bad)
    assert not is_username("13912345678") and not is_username("+8613912345678")


@given(st.text(min_size=1, max_size=40))
def test_a_login_is_never_both_a_username_and_a_phone(text: str) -> None:
    if is_username(text):
        with pytest.raises(InvalidInput):
            check_phone(text)


def test_actors() -> None:
    client = ApiClient(uuid.uuid4(), "c", "gdk_x", frozenset(), frozenset({"*"}), None, 60, datetime.now(UTC))
    assert actor_of(client) == f"client:{client.id}"
    assert actor_of(replace(client, person=Member("wangfang", "王芳"))) == "person:wangfang"
    assert check_actor(cli_actor()).startswith("cli:")
    for bad in ("", "root", "person:", "cli:two words"):
        with pytest.raises(InvalidInput):
            check_actor(bad)


def test_grants_are_parsed_with_specific_codes() -> None:
    assert parse_grant("grid_worker@unit:610102001001") == RoleGrant(RoleName.GRID_WORKER, "unit:610102001001")
    assert str(parse_grant("administrator@*")) == "administrator@*"
    with pytest.raises(UnknownRole):
        parse_grant("mayor@unit:1")
    with pytest.raises(InvalidInput):
        parse_grant("grid_worker@610102")
    with pytest.raises(InvalidInput):
        parse_grant("grid_worker")


def test_the_registry_lists_each_person_once_with_every_role() -> None:
    district = build_district(SMALL)
    micro = next(u for u in district.units if u.level.value == "micro_grid")
    grid = next(u for u in district.units if u.level.value == "grid")
    twice = grid.people[1]
    department = Department(
        "city_management", "城管局", "City management", people=(replace(twice, role="duty_officer"),)
    )
    branch = Branch("cm-1", "city_management", "中队", (grid.code,), people=(Person("b-1", "赵六", "duty_officer"),))
    registry = Registry(district.units, [department], [branch])
    listed = {p.id: p for p in listed_people(registry)}
    assert len(listed) == sum(len(u.people) for u in district.units) + 1
    assert listed[micro.people[0].id].roles == (RoleGrant(RoleName.MICRO_GRID_HEAD, f"unit:{micro.code}"),)
    assert listed[grid.people[0].id].roles == (RoleGrant(RoleName.GRID_HEAD, f"unit:{grid.code}"),)
    assert set(listed[twice.id].roles) == {
        RoleGrant(RoleName.GRID_WORKER, f"unit:{grid.code}"),
        RoleGrant(RoleName.DEPARTMENT_HANDLER, "department:city_management"),  # a department's duty officer
    }
    assert listed["b-1"].roles == (RoleGrant(RoleName.DEPARTMENT_HANDLER, "branch:cm-1"),)
    assert listed[twice.id].name == twice.name and listed[twice.id].phone == twice.phone


UNITS = st.lists(st.sampled_from(["unit:1", "unit:2", "unit:3", "branch:b", "*"]), max_size=4)


@given(st.one_of(st.none(), st.frozensets(st.sampled_from(["unit:1", "unit:2", "branch:b"]))), UNITS)
def test_managing_a_person_implies_seeing_them(within: frozenset[str] | None, units: list[str]) -> None:
    if reach.manages(within, units):
        assert reach.sees(within, units)
    if within is None:
        assert reach.sees(within, units) and reach.manages(within, units)


def test_reach_of_an_administrator_of_some_units() -> None:
    within = frozenset({"unit:1", "unit:11"})
    assert reach.sees(within, ["unit:11", "unit:2"]) and not reach.manages(within, ["unit:11", "unit:2"])
    assert reach.manages(within, ["unit:1", "unit:11"])
    assert not reach.sees(within, []) and not reach.manages(within, [])  # nobody's: the whole district's
    assert reach.may_grant(within, RoleGrant(RoleName.GRID_WORKER, "unit:11"))
    assert not reach.may_grant(within, RoleGrant(RoleName.GRID_WORKER, "*"))
    assert reach.may_grant(None, RoleGrant(RoleName.ADMINISTRATOR, "*"))
