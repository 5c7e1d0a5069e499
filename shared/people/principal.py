"""A signed-in person seen through the same lens as an API client, so every read and action checks one model:
scopes from the person's roles (`ROLE_SCOPES`), units from where the roles are held, and `client.person` set.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.api_clients import ApiClient
from shared.people.model import Person

PERSON_NAMESPACE = uuid.UUID("3f7c1d2e-9b8a-4c6d-8e5f-2a1b0c9d8e7f")


def principal_id(person_id: str) -> uuid.UUID:
    """A stable id per person: their reports are found again as their own (`client:<id>` scope key)."""
    return uuid.uuid5(PERSON_NAMESPACE, f"person:{person_id}")


def principal_of(person: Person, *, signed_in_at: datetime, rate_per_min: int) -> ApiClient:
    return ApiClient(
        id=principal_id(person.id),
        name=person.name,
        key_prefix="person",
        scopes=person.scopes,
        units=person.units,
        source="person",
        rate_per_min=rate_per_min,
        created_at=signed_in_at,
        person=person,
    )
