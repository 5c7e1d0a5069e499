"""The registry's people into `persons` and `person_roles` (with their `people_audit` rows): one statement per
table, whatever the size of the district. Run by shared/registry_store/store.py `activate`, in its transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from shared.logging import get_logger
from shared.people.from_registry import Listed
from shared.people.metrics import CHANGES

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RegistrySync:
    """What one registry import changed."""

    listed: int
    created: int
    updated: int
    granted: int
    revoked: int
    revoked_persons: tuple[str, ...] = field(default=())


async def sync_registry(conn: asyncpg.Connection, listed: Sequence[Listed], *, version: str) -> RegistrySync:
    """Make the persons and registry roles match what a registry version lists (`from_registry.Listed`): one
    statement per table whatever the number of people. Persons are matched by id: new ones are inserted
    (source `registry`), known ones get the registry's name and phone (a masked registry phone never replaces
    a full one). Registry roles no longer listed are removed, wherever the person went; manual and single
    sign-on roles, passwords and statuses are never touched. Audited as `registry` with the version."""
    ids = [p.id for p in listed]
    role_rows = [(p.id, g.role.value, g.unit) for p in listed for g in p.roles]
    actor, detail = "registry", json.dumps({"version": version})
    # The stored phone stays when the registry gives none, or only a masked one (139****9880) for a full one.
    keep = "(EXCLUDED.phone IS NULL OR (EXCLUDED.phone LIKE '%*%' AND coalesce(p.phone NOT LIKE '%*%', false)))"
    async with conn.transaction():
        persons = await conn.fetch(
            f"""WITH listed AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS l (id, name, phone)),
               written AS (
                   INSERT INTO persons AS p (id, name, phone, source)
                   SELECT id, name, phone, 'registry' FROM listed
                   ON CONFLICT (id) DO UPDATE SET
                       name = EXCLUDED.name,
                       phone = CASE WHEN {keep} THEN p.phone ELSE EXCLUDED.phone END,
                       updated_at = now()
                   WHERE p.name IS DISTINCT FROM EXCLUDED.name
                      OR (p.phone IS DISTINCT FROM EXCLUDED.phone AND NOT {keep})
                   RETURNING p.id, (xmax = 0) AS inserted),
               audited AS (
                   INSERT INTO people_audit (person_id, event, actor, detail)
                   SELECT id, CASE WHEN inserted THEN 'created' ELSE 'updated' END, $4, $5::jsonb FROM written)
               SELECT inserted FROM written""",
            ids,
            [p.name for p in listed],
            [p.phone for p in listed],
            actor,
            detail,
        )
        roles = await conn.fetch(
            """WITH wanted AS (
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS w (person_id, role, unit)),
               gone AS (
                   DELETE FROM person_roles r WHERE r.source = 'registry' AND NOT EXISTS (
                       SELECT 1 FROM wanted w WHERE (w.person_id, w.role, w.unit) = (r.person_id, r.role, r.unit))
                   RETURNING r.person_id, r.role, r.unit, 'role_revoked' AS event),
               added AS (
                   INSERT INTO person_roles (person_id, role, unit, source, granted_by)
                   SELECT person_id, role, unit, 'registry', $4 FROM wanted
                   ON CONFLICT (person_id, role, unit) DO NOTHING
                   RETURNING person_id, role, unit, 'role_granted' AS event),
               changed AS (SELECT * FROM gone UNION ALL SELECT * FROM added),
               audited AS (
                   INSERT INTO people_audit (person_id, event, actor, detail)
                   SELECT person_id, event, $4,
                          jsonb_build_object('role', role, 'unit', unit, 'source', 'registry') || $5::jsonb
                   FROM changed)
               SELECT person_id, event FROM changed""",
            [r[0] for r in role_rows],
            [r[1] for r in role_rows],
            [r[2] for r in role_rows],
            actor,
            detail,
        )
    created = sum(1 for r in persons if r["inserted"])
    granted = sum(1 for r in roles if r["event"] == "role_granted")
    gone = [r["person_id"] for r in roles if r["event"] == "role_revoked"]
    result = RegistrySync(len(listed), created, len(persons) - created, granted, len(gone), tuple(sorted(set(gone))))
    for event, count in (
        ("created", result.created),
        ("updated", result.updated),
        ("role_granted", result.granted),
        ("role_revoked", result.revoked),
    ):
        if count:
            CHANGES.labels(event).inc(count)
    log.info(
        "registry_people_imported",
        version=version,
        listed=result.listed,
        created=result.created,
        updated=result.updated,
        granted=result.granted,
        revoked=result.revoked,
    )
    return result
