"""Assessment (考核) on the real database: a quarter of cases with known stories, checked against direct SQL."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.intake.assessment_queries import figures
from shared.db import migrate
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_store import import_directory
from shared.settings import DatabaseSettings
from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra

TZ = ZoneInfo("Asia/Shanghai")
STREET = "610199002"
COMMUNITY_1, COMMUNITY_2 = "610199002001", "610199002002"
G1, G2 = "610199002001001", "610199002002001"  # a grid in each community
PLACE_1, PLACE_2 = f"{G1}001", f"{G2}001"
SEEN = [f"unit:{G1}", f"unit:{COMMUNITY_1}", f"unit:{STREET}", "unit:610199"]
APRIL = datetime(2025, 4, 10, 9, 0, tzinfo=TZ)
RESIDENT = {"id": "resident", "role": "resident"}


def worker(person: str, grid: str) -> dict[str, str]:
    return {"id": person, "role": "assignee", "unit": f"unit:{grid}"}


class Story:
    """One case's history written as dispatch records it: events in order, deadlines with their parties."""

    def __init__(self, conn: asyncpg.Connection, case_id: uuid.UUID, at: datetime) -> None:
        self.conn, self.case_id, self.seq, self.at = conn, case_id, 1, at

    async def event(
        self, action: str, actor: dict[str, str], hours: float, detail: dict[str, Any] | None = None
    ) -> None:
        self.seq += 1
        await self.conn.execute(
            """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail, at)
               VALUES ($1, $2, $3, $4, 'x', 'x', $5::jsonb, $6::jsonb, $7)""",
            self.case_id,
            self.seq,
            str(uuid.uuid4()),
            action,
            json.dumps(actor),
            json.dumps(detail or {}),
            self.at + timedelta(hours=hours),
        )

    async def deadline(
        self, kind: str, party: str, start: float, due: float, closed: float | None, status: str = "met"
    ) -> None:
        """Hours after the case's start; closed None: still open."""
        await self.conn.execute(
            """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, next_fire_at, status,
                                      closed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)""",
            uuid.uuid4(),
            self.case_id,
            kind,
            party,
            self.at + timedelta(hours=start),
            self.at + timedelta(hours=due),
            "open" if closed is None else status,
            None if closed is None else self.at + timedelta(hours=closed),
        )


async def story(conn: asyncpg.Connection, place: str, at: datetime, **fields: Any) -> Story:
    base = {"place": place, "received_at": at, "scope_keys": SEEN, "state": "closed", "lead": f"unit:{place[:-3]}"}
    return Story(conn, await insert_case(conn, **{**base, **fields}), at)


