"""The big screen's figures (GET /v1/dashboard) on the real database: today by channel, open, trends by the
district's days and months, hot spots, the latest escalations; only what the client may see, in its area."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.case_rows import insert_case
from tests.intake_fixtures import IntakeUnderTest

pytestmark = pytest.mark.infra
TZ = ZoneInfo("Asia/Shanghai")


async def test_the_dashboard_counts_today_trends_hot_spots_and_escalations(intake: IntakeUnderTest) -> None:
    # A department's key of its own: its area is the whole district, and it sees only the cases it is a party to,
    # this test's (the session's database holds other tests' cases too).
    scope = f"department:t{uuid.uuid4().hex[:10]}"
    caller = await intake.caller("read", units=(scope,))
    now = datetime.now(UTC)
    midnight = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    spot = {"lon": 108.9352, "lat": 34.2721}
    async with intake.pool.acquire() as conn:

        async def case(**fields: object) -> uuid.UUID:
            return await insert_case(conn, scope_keys=[scope], **fields)

        async def event(case_id: uuid.UUID, action: str, at: datetime, detail: dict[str, object]) -> None:
            await conn.execute(
                """INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail, at)
                   VALUES ($1, 2, $2, $3, 'x', 'x', '{"id": "t"}', $4, $5)""",
                case_id,
                str(uuid.uuid4()),
                action,
                json.dumps(detail),
                at,
            )

        for source in ("hotline", "hotline", "grid_app"):
            await case(
                source=source, received_at=max(midnight, now - timedelta(minutes=5)), lon=spot["lon"], lat=spot["lat"]
            )
        climbed = await case(received_at=midnight - timedelta(days=1), accept_by=now - timedelta(hours=1))
        await event(
            climbed, "escalate", now - timedelta(minutes=3), {"from": "unit:610199004001", "to": "unit:610199004"}
        )
        done = await case(state="resolved", received_at=midnight - timedelta(days=40), lon=108.9, lat=34.2)
        await event(done, "resolve", max(midnight, now - timedelta(minutes=1)), {})

    answer = await intake.http.get("/v1/dashboard", params={"unit": "unit:610199"}, headers=caller.headers)
    assert answer.status_code == 200, answer.text
    board = answer.json()
    assert board["today"] == {"received": 3, "by_source": {"hotline": 2, "grid_app": 1}, "resolved": 1, "closed": 0}
    assert board["open"] == {"open": 4, "overdue": 1, "escalated": 1}
    days = board["trend_days"]
    assert len(days) == 30 and days[-1]["day"] == midnight.date().isoformat()
    assert (days[-1]["received"], days[-1]["resolved"], days[-2]["received"]) == (3, 1, 1)
    assert sum(d["received"] for d in days) == 4  # the case of 40 days ago is before the window
    months = board["trend_months"]
    assert len(months) == 12 and months[-1]["month"] == midnight.strftime("%Y-%m")
    assert sum(m["received"] for m in months) == 5
    [busiest, *_] = board["hotspots"]["cells"]
    assert busiest["count"] == 3 and abs(busiest["lon"] - spot["lon"]) < 0.002
    [escalation] = board["escalations"]
    assert escalation["case_id"] == str(climbed) and escalation["to"] == "unit:610199004"

    outside = await intake.http.get("/v1/dashboard", params={"unit": "unit:nowhere"}, headers=caller.headers)
    assert outside.status_code == 404
