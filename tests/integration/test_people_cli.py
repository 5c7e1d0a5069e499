"""`griddispatch people add | list | show | disable | enable | set-password | roles` against the real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import asyncpg

from shared.people.passwords import verify
from shared.settings import PROJECT_ROOT, DatabaseSettings
from tests.cli import griddispatch

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
GRID = "unit:610199004001001"


def _stdin(*args: str, text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "griddispatch.cli", *args],
        input=text,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=240,
        check=False,
    )


async def test_add_roles_password_disable_and_the_audit(empty_database: DatabaseSettings) -> None:
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    imported = griddispatch("registry", "import", str(SAMPLE), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "people: 362 listed, 362 new" in imported.stdout

    added = griddispatch(
        "people", "add", "--name", "王芳", "--id", "wangfang", "--username", "WangFang", "--phone", "13912345678",
        "--role", f"grid_worker@{GRID}", "--json", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    body = json.loads(added.stdout)
    assert body["username"] == "wangfang" and body["phone"] == "139****5678" and body["source"] == "manual"
    assert body["roles"] == [{"role": "grid_worker", "unit": GRID, "source": "manual"}]

    again = griddispatch("people", "add", "--name", "又一个", "--id", "wangfang", env=env)
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr

    weak = _stdin("people", "set-password", "wangfang", "--password-stdin", text="short\n", env=env)
    assert weak.returncode == 2 and "at least 10 characters" in weak.stderr
    done = _stdin("people", "set-password", "wangfang", "--password-stdin", text="violet-Harbour-42\n", env=env)
    assert done.returncode == 0, done.stderr
    assert "violet-Harbour-42" not in done.stdout + done.stderr

    changed = griddispatch(
        "people", "roles", "wangfang", "--grant", f"grid_head@{GRID}", "--revoke", f"grid_worker@{GRID}", "--json",
        env=env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert [r["role"] for r in json.loads(changed.stdout)["roles"]] == ["grid_head"]
    unknown = griddispatch("people", "roles", "wangfang", "--grant", "grid_head@unit:999", env=env)
    assert unknown.returncode == 2 and "has no unit:999" in unknown.stderr
    bad_role = griddispatch("people", "roles", "wangfang", "--grant", f"mayor@{GRID}", env=env)
    assert bad_role.returncode == 2 and "unknown role 'mayor'" in bad_role.stderr

    assert griddispatch("people", "disable", "wangfang", env=env).returncode == 0
    listed = json.loads(griddispatch("people", "list", "--status", "disabled", "--json", env=env).stdout)
    assert [p["id"] for p in listed["items"]] == ["wangfang"] and listed["items"][0]["phone"] == "139****5678"
    assert griddispatch("people", "enable", "wangfang", env=env).returncode == 0

    shown = json.loads(griddispatch("people", "show", "wangfang", "--json", "--unmasked", env=env).stdout)
    assert shown["phone"] == "13912345678" and shown["has_password"] is True
    events = [a["event"] for a in shown["audit"]]
    assert events == ["enabled", "disabled", "role_granted", "role_revoked", "password_set", "role_granted", "created"]
    assert {a["actor"] for a in shown["audit"]} == {f"cli:{_os_user()}"}

    conn = await asyncpg.connect(empty_database.url)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM persons WHERE id = 'wangfang'")
        assert verify(stored, "violet-Harbour-42")
        audit = str(await conn.fetch("SELECT * FROM people_audit"))
        assert "violet" not in audit and "argon2" not in audit
    finally:
        await conn.close()


def test_list_pages_and_masks_the_registry_people(empty_database: DatabaseSettings) -> None:
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    assert griddispatch("registry", "import", str(SAMPLE), env=env).returncode == 0
    page = griddispatch("people", "list", "--role", "grid_head", "--limit", "5", env=env)
    assert page.returncode == 0, page.stderr
    lines = page.stdout.splitlines()
    assert len(lines) == 6 and lines[-1].startswith("(more: --after ")
    assert all("****" in line and "grid_head@unit:" in line for line in lines[:5])
    nobody = griddispatch("people", "show", "no-such-person", env=env)
    assert nobody.returncode == 2 and "no person 'no-such-person'" in nobody.stderr
    bad = griddispatch("people", "list", "--role", "mayor", env=env)
    assert bad.returncode == 2 and "--role 'mayor'" in bad.stderr


def _os_user() -> str:
    from shared.people.fields import cli_actor

    return cli_actor().removeprefix("cli:")


def test_activating_another_version_switches_the_registry_roles(
    empty_database: DatabaseSettings, tmp_path: Any
) -> None:
    from shared.registry_files.generate import DistrictSpec, build_district, generate

    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    first = griddispatch("registry", "import", str(SAMPLE), env=env)
    assert first.returncode == 0, first.stderr
    sample_version = first.stdout.split()[2]
    spec = DistrictSpec(streets=1, communities=1, grids=1, micro_grids=2, district_code="5101")
    other, n = generate(tmp_path / "other", spec), sum(len(u.people) for u in build_district(spec).units)
    second = griddispatch("registry", "import", str(other), env=env)
    assert second.returncode == 0, second.stderr
    assert f"people: {n} listed, {n} new, 0 updated, {n} roles granted, 362 revoked" in second.stdout

    back = griddispatch("registry", "activate", sample_version, env=env)
    assert back.returncode == 0, back.stderr
    assert back.stdout.splitlines() == [
        f"active: {sample_version}",
        f"  people: 362 listed, 0 new, 0 updated, 362 roles granted, {n} revoked",
    ]
    grid_heads = json.loads(
        griddispatch("people", "list", "--role", "grid_head", "--limit", "1000", "--json", env=env).stdout
    )
    assert len(grid_heads["items"]) == 48