@pytest.fixture(scope="module")
async def quarter(intake: IntakeUnderTest) -> None:
    """Q2 2025 in the street: April, May and June cases in both communities, and some that must not count."""
    async with intake.pool.acquire() as conn:
        for person, name, role, unit in (("p-wang", "王网格", "grid_worker", G1), ("p-zhao", "赵网格", "grid_worker", G2),
                                         ("p-li", "李组长", "grid_head", G1)):  # fmt: skip
            await conn.execute("INSERT INTO persons (id, name) VALUES ($1, $2)", person, name)
            await conn.execute(
                "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, $2, $3, 'tests')",
                person,
                role,
                f"unit:{unit}",
            )
        # A: accepted and resolved in time by p-wang, rated satisfied
        a = await story(conn, PLACE_1, APRIL)
        await a.deadline("accept", f"unit:{G1}", 0, 2, 1)
        await a.deadline("resolve", f"unit:{G1}", 0, 24, 6)
        await a.event("accept", worker("p-wang", G1), 1)
        await a.event("resolve", worker("p-wang", G1), 6)
        await a.event("rate_satisfied", RESIDENT, 8)
        # B: accepted late by p-li, urged, then escalated away from the grid to its community (open, past due)
        b = await story(conn, PLACE_1, APRIL + timedelta(days=1))
        await b.deadline("accept", f"unit:{G1}", 0, 2, 3)
        await b.deadline("resolve", f"unit:{G1}", 0, 24, 30, status="void")
        await b.event("accept", worker("p-li", G1), 3)
        await b.event("comment", {"id": "duty-1", "role": "supervisor", "unit": f"unit:{STREET}"}, 10,
                      {"reason_code": "urge", "text": "请尽快处理"})  # fmt: skip
        await b.event("comment", {"id": "duty-1", "role": "supervisor"}, 11, {"text": "只是备注"})
        await b.event("escalate", {"id": "dispatch", "role": "system"}, 30, {"from": f"unit:{G1}"})
        await b.deadline("accept", f"unit:{COMMUNITY_1}", 30, 32, None)
        # C: returned by p-zhao of G2, re-dispatched by hand back to G2 (a wrong return), accepted in time
        c = await story(conn, PLACE_2, datetime(2025, 5, 5, 9, 0, tzinfo=TZ), scope_keys=[f"unit:{STREET}"])
        await c.deadline("accept", f"unit:{G2}", 0, 2, 0.5, status="void")
        await c.event("return", worker("p-zhao", G2), 0.5, {"reason_code": "not_ours", "text": "不属于本网格"})
        await c.event("assign", {"id": "duty-1", "role": "supervisor"}, 1, {"to": f"unit:{G2}", "by_hand": True})
        await c.deadline("accept", f"unit:{G2}", 1, 3, 2)
        await c.event("accept", worker("p-zhao", G2), 2)
        # D: returned by G2 and rightly so (routed elsewhere), in June; rated unsatisfied after p-wang resolved
        d = await story(conn, PLACE_2, datetime(2025, 6, 30, 23, 30, tzinfo=TZ), scope_keys=[f"unit:{STREET}"])
        await d.deadline("accept", f"unit:{G2}", 0, 2, 0.2, status="void")
        await d.event("return", worker("p-zhao", G2), 0.2, {"reason_code": "not_ours", "text": "不属于本网格"})
        await d.event("assign", {"id": "dispatch", "role": "system"}, 0.3, {"lead": f"unit:{G1}"})
        await d.deadline("accept", f"unit:{G1}", 0.3, 2.3, 1)
        await d.event("accept", worker("p-wang", G1), 1)
        await d.deadline("resolve", f"unit:{G1}", 0.3, 24, 20)
        await d.event("resolve", worker("p-wang", G1), 20)
        await d.event("rate_unsatisfied", RESIDENT, 22)
        # E, in August: routing named p-li responsible, the grid's head reassigned it to p-zhao; nobody acted yet
        e = await story(conn, PLACE_1, datetime(2025, 8, 4, 9, 0, tzinfo=TZ), state="assigned", lead_person="p-zhao")
        await e.deadline("accept", f"unit:{G1}", 0, 2, None)
        await e.event("assign", {"id": "dispatch", "role": "system"}, 0, {"lead": f"unit:{G1}", "responsible": "p-li"})
        await e.event("reassign", {"id": "head-1", "role": "assignee", "unit": f"unit:{G1}"}, 0.5,
                      {"party": f"unit:{G1}", "person": "p-zhao", "from": "p-li"})  # fmt: skip
        # not counted: a merged duplicate, a case the street may not see, one of July (district time)
        for at, extra in (
            (APRIL, {"state": "merged"}),
            (APRIL, {"scope_keys": ["department:gas"]}),
            (datetime(2025, 7, 1, 0, 30, tzinfo=TZ), {}),
        ):
            other = await story(conn, PLACE_1, at, **extra)
            await other.deadline("accept", f"unit:{G1}", 0, 2, 1)
            await other.event("accept", worker("p-wang", G1), 1)


async def get(intake: IntakeUnderTest, path: str, key: dict[str, str], **params: str) -> Any:
    response = await intake.http.get(path, params=params, headers=key)
    assert response.status_code == 200, response.text
    return response


def by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in body["rows"]}


async def direct(intake: IntakeUnderTest, sql: str, *args: Any) -> int:
    """A figure counted straight over the tables (not through the assessment's query)."""
    return int(await intake.pool.fetchval(sql, *args))


