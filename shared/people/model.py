"""Persons and their roles, as plain values. What a role may do is a fixed table (`ROLE_SCOPES`); where it may
do it is the unit the role is held in, and everything below that unit (the same scope keys as API clients).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shared.api_clients import Scope, is_unit_scope
from shared.domain.model import Level
from shared.errors import InvalidInput


class RoleName(StrEnum):
    GRID_WORKER = "grid_worker"  # 网格员: walks a grid (or micro-grid), takes its cases
    MICRO_GRID_HEAD = "micro_grid_head"  # 微网格长: often a volunteer; the first responder of a micro-grid
    GRID_HEAD = "grid_head"  # 网格长: leads a grid's workers, verifies their results
    DUTY_OFFICER = "duty_officer"  # 值班员: a community's, street's or district's command centre on duty
    DEPARTMENT_HANDLER = "department_handler"  # 部门承办人: handles a department's (or branch's) cases
    DEPARTMENT_HEAD = "department_head"  # 部门负责人: assigns and answers for a department's cases
    DISTRICT_SUPERVISOR = "district_supervisor"  # 区级督办 / 考核: supervises and assesses the whole area it holds
    ADMINISTRATOR = "administrator"  # 系统管理员: people, clients, registry versions


class PersonStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class Source(StrEnum):
    REGISTRY = "registry"  # imported from the registry's `people`; a re-import updates it
    MANUAL = "manual"  # added by an administrator (CLI or admin API)
    OIDC = "oidc"  # mapped from a single sign-on token's claims


_READ_ACT = frozenset({Scope.READ, Scope.ACT, Scope.SUBMIT})
_COMMAND = _READ_ACT | {Scope.SUPERVISE, Scope.PERSONAL_DATA}

ROLE_SCOPES: dict[RoleName, frozenset[Scope]] = {
    RoleName.GRID_WORKER: _READ_ACT,
    RoleName.MICRO_GRID_HEAD: _READ_ACT,
    RoleName.GRID_HEAD: _READ_ACT | {Scope.SUPERVISE},
    RoleName.DUTY_OFFICER: _COMMAND,
    RoleName.DEPARTMENT_HANDLER: frozenset({Scope.READ, Scope.ACT, Scope.PERSONAL_DATA}),
    RoleName.DEPARTMENT_HEAD: frozenset({Scope.READ, Scope.ACT, Scope.SUPERVISE, Scope.PERSONAL_DATA}),
    RoleName.DISTRICT_SUPERVISOR: _COMMAND,
    RoleName.ADMINISTRATOR: frozenset({Scope.READ, Scope.ADMIN}),
}
"""What each role may do, wherever it is held. Documented in docs/people.md."""

HEAD_ROLES = frozenset({RoleName.MICRO_GRID_HEAD, RoleName.GRID_HEAD, RoleName.DEPARTMENT_HEAD})
"""The roles that answer for a unit when nobody is on duty (and to whom an unaccepted case climbs)."""

# The registry's own role words (units.geojson `people[].role`), by the level of the unit that lists them.
_REGISTRY_ALIASES: dict[str, RoleName] = {"volunteer": RoleName.MICRO_GRID_HEAD}


def role_from_registry(role: str, level: Level | None) -> RoleName:
    """The role a registry person holds: the registry's word (`grid_worker`, `grid_head`, `duty_officer`,
    `volunteer`, or any `RoleName`); a `duty_officer` listed on a department or branch handles its cases."""
    if role in _REGISTRY_ALIASES:
        return _REGISTRY_ALIASES[role]
    try:
        named = RoleName(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; choose from {[r.value for r in RoleName]}", field="role") from None
    if named is RoleName.DUTY_OFFICER and level is None:
        return RoleName.DEPARTMENT_HANDLER
    return named


@dataclass(frozen=True, slots=True, order=True)
class RoleGrant:
    """A role held in a unit: `unit:<code>`, `department:<code>`, `branch:<code>` or `*`."""

    role: RoleName
    unit: str

    @classmethod
    def of(cls, role: str, unit: str) -> RoleGrant:
        try:
            name = RoleName(role)
        except ValueError:
            raise InvalidInput(
                f"unknown role {role!r}; choose from {[r.value for r in RoleName]}", field="role"
            ) from None
        if not is_unit_scope(unit):
            raise InvalidInput(f"{unit!r} is not *, unit:<code>, branch:<code> or department:<code>", field="unit")
        return cls(name, unit)

    def __str__(self) -> str:
        return f"{self.role.value}@{self.unit}"


_PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_person_id(value: str) -> str:
    if not _PERSON_ID.match(value):
        raise InvalidInput(
            "a person id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", field="id"
        )
    return value


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    status: PersonStatus = PersonStatus.ACTIVE
    username: str | None = None
    phone: str | None = None
    source: Source = Source.MANUAL
    roles: tuple[RoleGrant, ...] = field(default=())

    @property
    def active(self) -> bool:
        return self.status is PersonStatus.ACTIVE

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_of(self.roles)

    @property
    def units(self) -> frozenset[str]:
        return frozenset(g.unit for g in self.roles)


def scopes_of(grants: Iterable[RoleGrant]) -> frozenset[str]:
    return frozenset(s.value for g in grants for s in ROLE_SCOPES[g.role])
