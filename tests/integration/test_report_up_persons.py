"""Report up (上报) by a signed-in person: the case's responsible person reports it up, a colleague of the same
unit who is not responsible for it is refused (`not_responsible`); the unit's system may report it up for it
(issue 16, item 6). Intake's checks, on the real database and broker."""

from __future__ import annotations

import httpx
import pytest

from tests.case_rows import insert_case
from tests.sign_in_fixtures import *  # noqa: F403
from tests.sign_in_fixtures import MICRO_GRID, SignInStack

pytestmark = pytest.mark.infra

KEYS = [MICRO_GRID, "unit:610199004001001", "unit:610199004001", "unit:610199004"]


def _type(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def test_the_responsible_person_reports_up_a_colleague_not_responsible_is_refused(stack: SignInStack) -> None:
    responsible, responsible_login = await stack.person(name="王小明", roles=[("grid_worker", MICRO_GRID)])
    _, colleague_login = await stack.person(name="李小红", roles=[("grid_worker", MICRO_GRID)])
    async with stack.pool.acquire() as conn:
        case_id = await insert_case(conn, lead=MICRO_GRID, lead_person=responsible, state="accepted", scope_keys=KEYS)
    url = f"/v1/cases/{case_id}/actions"
    body = {"action": "report_up", "text": "涉及违建，超出微网格处置能力", "actor": {"unit": MICRO_GRID}}

    colleague = await stack.signed(colleague_login)
    refused = await stack.http.post(url, json=body, headers=colleague.headers)
    assert refused.status_code == 403 and _type(refused) == "not_responsible", refused.text
    reporter = await stack.signed(responsible_login)
    accepted = await stack.http.post(url, json=body, headers=reporter.headers)
    assert accepted.status_code == 202, accepted.text
    system = await stack.key("read", "act", units=(MICRO_GRID,))
    for_it = {**body, "actor": {"id": "app-operator", "unit": MICRO_GRID}}
    assert (await stack.http.post(url, json=for_it, headers=system)).status_code == 202