async def test_grid_figures_match_the_stories_and_the_tables(intake: IntakeUnderTest, quarter: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    body = (await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="grid")).json()
    assert body["period"] == "2025-Q2" and body["level"] == "grid" and body["units"] == [STREET]
    rows = by_code(body)
    g1 = rows[G1]
    assert {k: g1[k] for k in ("received", "accepted_on_time", "resolved_on_time", "overdue", "escalated")} == {
        "received": 3,  # A, B, D (not the merged, the invisible or July's)
        "accepted_on_time": 2,  # A, D
        "resolved_on_time": 2,  # A, D
        "overdue": 1,  # B: its accept-by met late, its resolve-by voided after its due time (one case)
        "escalated": 1,  # B
    }
    assert (g1["urged"], g1["rated"], g1["satisfied"], g1["satisfaction_rate"]) == (1, 2, 1, 0.5)
    assert g1["avg_accept_hours"] == round((1 + 3 + 0.7) / 3, 2)
    g2 = rows[G2]
    assert (g2["received"], g2["returned"], g2["wrongly_returned"], g2["accepted_on_time"]) == (2, 2, 1, 1)

    # the same figures counted straight over the tables
    start, end = datetime(2025, 4, 1, tzinfo=TZ), datetime(2025, 7, 1, tzinfo=TZ)
    cohort = """SELECT case_id FROM cases WHERE received_at >= $1 AND received_at < $2 AND state <> 'merged'
                AND scope_keys && ARRAY['unit:610199002']"""
    received = await direct(
        intake,
        f"SELECT count(DISTINCT case_id) FROM deadlines WHERE party = $3 AND kind = 'accept' AND case_id IN ({cohort})",
        start,
        end,
        f"unit:{G1}",
    )
    in_time = await direct(
        intake,
        f"""SELECT count(DISTINCT case_id) FROM deadlines WHERE party = $3 AND kind = 'resolve' AND status = 'met'
            AND closed_at <= due_at AND case_id IN ({cohort})""",
        start,
        end,
        f"unit:{G1}",
    )
    returns = await direct(
        intake,
        f"""SELECT count(*) FROM case_events WHERE action = 'return' AND actor->>'unit' = $3
            AND case_id IN ({cohort})""",
        start,
        end,
        f"unit:{G2}",
    )
    assert (g1["received"], g1["resolved_on_time"], g2["returned"]) == (received, in_time, returns)

    # a community adds up its grids, the street its communities
    communities = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-Q2")).json())
    assert communities[COMMUNITY_1]["received"] == 3 and communities[COMMUNITY_1]["overdue"] == 1  # B once
    assert communities[COMMUNITY_2]["wrongly_returned"] == 1
    assert body["weights"]["resolved_on_time"] == 0.4  # the defaults while nobody has changed them


async def test_a_quarter_counts_what_its_months_count(intake: IntakeUnderTest, quarter: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    counts = ("received", "accepted_on_time", "resolved_on_time", "overdue", "escalated", "returned",
              "wrongly_returned", "urged", "rated", "satisfied")  # fmt: skip
    for level in ("grid", "community", "person"):
        whole = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level=level)).json())
        months: dict[str, dict[str, int]] = {}
        for month in ("2025-04", "2025-05", "2025-06"):
            part = (await get(intake, "/v1/assessment", centre.headers, period=month, level=level)).json()
            for row in part["rows"]:
                sums = months.setdefault(row["code"], dict.fromkeys(counts, 0))
                for name in counts:
                    sums[name] += row[name]
        for code, row in whole.items():
            assert {n: row[n] for n in counts} == months.get(code, dict.fromkeys(counts, 0)), (level, code)
    june = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-06", level="grid")).json())
    assert june[G2]["received"] == 1  # D, received at 23:30 on 30 June district time (15:30 UTC)


async def test_persons_are_assessed_by_what_they_did(intake: IntakeUnderTest, quarter: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    body = (await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="person")).json()
    rows = by_code(body)
    assert set(rows) == {"p-wang", "p-li", "p-zhao"}
    wang, li, zhao = rows["p-wang"], rows["p-li"], rows["p-zhao"]
    assert (wang["received"], wang["accepted_on_time"], wang["resolved_on_time"]) == (2, 2, 2)
    assert (wang["rated"], wang["satisfied"], wang["units"]) == (2, 1, [f"unit:{G1}"])
    assert (li["received"], li["accepted_on_time"], li["overdue"], li["escalated"], li["urged"]) == (1, 0, 1, 1, 1)
    assert (zhao["returned"], zhao["wrongly_returned"], zhao["received"]) == (2, 1, 1)
    assert wang["rank"] == 1 and li["score"] < wang["score"]
    accepted = await direct(
        intake,
        """SELECT count(DISTINCT e.case_id) FROM case_events e JOIN cases c USING (case_id)
           WHERE e.action IN ('accept', 'resolve') AND e.actor->>'id' = 'p-wang' AND c.state <> 'merged'
             AND c.received_at >= $1 AND c.received_at < $2 AND c.scope_keys && ARRAY['unit:610199002']""",
        datetime(2025, 4, 1, tzinfo=TZ),
        datetime(2025, 7, 1, tzinfo=TZ),
    )
    assert wang["received"] == accepted
    assert wang["name"] == "王网格"  # from persons

    workers = (await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="person",
                         role="grid_worker")).json()  # fmt: skip
    assert [r["code"] for r in workers["rows"]] == ["p-wang", "p-zhao"]  # the 网格员 ranking: not the grid head
    report = await get(intake, "/v1/assessment/report", centre.headers, period="2025-Q2", level="person",
                       role="grid_worker")  # fmt: skip
    assert "网格员考核排名" in report.text and "赵网格" in report.text
    wrong = await intake.http.get("/v1/assessment", params={"level": "grid", "role": "grid_worker"},
                                  headers=centre.headers)  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["field"] == "role"


