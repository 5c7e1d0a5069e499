"""Persons, roles and their audit on the real PostgreSQL; the registry's people imported when a version is activated."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from shared.db import migrate
from shared.errors import InvalidInput, NotFound
from shared.people import store
from shared.people.model import PersonStatus, RoleGrant, RoleName, Source
from shared.people.passwords import WeakPassword, verify
from shared.registry_files.generate import DistrictSpec, build_district, write_district
from shared.registry_files.load import load_directory
from shared.registry_store import activate, import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
ADMIN = "cli:tester"


@pytest.fixture
async def conn(empty_database: DatabaseSettings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_database.url)
    await migrate(connection)
    yield connection
    await connection.close()


def _sample_people() -> dict[str, set[tuple[str, str]]]:
    registry = load_directory(SAMPLE).registry
    out: dict[str, set[tuple[str, str]]] = {}
    for u in registry.units.values():
        for p in u.people:
            out.setdefault(p.id, set()).add((p.role, f"unit:{u.code}"))
    return out


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    return (
        await conn.fetchval("SELECT count(*) FROM persons"),
        await conn.fetchval("SELECT count(*) FROM person_roles"),
        await conn.fetchval("SELECT count(DISTINCT id) FROM persons"),
    )


async def test_the_sample_district_imports_its_people_once(conn: asyncpg.Connection) -> None:
    listed = _sample_people()
    first = await import_directory(conn, SAMPLE, imported_by="tester")
    assert first.people is not None and first.people.created == len(listed) == 362
    persons, roles, distinct = await _counts(conn)
    assert persons == distinct == len(listed) and roles == sum(len(r) for r in listed.values())

    worker_id = next(pid for pid, held in listed.items() if {r for r, _ in held} == {"volunteer"})
    worker = await store.get_person(conn, worker_id)
    assert worker is not None and worker.source is Source.REGISTRY and worker.status is PersonStatus.ACTIVE
    assert [g.role for g in worker.roles] == [RoleName.MICRO_GRID_HEAD]  # the registry's "volunteer"
    created = await store.audit_of(conn, worker_id)
    assert [(a.event, a.actor) for a in created] == [("role_granted", "registry"), ("created", "registry")]
    assert created[0].detail["version"] == first.version

    again = await import_directory(conn, SAMPLE, imported_by="tester")  # same content: activated again
    assert again.people is not None and (again.people.created, again.people.updated) == (0, 0)
    assert (again.people.granted, again.people.revoked) == (0, 0)
    assert await _counts(conn) == (persons, roles, distinct)
    assert len(await store.audit_of(conn, worker_id)) == 2  # nothing changed, nothing audited


async def test_a_reimport_updates_names_and_takes_only_registry_roles_away(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    spec = DistrictSpec(streets=2, communities=3, grids=5, micro_grids=9, district_code="5101", seed=4)
    district = build_district(spec)
    write_district(district, tmp_path / "v1")
    await import_directory(conn, tmp_path / "v1", imported_by="tester")
    grid = next(u for u in district.units if u.level.value == "grid")
    renamed, leaving = grid.people[0], grid.people[1]
    manual = RoleGrant(RoleName.DUTY_OFFICER, f"unit:{grid.parent}")
    await store.grant_role(conn, leaving.id, manual, ADMIN)
    await store.set_password(conn, leaving.id, "long-enough-9", ADMIN)
    before = await _counts(conn)

    edited_grid = replace(grid, people=(replace(renamed, name="新名字"),))
    units = tuple(edited_grid if u.code == grid.code else u for u in district.units)
    write_district(replace(district, units=units), tmp_path / "v2")
    second = await import_directory(conn, tmp_path / "v2", imported_by="tester")
    assert second.people is not None
    assert (second.people.created, second.people.updated, second.people.revoked) == (0, 1, 1)
    assert second.people.revoked_persons == (leaving.id,)

    after = await _counts(conn)
    assert after[0] == before[0] and after[1] == before[1] - 1  # nobody duplicated or deleted; one role fewer
    assert (await store.get_person(conn, renamed.id)).name == "新名字"  # type: ignore[union-attr]
    kept = await store.get_record(conn, leaving.id)
    assert kept is not None and kept.person.roles == (manual,) and kept.has_password
    revoked = (await store.audit_of(conn, leaving.id))[0]
    assert (revoked.event, revoked.actor, revoked.detail["source"]) == ("role_revoked", "registry", "registry")

    back = await activate(conn, await _v1(conn), switched_by="tester")
    assert back.granted == 1 and back.revoked == 0  # the old version lists them again
    again = await store.get_person(conn, leaving.id)
    assert again is not None and len(again.roles) == 2


async def _v1(conn: asyncpg.Connection) -> str:
    version: str = await conn.fetchval("SELECT version FROM registry_versions ORDER BY id LIMIT 1")
    return version


async def test_a_generated_district_imports_its_people(conn: asyncpg.Connection, tmp_path: Path) -> None:
    spec = DistrictSpec(streets=3, communities=9, grids=30, micro_grids=400, district_code="5102", seed=11)
    district = build_district(spec)
    write_district(district, tmp_path / "big")
    result = await import_directory(conn, tmp_path / "big", imported_by="tester")
    people = sum(len(u.people) for u in district.units)
    assert result.people is not None and result.people.created == people > 400
    assert (await _counts(conn))[0] == people
    heads = await conn.fetchval("SELECT count(*) FROM person_roles WHERE role = 'micro_grid_head'")
    assert heads == spec.micro_grids


async def test_manual_persons_roles_status_and_password(conn: asyncpg.Connection) -> None:
    pid = f"t-{uuid.uuid4().hex[:8]}"
    grant = RoleGrant(RoleName.GRID_WORKER, "unit:610102001001")
    added = await store.add_person(
        conn, person_id=pid, name="王五", actor=ADMIN, username="WangWu", phone="138 1234 5678", roles=[grant]
    )
    assert added.person.username == "wangwu" and added.person.phone == "13812345678"
    assert added.person.roles == (grant,) and not added.has_password
    with pytest.raises(store.PersonExists):
        await store.add_person(conn, person_id=pid, name="again", actor=ADMIN)
    with pytest.raises(store.UsernameTaken):
        await store.add_person(conn, name="other", actor=ADMIN, username="wangwu")

    with pytest.raises(WeakPassword):
        await store.set_password(conn, pid, "short1", ADMIN)
    with pytest.raises(WeakPassword):
        await store.set_password(conn, pid, "wangwu-secret-1", ADMIN)  # contains the username
    await store.set_password(conn, pid, "correct horse 7", ADMIN)
    stored = await conn.fetchval("SELECT password_hash FROM persons WHERE id = $1", pid)
    assert stored.startswith("$argon2id$") and verify(stored, "correct horse 7")

    [candidate] = await store.find_by_login(conn, "WANGWU")
    assert candidate.person.id == pid and candidate.password_hash == stored and candidate.failed_sign_ins == 0
    assert [c.person.id for c in await store.find_by_login(conn, "138-1234-5678")] == [pid]
    await store.add_person(conn, name="same phone", actor=ADMIN, phone="13812345678")
    assert await store.find_by_login(conn, "13812345678") == []  # two persons: nobody
    assert await store.find_by_login(conn, "nobody-here") == []

    await store.disable(conn, pid, ADMIN)
    await store.disable(conn, pid, ADMIN)  # no change, no second row
    assert (await store.enable(conn, pid, ADMIN)).person.status is PersonStatus.ACTIVE
    head = RoleGrant(RoleName.GRID_HEAD, "unit:610102001001")
    await store.set_roles(conn, pid, [head], ADMIN)
    assert (await store.get_person(conn, pid)).roles == (head,)  # type: ignore[union-attr]
    await store.revoke_role(conn, pid, head, ADMIN)
    events = [(a.event, a.detail) for a in await store.audit_of(conn, pid)]
    assert [e for e, _ in events] == [
        "role_revoked",
        "role_granted",
        "role_revoked",
        "enabled",
        "disabled",
        "password_set",
        "role_granted",
        "created",
    ]
    everything = json.dumps([d for _, d in events]) + str(await conn.fetch("SELECT * FROM people_audit"))
    assert "correct horse" not in everything and "argon2" not in everything and "5678" not in everything

    updated = await store.update_person(conn, pid, actor=ADMIN, name="王五一", phone=None)
    assert updated.person.name == "王五一" and updated.person.phone is None
    assert (await store.audit_of(conn, pid, 1))[0].detail == {"fields": ["name", "phone"]}
    with pytest.raises(NotFound):
        await store.disable(conn, "no-such-person", ADMIN)
    with pytest.raises(InvalidInput):
        await store.add_person(conn, person_id="bad id!", name="x", actor=ADMIN)


async def test_registry_roles_are_changed_in_the_registry_only(conn: asyncpg.Connection) -> None:
    await import_directory(conn, SAMPLE, imported_by="tester")
    row = await conn.fetchrow("SELECT person_id, role, unit FROM person_roles ORDER BY person_id LIMIT 1")
    grant = RoleGrant(RoleName(row["role"]), row["unit"])
    with pytest.raises(store.RegistryRole):
        await store.revoke_role(conn, row["person_id"], grant, ADMIN)
    extra = RoleGrant(RoleName.DISTRICT_SUPERVISOR, "*")
    record = await store.set_roles(conn, row["person_id"], [extra], ADMIN)  # the manual set; registry's stay
    assert set(record.person.roles) == {grant, extra}
    record = await store.set_roles(conn, row["person_id"], [], ADMIN)
    assert record.person.roles == (grant,)


async def test_listing_filters_and_pages(conn: asyncpg.Connection) -> None:
    await import_directory(conn, SAMPLE, imported_by="tester")
    heads, after = [], None
    while True:
        page, after = await store.list_persons(conn, role="grid_head", limit=20, after=after)
        heads += page
        if after is None:
            break
    assert len(heads) == 48 and len({h.person.id for h in heads}) == 48
    street = "unit:610199004"
    one, _ = await store.list_persons(conn, unit=street)
    assert one and all(any(g.unit == street for g in p.person.roles) for p in one)
    named, _ = await store.list_persons(conn, query=heads[0].person.name)
    assert heads[0].person.id in [p.person.id for p in named]
    inside, _ = await store.list_persons(conn, within=[street], limit=500)
    assert [p.person.id for p in inside] == [p.person.id for p in one]
    none, _ = await store.list_persons(conn, status="disabled")
    assert none == []


async def test_roles_of_one_source_are_set_without_touching_the_others(conn: asyncpg.Connection) -> None:
    pid = f"t-{uuid.uuid4().hex[:8]}"
    manual = RoleGrant(RoleName.GRID_WORKER, "unit:610199004001001")
    from_token = RoleGrant(RoleName.DUTY_OFFICER, "unit:610199004")
    await store.add_person(conn, person_id=pid, name="单点", actor=ADMIN, source=Source.OIDC)
    await store.grant_role(conn, pid, manual, ADMIN)
    record = await store.set_roles(conn, pid, [from_token], "system", source=Source.OIDC)
    assert {(h.role, h.source) for h in record.held} == {("grid_worker", "manual"), ("duty_officer", "oidc")}
    record = await store.set_roles(conn, pid, [], ADMIN)  # the manual set only
    assert [(h.role, h.source) for h in record.held] == [("duty_officer", "oidc")]
    with pytest.raises(ValueError, match="registry_sync"):
        await store.set_roles(conn, pid, [], ADMIN, source=Source.REGISTRY)
