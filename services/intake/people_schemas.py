"""Bodies of the people administration API (/v1/admin/people), with the limits the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.schemas import Strict
from shared.api_clients import ApiClient, Scope
from shared.people.fields import PHONE_PATTERN, USERNAME_PATTERN
from shared.people.model import RoleName
from shared.people.store import AuditEntry, PersonRecord
from shared.privacy import mask_phone

ROLE_WORDS = ", ".join(r.value for r in RoleName)
UNIT_PATTERN = r"^(\*|(unit|branch|department):[A-Za-z0-9_.\-]{1,64})$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


def _role() -> Any:
    return Field(
        min_length=1,
        max_length=40,
        description=f"one of: {ROLE_WORDS} (else 422 unknown_role)",
        examples=["grid_worker"],
    )


def _unit() -> Any:
    return Field(
        pattern=UNIT_PATTERN,
        description="where it is held: unit:<code>, department:<code>, branch:<code> or * (the whole district)",
        examples=["unit:610199004001001"],
    )


def _name(default: Any = ...) -> Any:
    return Field(default, min_length=1, max_length=100, examples=["王芳"])


def _username() -> Any:
    return Field(
        None, pattern=USERNAME_PATTERN, description="3-32 letters, digits, . _ -; stored in lower case",
        examples=["wangfang"],
    )  # fmt: skip


def _phone() -> Any:
    return Field(
        None, pattern=PHONE_PATTERN, description="the full number; a sign-in name too", examples=["13912345678"]
    )


class RoleIn(Strict):
    role: str = _role()
    unit: str = _unit()


class PersonIn(Strict):
    """A person added by hand (source `manual`)."""

    id: str | None = Field(None, pattern=ID_PATTERN, description="default: one is made up", examples=["wangfang"])
    name: str = _name()
    username: str | None = _username()
    phone: str | None = _phone()
    roles: list[RoleIn] = Field(default_factory=list, max_length=50)


class PersonPatch(Strict):
    """Only the fields sent change; `null` clears a username or phone."""

    name: str | None = _name(None)
    username: str | None = _username()
    phone: str | None = _phone()
    status: Literal["active", "disabled"] | None = None


class RolesIn(Strict):
    roles: list[RoleIn] = Field(max_length=50, description="the person's whole manual set")


class PasswordIn(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)  # a password is taken as typed

    password: str = Field(
        min_length=1,
        max_length=128,
        description="at least 10 characters of two kinds (letters, digits, others); not the person's own id, "
        "username or phone (else 422 weak_password)",
        json_schema_extra={"format": "password", "writeOnly": True},
    )


class RoleOut(BaseModel):
    role: str
    unit: str
    source: Literal["registry", "manual", "oidc"]
    granted_at: datetime
    granted_by: str


class PersonOut(BaseModel):
    id: str
    name: str
    username: str | None
    phone: str | None = Field(description="masked (139****5678) without the personal_data scope")
    status: Literal["active", "disabled"]
    source: Literal["registry", "manual", "oidc"]
    roles: list[RoleOut]
    scopes: list[str] = Field(description="what the roles let the person do (docs/people.md)")
    has_password: bool
    password_changed_at: datetime | None
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


class PersonPage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")


class AuditOut(BaseModel):
    id: int
    at: datetime
    event: str = Field(examples=["role_granted"])
    actor: str = Field(examples=["client:3b5c…", "person:wangfang", "cli:ops", "registry"])
    detail: dict[str, Any]


class AuditPage(BaseModel):
    person_id: str
    items: list[AuditOut]


def person_out(record: PersonRecord, caller: ApiClient) -> PersonOut:
    p = record.person
    return PersonOut(
        id=p.id,
        name=p.name,
        username=p.username,
        phone=p.phone if caller.has(Scope.PERSONAL_DATA) else mask_phone(p.phone),
        status=p.status.value,
        source=p.source.value,
        roles=[RoleOut.model_validate(h, from_attributes=True) for h in record.held],
        scopes=sorted(p.scopes),
        has_password=record.has_password,
        password_changed_at=record.password_changed_at,
        locked_until=record.locked_until,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def audit_out(entry: AuditEntry) -> AuditOut:
    return AuditOut(id=entry.id, at=entry.at, event=entry.event, actor=entry.actor, detail=entry.detail)