async def test_persons_named_responsible_have_received_the_case(intake: IntakeUnderTest, quarter: None) -> None:
    """派单到人: whoever was named responsible (by routing, a claim, a hand-over, a reassignment) received it."""
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    rows = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-08", level="person")).json())
    assert {code: (r["received"], r["accepted_on_time"], r["units"]) for code, r in rows.items()} == {
        "p-li": (1, 0, [f"unit:{G1}"]),
        "p-zhao": (1, 0, [f"unit:{G1}"]),
    }
    now_responsible = await direct(
        intake,
        """SELECT count(*) FROM cases WHERE lead_person = 'p-zhao' AND state <> 'merged'
           AND received_at >= $1 AND received_at < $2""",
        datetime(2025, 8, 1, tzinfo=TZ),
        datetime(2025, 9, 1, tzinfo=TZ),
    )
    assert rows["p-zhao"]["received"] == now_responsible


async def test_the_report_as_csv_matches_the_json_and_prints(intake: IntakeUnderTest, quarter: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    body = (await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="grid")).json()
    response = await get(intake, "/v1/assessment.csv", centre.headers, period="2025-Q2", level="grid")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert 'filename="griddispatch-assessment-610199002-grid-2025-Q2.csv"' in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [line["编码"] for line in lines] == [r["code"] for r in body["rows"]]  # best first, as ranked
    for line, row in zip(lines, body["rows"], strict=True):
        assert line["受理量"] == str(row["received"]) and line["错误退单"] == str(row["wrongly_returned"])
        assert line["排名"] == ("" if row["rank"] is None else str(row["rank"]))
        assert line["得分"] == ("" if row["score"] is None else f"{row['score']:.2f}")
    assert next(line for line in lines if line["编码"] == G1)["满意率"] == "50.0%"

    page = await get(intake, "/v1/assessment/report", centre.headers, period="2025-Q2", level="grid")
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "2025-Q2 网格考核排名" in html and "@page { size: A4" in html
    for heading in (
        "排名",
        "得分",
        "受理量",
        "按时签收率",
        "按时办结率",
        "超时",
        "错误退单",
        "催办",
        "满意率",
        "评分权重",
    ):
        assert heading in html, heading
    assert "权重为系统默认值" in html and "<script" not in html


async def test_bad_periods_levels_and_areas_are_refused(intake: IntakeUnderTest) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    for path in ("/v1/assessment", "/v1/assessment.csv", "/v1/assessment/report"):
        for period in ("2025-13", "2025-Q5", "2025/04", "0000-01", "Q2-2025", "x" * 17):
            response = await intake.http.get(path, params={"period": period}, headers=centre.headers)
            assert response.status_code == 422, (path, period, response.text)
            problem = response.json()
            assert problem["field"] == "period", problem
            if len(period) <= 16:
                assert problem["type"].endswith("/bad_period"), problem
    coarse = await intake.http.get(
        "/v1/assessment", params={"unit": COMMUNITY_1, "level": "street"}, headers=centre.headers
    )
    assert coarse.status_code == 422 and coarse.json()["field"] == "level"
    outside = await intake.http.get("/v1/assessment", params={"unit": "610199001"}, headers=centre.headers)
    assert outside.status_code == 404 and outside.json()["field"] == "unit"
    nobody = await intake.http.get("/v1/assessment", params={"period": "2025-04"})
    assert nobody.status_code == 401


