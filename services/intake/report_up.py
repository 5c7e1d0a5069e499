"""Intake's checks of report-up (上报): the lead reports a case up (`report_up`, its responsible person or its
system, with a reason), the rung it was reported to or a unit above it decides (`decide_report_up`: take, assign a
branch or department, send back with an instruction). Dispatch decides again on the case as it stands then
(shared/domain/case/report_up_commands.py); these answer at once what the case row and its deadlines show.
"""

from __future__ import annotations

import uuid

import asyncpg

from services.intake.act import unit_chain
from services.intake.schemas import ActionIn
from services.intake.supervise import district_units, rung_above
from shared.api_clients import ApiClient, Scope
from shared.domain.case.persons import NotResponsible
from shared.domain.case.report_up_commands import NoReportUp, NotTheRung, NowhereToReport, ReportUpPending
from shared.domain.lifecycle import DueKind
from shared.errors import Forbidden, InvalidInput
from shared.queries import deadlines

ACTIONS = frozenset({"report_up", "decide_report_up"})


async def pending_rung(conn: asyncpg.Connection, case_id: uuid.UUID) -> str | None:
    """The rung the case's pending report-up waits for (the party of its open decide-by), if any."""
    rows = await deadlines.open_of_kind(conn, case_id, DueKind.REPORT_UP_DECISION.value)
    return str(rows[0]["party"]) if rows else None


async def deciding_units(conn: asyncpg.Connection, rung: str, scope_keys: list[str]) -> frozenset[str]:
    """`rung` and every unit above it (a department's: the district command centre of the case's place)."""
    if rung.startswith("department:"):
        return frozenset({rung, *await district_units(conn, scope_keys)})
    return await unit_chain(conn, rung)


async def check(conn: asyncpg.Connection, client: ApiClient, body: ActionIn, row: asyncpg.Record | None) -> None:
    """Refuse at once what the case row shows is not this client's to do (nothing for the other actions)."""
    if row is None or body.action not in ACTIONS or row["lead"] is None:
        return
    lead, rung = row["lead"], await pending_rung(conn, row["case_id"])
    if body.action == "report_up":
        if body.actor.unit != lead:
            raise NotTheRung(f"only the lead {lead} reports this case up, not {body.actor.unit}", field="actor.unit")
        person = client.person
        if person is not None and row["lead_person"] and person.id != row["lead_person"]:
            raise NotResponsible(
                f"only the case's responsible person ({row['lead_person']}) or the unit's system reports it up"
            )
        if rung is not None:
            raise ReportUpPending(f"this case is reported up to {rung} already and waits for the decision")
        if await rung_above(conn, lead) == lead:
            raise NowhereToReport(f"{lead} is the top of the ladder: there is no rung to report to")
        return
    if not client.has(Scope.SUPERVISE):
        raise Forbidden("decide_report_up needs the supervise scope (a supervising level's key)", scope="supervise")
    if body.actor.unit is None:
        raise InvalidInput("decide_report_up: name the unit you decide for", field="actor.unit")
    if rung is None:
        raise NoReportUp("this case has no report-up waiting for a decision")
    if body.actor.unit not in await deciding_units(conn, rung, list(row["scope_keys"])):
        raise NotTheRung(
            f"{body.actor.unit} is not {rung}, the rung the report-up waits for, nor a unit above it",
            field="actor.unit",
        )
