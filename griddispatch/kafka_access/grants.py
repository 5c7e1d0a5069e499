"""The principals and ACLs of docs/events.md "ACLs", as data: one definition that the CLI applies to a broker
(`griddispatch kafka-access grant`) and that deploy/k8s/kafka/users.yaml is generated from, so neither drifts.

A department system reads its own topic (a LITERAL ACL: a prefixed one on `...department.water` would match
`...department.water_supply`) and uses consumer groups whose id starts with `<code>.`; nothing else. The
principal is the department code in lowercase with `_` as `-` (a Kubernetes name, which Strimzi makes the user
name, takes no `_`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.topics import Topics

ResourceType = Literal["topic", "group", "cluster"]
PatternType = Literal["literal", "prefix"]
Operation = Literal["Read", "Write", "Describe", "Create"]
SERVICES = ("intake", "dispatch", "escalation", "notify")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Acl:
    """Allow `operations` on the resources a (type, name, pattern) names."""

    resource_type: ResourceType
    name: str
    pattern_type: PatternType
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class Grant:
    """A principal (User:<username>) and every ACL it holds; nothing beyond them is allowed."""

    username: str
    acls: tuple[Acl, ...]
    description: str


def department_code(code: str) -> str:
    """The code as topic names hold it (lowercase); ValueError for one no topic or principal can carry."""
    lowered = code.strip().lower()
    if not _CODE.match(lowered):
        raise ValueError(f"department code {code!r}: use lowercase letters, digits and '_' (at most 63)")
    return lowered


def department_username(code: str) -> str:
    return department_code(code).replace("_", "-")


def department_grant(code: str, topics: Topics) -> Grant:
    lowered = department_code(code)
    return Grant(
        username=department_username(lowered),
        acls=(
            Acl("topic", topics.department_assignments(lowered), "literal", ("Read", "Describe")),
            Acl("group", f"{lowered}.", "prefix", ("Read",)),
        ),
        description=f"department system {lowered}: reads {topics.department_assignments(lowered)} only",
    )


def service_username(service: str, topics: Topics) -> str:
    return f"{topics.prefix}-{service}"


def service_grant(service: str, topics: Topics) -> Grant:
    """What one griddispatch service needs, and no more (Write implies Describe; Read on a group is joining it)."""
    prefix = topics.prefix
    acls: tuple[Acl, ...]
    if service == "dispatch":
        acls = (
            Acl("topic", topics.reports, "literal", ("Read",)),
            Acl("topic", topics.actions, "literal", ("Read",)),
            Acl("topic", topics.deadlines, "literal", ("Read",)),
            Acl("topic", topics.case_events, "literal", ("Write",)),
            Acl("topic", topics.assignments, "literal", ("Write",)),
            Acl("topic", topics.dead_letter, "literal", ("Write",)),
            Acl("topic", f"{prefix}.department.", "prefix", ("Write", "Create")),
            Acl("topic", f"{prefix}-dispatch-__assignor-__leader", "literal", ("Read", "Write", "Create")),
            Acl("group", f"{prefix}-dispatch", "literal", ("Read",)),
        )
    elif service == "intake":
        acls = (
            Acl("topic", topics.reports, "literal", ("Write",)),
            Acl("topic", topics.actions, "literal", ("Write",)),
        )
    elif service == "escalation":
        acls = (Acl("topic", topics.deadlines, "literal", ("Write",)),)
    elif service == "notify":
        acls = (
            Acl("topic", topics.case_events, "literal", ("Read",)),
            Acl("topic", topics.assignments, "literal", ("Read",)),
            Acl("topic", topics.deadlines, "literal", ("Read",)),
            Acl("group", f"{prefix}-notify", "literal", ("Read",)),
        )
    else:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    # Every service checks the core topics at start (shared/runtime.py): a topic it may not describe would look
    # missing, and it would try to create it. Describe shows a topic's metadata, never its records.
    touched = {acl.name for acl in acls}
    acls += tuple(
        Acl("topic", spec.name, "literal", ("Describe",)) for spec in topics.core_specs() if spec.name not in touched
    )
    return Grant(username=service_username(service, topics), acls=acls, description=f"griddispatch {service}")