async def test_weights_change_the_ranking_and_every_change_is_kept(intake: IntakeUnderTest, quarter: None) -> None:
    centre = await intake.caller("read", units=(f"unit:{STREET}",))
    admin = await intake.caller("read", "admin", name="district admin")
    refused = await intake.http.put("/v1/assessment/weights", json={"weights": {"urged": 1}}, headers=centre.headers)
    assert refused.status_code == 403
    for bad in ({"speed": 1}, {"urged": -1}, {"urged": 11}, {"urged": "much"},
                {"accepted_on_time": 0, "resolved_on_time": 0, "satisfaction": 0}):  # fmt: skip
        response = await intake.http.put("/v1/assessment/weights", json={"weights": bad}, headers=admin.headers)
        assert response.status_code == 422 and response.json()["type"].endswith("/bad_weights"), (bad, response.text)

    grids = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="grid")).json())
    assert (grids[G1]["score"], grids[G1]["rank"], grids[G2]["score"], grids[G2]["rank"]) == (50.0, 1, 11.43, 2)
    assert grids["610199002003001"]["score"] is None and grids["610199002003001"]["rank"] is None  # no cases
    # the district decides that acceptance and being on time are all that count this quarter
    change = {"weights": {"resolved_on_time": 0, "satisfaction": 0, "overdue": 10}, "note": "本季度只考核签收"}
    response = await intake.http.put("/v1/assessment/weights", json=change, headers=admin.headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["weights"]["overdue"] == 10 and answer["weights"]["accepted_on_time"] == 0.3  # the rest kept
    assert answer["set_by"] == f"client:{admin.client.id}" and answer["history"][0]["note"] == "本季度只考核签收"
    try:
        grids = by_code((await get(intake, "/v1/assessment", centre.headers, period="2025-Q2", level="grid")).json())
        # G2: 100 × (1/2 − 0.2 × 1/2) = 40; G1: 2/3 − 10 × 1/3 − ... below 0, so 0
        assert (grids[G2]["score"], grids[G2]["rank"], grids[G1]["score"], grids[G1]["rank"]) == (40.0, 1, 0.0, 2)
        page = (await get(intake, "/v1/assessment/report", centre.headers, period="2025-Q2", level="grid")).text
        assert f"client:{admin.client.id}" in page
        read = (await get(intake, "/v1/assessment/weights", centre.headers)).json()
        assert read["weights"] == answer["weights"] and read["defaults"]["overdue"] == 0.2
    finally:  # back to the defaults for whatever runs next, itself a change on the record
        defaults = (await get(intake, "/v1/assessment/weights", admin.headers)).json()["defaults"]
        response = await intake.http.put("/v1/assessment/weights", json={"weights": defaults}, headers=admin.headers)
        assert response.status_code == 200 and response.json()["weights"] == defaults
        assert len(response.json()["history"]) >= 2


async def test_a_generated_district_is_counted_in_one_statement_per_table(
    empty_database: DatabaseSettings, tmp_path: Path
) -> None:
    """Hundreds of units: every grid gets cases; the figures add up to what the tables hold."""
    directory = generate(tmp_path / "district", DistrictSpec(district_code="5101", district_name="锦江区", seed=7))
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
        await import_directory(conn, directory, imported_by="tests")
        grids = [r["code"] for r in await conn.fetch("SELECT code FROM registry_units WHERE level = 'grid'")]
        places = {
            r["parent"]: r["code"]
            for r in await conn.fetch("SELECT code, parent FROM registry_units WHERE level = 'micro_grid'")
        }
        at = datetime(2025, 9, 3, 9, 0, tzinfo=TZ)
        for n, grid in enumerate(grids):
            for k in range(n % 3 + 1):
                s = await story(conn, places[grid], at + timedelta(hours=k), scope_keys=["unit:5101"])
                await s.deadline("accept", f"unit:{grid}", 0, 2, 1 if k % 2 == 0 else 3)
                await s.event("accept", worker(f"w-{grid}", grid), 1 if k % 2 == 0 else 3)
        start, end = datetime(2025, 9, 1, tzinfo=TZ), datetime(2025, 10, 1, tzinfo=TZ)
        by_grid = await figures(conn, ["5101"], "grid", start, end, None)
        assert len(by_grid) == len(grids) > 40
        received = await conn.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'accept'")
        late = await conn.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'accept' AND closed_at > due_at")
        assert sum(s.figures.received for s in by_grid) == received
        assert sum(s.figures.overdue for s in by_grid) == late
        by_street = await figures(conn, ["5101"], "street", start, end, None)
        assert sum(s.figures.received for s in by_street) == received and len(by_street) == 4
        persons = await figures(conn, ["5101"], "person", start, end, None)
        assert len(persons) == len(grids) and sum(p.figures.accepted_on_time for p in persons) == received - late
    finally:
        await conn.close()
