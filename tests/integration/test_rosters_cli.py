"""`griddispatch rosters show | set | swap` against the real database, as an administrator would run them."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from shared.db import migrate
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings
from tests.cli import griddispatch

COMMUNITY = "unit:610199004001"


async def _district(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await import_directory(conn, PROJECT_ROOT / "data" / "sample-district", imported_by="tests")
        for person in ("day-1", "night-1", "spare-1"):
            await conn.execute("INSERT INTO persons (id, name) VALUES ($1, $1)", person)
            await conn.execute(
                "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, 'duty_officer', $2, 't')",
                person,
                COMMUNITY,
            )
    finally:
        await conn.close()


async def test_set_show_and_swap(empty_database: DatabaseSettings, tmp_path: Path) -> None:
    await _district(empty_database.url)
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "shifts:\n"
        "  - {name: day, start: '08:00', end: '20:00', days: every, persons: [day-1]}\n"
        "  - {name: night, start: '20:00', end: '08:00', persons: [night-1]}\n",
        encoding="utf-8",
    )
    done = griddispatch("rosters", "set", COMMUNITY, str(roster), "--by", "admin-7", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert [s["persons"] for s in json.loads(done.stdout)["shifts"]] == [["day-1"], ["night-1"]]

    swapped = griddispatch(
        "rosters", "swap", COMMUNITY, "--replaced", "night-1", "--with", "spare-1", "--first", "2026-03-04",
        "--reason", "病假", "--json", env=env,
    )  # fmt: skip
    assert swapped.returncode == 0, swapped.stderr
    assert json.loads(swapped.stdout)["swaps"][0] == {
        "first": "2026-03-04", "last": "2026-03-04", "replaced": "night-1", "by": "spare-1", "reason": "病假",
    }  # fmt: skip

    shown = griddispatch("rosters", "show", COMMUNITY, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert len(body["shifts"]) == 2 and len(body["swaps"]) == 1
    assert len(body["on_duty_now"]) == 1 and body["on_duty_now"][0] in ("day-1", "night-1")
    text = griddispatch("rosters", "show", COMMUNITY, env=env)
    assert "20:00-08:00" in text.stdout and "night-1 -> spare-1" in text.stdout

    conn = await asyncpg.connect(empty_database.url)
    try:
        assert await conn.fetchval("SELECT DISTINCT updated_by FROM roster_shifts WHERE unit = $1", COMMUNITY) == (
            "admin-7"
        )
    finally:
        await conn.close()


async def test_bad_input_is_one_line_and_exit_2(empty_database: DatabaseSettings, tmp_path: Path) -> None:
    await _district(empty_database.url)
    env = {"GRIDDISPATCH_DB_URL": empty_database.url}
    bad = tmp_path / "bad.yaml"
    bad.write_text("shifts:\n  - {start: '08:00', end: '20:00', persons: [stranger]}\n", encoding="utf-8")
    cases = [
        (("rosters", "set", COMMUNITY, str(bad)), "no person stranger"),
        (("rosters", "set", "unit:999", str(bad)), "no unit"),
        (("rosters", "set", COMMUNITY, str(tmp_path / "missing.yaml")), "cannot read"),
        (("rosters", "show", "nonsense"), "is not a unit"),
        (("rosters", "swap", COMMUNITY, "--replaced", "day-1", "--with", "day-1", "--first", "2026-03-04"), "themself"),
    ]
    for args, says in cases:
        result = griddispatch(*args, env=env)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
