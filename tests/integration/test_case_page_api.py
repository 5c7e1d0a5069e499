"""What the console's case page reads from GET /v1/cases/{id}: the registry's names of the codes the case mentions
and the actions its state allows each role, on the real database."""

from __future__ import annotations

from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest


async def test_a_case_names_its_units_and_lists_the_actions_its_state_allows(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, assisting=["unit:610199004", "department:gas"], state="accepted")
        expected = {
            f"unit:{r['code']}": r["name"]
            for r in await conn.fetch(
                "SELECT code, name FROM registry_units WHERE version_id = (SELECT version_id FROM registry_active)"
                " AND code = ANY($1)",
                ["610199004001", "610199004", "610199004001001006"],
            )
        }
        gas = await conn.fetchval(
            "SELECT name FROM registry_departments WHERE version_id = (SELECT version_id FROM registry_active)"
            " AND code = 'gas'"
        )
    reader = await intake.caller("read")
    body = (await intake.http.get(f"/v1/cases/{case_id}", headers=reader.headers)).json()
    assert len(expected) == 3 and gas
    assert {k: body["names"][k] for k in expected} == expected  # lead, assisting street, the place (trace)
    assert body["names"]["department:gas"] == gas
    allowed = body["allowed_actions"]
    assert "resolve" in allowed["assignee"] and "accept" not in allowed["assignee"]
    assert {"summon", "redispatch", "cancel"} <= set(allowed["supervisor"])


async def test_a_merged_case_allows_nothing(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:
        case_id = await insert_case(conn, state="merged")
    reader = await intake.caller("read")
    body = (await intake.http.get(f"/v1/cases/{case_id}", headers=reader.headers)).json()
    assert body["allowed_actions"] == {"assignee": [], "assisting": [], "supervisor": []}
