"""Statistics and the monthly report on the real database: a February of cases with known stories."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.case_rows import append_events, insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra

TZ = ZoneInfo("Asia/Shanghai")
STREET = "610199002"
WENJING, YUANDONG = "610199002001", "610199002002"  # communities of the street
IN_WENJING, IN_YUANDONG = "610199002001001001", "610199002002001001"  # a micro-grid in each
SEEN = [f"unit:{STREET}", "unit:610199"]
FEB = datetime(2024, 2, 10, 9, 0, tzinfo=TZ)


async def _deadline(conn: asyncpg.Connection, case_id: uuid.UUID, kind: str, *, late: bool | None) -> None:
    """met in time (late=False), met late (late=True), or still open past its due time (late=None)."""
    due = FEB + timedelta(hours=2)
    closed = None if late is None else due + (timedelta(hours=1) if late else -timedelta(hours=1))
    await conn.execute(
        """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at, status, closed_at)
           VALUES ($1, $2, $3, 'unit:x', $4, $5, $5, $6, $7)""",
        uuid.uuid4(),
        case_id,
        kind,
        FEB,
        due,
        "open" if late is None else "met",
        closed,
    )


@pytest.fixture(scope="module")
async def february(intake: IntakeUnderTest) -> None:
    async with intake.pool.acquire() as conn:

        async def case(place: str, **fields: Any) -> uuid.UUID:
            base = {"place": place, "received_at": FEB, "scope_keys": SEEN, "state": "closed"}
            return await insert_case(conn, **{**base, **fields})

        a = await case(IN_WENJING, lead="department:police")
        await _deadline(conn, a, "accept", late=False)
        await _deadline(conn, a, "resolve", late=False)
        await append_events(conn, a, "rate_satisfied")
        b = await case(IN_WENJING)
        await _deadline(conn, b, "accept", late=True)
        await append_events(conn, b, "return", "escalate", "rate_unsatisfied", "rate_satisfied")
        await conn.execute(  # rated again, 基本满意: satisfied, and counted as such
            """UPDATE case_events SET detail = '{"level": "basically_satisfied"}'
               WHERE case_id = $1 AND action = 'rate_satisfied'""",
            b,
        )
        await case(IN_WENJING, received_at=datetime(2024, 2, 1, 0, 10, tzinfo=TZ))  # Jan 31 in UTC: February here
        c = await case(IN_YUANDONG, lead="branch:city_management-610199002", state="assigned")
        await _deadline(conn, c, "accept", late=None)
        await case(IN_WENJING, state="merged")  # a duplicate, not a case of its own
        await case(IN_WENJING, received_at=datetime(2024, 3, 1, 0, 30, tzinfo=TZ))  # still Feb in UTC: March here
        await case("610199001001001001", scope_keys=["unit:610199001", "unit:610199"])  # another street
        await case(IN_WENJING, scope_keys=["department:gas"])  # not the street's to see


def _rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["unit"]: r for r in body["rows"]}


async def test_stats_per_community_of_a_street_for_february(intake: IntakeUnderTest, february: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    window = {"from": "2024-02-01T00:00:00+08:00", "to": "2024-03-01T00:00:00+08:00"}
    response = await intake.http.get("/v1/stats", params=window, headers=centre.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by"] == "community" and body["units"] == [STREET]
    rows = _rows(body)
    assert list(rows) == [WENJING, YUANDONG, "610199002003", "610199002004"]  # every community, quiet ones too
    assert rows[WENJING] == {
        "unit": WENJING,
        "name": "文景社区",
        "received": 3,
        "accepted_in_time": 1,
        "resolved_in_time": 1,
        "overdue": 1,
        "escalated": 1,
        "returned": 1,
        "rated": 3,
        "satisfied": 2,
        "basically_satisfied": 1,
        "satisfaction_rate": 0.6667,
        "accepted_in_time_rate": 0.3333,
        "resolved_in_time_rate": 0.3333,
    }
    assert (rows[YUANDONG]["received"], rows[YUANDONG]["overdue"]) == (1, 1)
    assert rows["610199002003"]["received"] == 0 and rows["610199002003"]["satisfaction_rate"] is None
    totals = body["totals"]
    assert (totals["received"], totals["overdue"], totals["rated"], totals["satisfied"]) == (4, 2, 3, 2)

    everyone = await intake.caller("read", units=("*",))
    wide = (await intake.http.get("/v1/stats", params={**window, "unit": STREET}, headers=everyone.headers)).json()
    assert _rows(wide)[WENJING]["received"] == 4  # the gas department's case too


async def test_stats_by_grid_and_by_department(intake: IntakeUnderTest, february: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    window = {"from": "2024-02-01T00:00:00+08:00", "to": "2024-03-01T00:00:00+08:00"}
    grids = (await intake.http.get("/v1/stats", params={**window, "by": "grid"}, headers=centre.headers)).json()
    assert _rows(grids)["610199002001001"]["received"] == 3 and len(grids["rows"]) == 12
    departments = (
        await intake.http.get("/v1/stats", params={**window, "by": "department"}, headers=centre.headers)
    ).json()
    rows = _rows(departments)
    assert rows["police"]["received"] == 1 and rows["police"]["resolved_in_time"] == 1
    assert rows["city_management"]["received"] == 1 and rows["city_management"]["overdue"] == 1  # through its branch
    assert departments["totals"]["received"] == 2  # the cases led by a department


async def test_stats_refuse_what_they_cannot_answer(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    outside = await intake.http.get("/v1/stats", params={"unit": "610199001"}, headers=centre.headers)
    assert outside.status_code == 404 and outside.json()["field"] == "unit"
    coarse = await intake.http.get("/v1/stats", params={"unit": WENJING, "by": "street"}, headers=centre.headers)
    assert coarse.status_code == 422 and coarse.json()["field"] == "by"
    backwards = {"from": "2024-03-01T00:00:00+08:00", "to": "2024-02-01T00:00:00+08:00"}
    assert (await intake.http.get("/v1/stats", params=backwards, headers=centre.headers)).json()["field"] == "from"
    naive = await intake.http.get("/v1/stats", params={"from": "2024-02-01T00:00:00"}, headers=centre.headers)
    assert naive.status_code == 422 and naive.json()["field"] == "from"
    bad_month = await intake.http.get("/v1/stats/monthly.csv", params={"month": "2024-13"}, headers=centre.headers)
    assert bad_month.status_code == 422 and bad_month.json()["field"] == "month"
    for month in ("0000-01", "9999-12"):
        far = await intake.http.get("/v1/stats/monthly.csv", params={"month": month}, headers=centre.headers)
        assert far.status_code == 422 and far.json()["field"] == "month", month


async def test_monthly_report_downloads_as_a_chinese_csv_excel_opens(intake: IntakeUnderTest, february: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    response = await intake.http.get("/v1/stats/monthly.csv", params={"month": "2024-02"}, headers=centre.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="griddispatch-monthly-610199002-2024-02.csv"')
    assert "filename*=UTF-8''" in disposition
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["单位编码", "单位名称", "受理量"]
    assert {"按时签收率", "按时办结率", "超期", "上报/升级", "退回", "满意率"} <= set(lines[0])
    by_code = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert by_code[WENJING]["受理量"] == "3" and by_code[WENJING]["满意率"] == "66.7%"
    assert by_code[WENJING]["按时签收率"] == "33.3%" and by_code[WENJING]["超期"] == "1"
    assert by_code[""]["单位名称"] == "合计" and by_code[""]["受理量"] == "4"
    march = await intake.http.get("/v1/stats/monthly.csv", params={"month": "2024-03"}, headers=centre.headers)
    march_lines = list(csv.reader(io.StringIO(march.content.decode("utf-8-sig"))))
    assert march_lines[-1][2] == "1"  # the case received just after midnight on 1 March, district time


async def test_every_figure_opens_the_cases_behind_it(intake: IntakeUnderTest, february: None) -> None:
    """The console links each number to GET /v1/cases?place=&from=&to=&fact=: the list holds exactly as many."""
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    window = {"from": "2024-02-01T00:00:00+08:00", "to": "2024-03-01T00:00:00+08:00"}
    rows = _rows((await intake.http.get("/v1/stats", params=window, headers=centre.headers)).json())
    counted = ("received", "accepted_in_time", "resolved_in_time", "overdue", "escalated", "returned")
    for unit in (WENJING, YUANDONG):
        for fact in counted:
            params = {**window, "place": f"unit:{unit}", "fact": fact, "limit": "200"}
            listed = await intake.http.get("/v1/cases", params=params, headers=centre.headers)
            assert listed.status_code == 200, listed.text
            assert len(listed.json()["items"]) == rows[unit][fact], (unit, fact)
    # rated and satisfied count ratings (a case rated twice counts twice); the list has the cases rated
    rated = await intake.http.get(
        "/v1/cases",
        params={**window, "place": f"unit:{WENJING}", "fact": ["rated", "satisfied"]},
        headers=centre.headers,
    )
    assert len(rated.json()["items"]) == 2 and rows[WENJING]["satisfied"] == 2
    bad = await intake.http.get("/v1/cases", params={"fact": "popular"}, headers=centre.headers)
    assert bad.status_code == 422
