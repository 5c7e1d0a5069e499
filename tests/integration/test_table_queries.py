"""The table modules' statements that no service test reaches (chaos, the gauges, the simulation, Open311's pending
list) against real PostgreSQL; each test counts only the rows it wrote."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.api_clients import create_client
from shared.domain.lifecycle import DueKind, State
from shared.queries import cases, deadlines, processed_events, submissions
from tests.case_rows import append_events, insert_case


async def _deadline(
    conn: asyncpg.Connection, case_id: uuid.UUID, due: datetime, *, status: str = "open", closed: datetime | None = None
) -> uuid.UUID:
    deadline_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO deadlines (deadline_id, case_id, kind, party, starts_at, due_at, warn_times, next_fire_at,
                                  status, closed_at)
           VALUES ($1, $2, 'accept', 'unit:610199004001', $3, $4, $5, $6, $7, $8)""",
        deadline_id,
        case_id,
        due - timedelta(hours=2),
        due,
        [due - timedelta(hours=1)],
        due - timedelta(hours=1),
        status,
        closed,
    )
    return deadline_id


async def test_cases_with_their_history_routed_and_assigned(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        assigned = await insert_case(conn)
        merged = await insert_case(conn, state=State.MERGED.value, lead=None)
        waiting = await insert_case(conn, state=State.REPORTED.value, lead=None)
        accepted = await insert_case(conn, state=State.ACCEPTED.value)
        await append_events(conn, assigned, "comment")  # after the `assign` insert_case wrote
        await conn.execute("DELETE FROM case_events WHERE case_id = $1", waiting)  # no history yet
        ids = [assigned, merged, waiting, accepted]

        rows = {r["case_id"]: r for r in await cases.with_actions(conn, ids)}
        assert list(rows[assigned]["actions"]) == ["assign", "comment"] and list(rows[assigned]["seqs"]) == [1, 2]
        assert list(rows[waiting]["actions"]) == [] and rows[merged]["state"] == "merged"
        assert await cases.count_routed(conn, ids) == 3  # all but the one still waiting for dispatch
        leads = await cases.assigned_leads(conn, ids)
        assert [(r["case_id"], r["lead"]) for r in leads] == [(assigned, "unit:610199004001")]


async def test_deadlines_fall_due_now_and_wake_escalation(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    heard: asyncio.Queue[float] = asyncio.Queue()
    listener = await db_pool.acquire()

    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        heard.put_nowait(float(payload))

    await listener.add_listener(deadlines.NOTIFY_CHANNEL, on_notify)
    try:
        async with db_pool.acquire() as conn:
            case_id = await insert_case(conn)
            later = await _deadline(conn, case_id, now + timedelta(hours=5))
            await deadlines.fall_due_now(conn, [case_id], DueKind.ACCEPT)
            row = await conn.fetchrow(
                "SELECT due_at, next_fire_at, warn_times FROM deadlines WHERE deadline_id = $1", later
            )
            assert row["due_at"] <= datetime.now(UTC) and row["next_fire_at"] == row["due_at"]
            assert list(row["warn_times"]) == []
            assert await deadlines.not_yet_fired(conn, [later]) == 1
        # the insert above notified its own next_fire_at (4 h ahead); falling due notifies now
        woken_at = datetime.now(UTC).timestamp() + 3600
        while woken_at > datetime.now(UTC).timestamp() + 60:
            woken_at = await asyncio.wait_for(heard.get(), 30)
    finally:
        await listener.remove_listener(deadlines.NOTIFY_CHANNEL, on_notify)
        await db_pool.release(listener)


async def test_which_deadlines_fell_due(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with db_pool.acquire() as conn:
        case_id = await insert_case(conn)
        past = await _deadline(conn, case_id, now - timedelta(minutes=5))
        ahead = await _deadline(conn, case_id, now + timedelta(hours=1))
        in_time = await _deadline(
            conn, case_id, now - timedelta(hours=1), status="met", closed=now - timedelta(hours=2)
        )
        late = await _deadline(conn, case_id, now - timedelta(hours=1), status="met", closed=now - timedelta(minutes=1))
        flags = {r["deadline_id"]: r["fell_due"] for r in await deadlines.fell_due_all(conn)}
    assert {k: flags[k] for k in (past, ahead, in_time, late)} == {past: True, ahead: False, in_time: False, late: True}


async def test_processed_events_claim_once_per_consumer(db_pool: asyncpg.Pool) -> None:
    event_id = str(uuid.uuid4())
    consumer = f"test-{uuid.uuid4().hex[:8]}"
    async with db_pool.acquire() as conn:
        assert await processed_events.claim(conn, consumer, event_id)
        assert not await processed_events.claim(conn, consumer, event_id)  # a redelivery
        assert await processed_events.processed_by(conn, consumer) == {event_id}


async def test_submissions_repeat_and_pending_until_a_case(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with db_pool.acquire() as conn:
        client, _ = await create_client(conn, name="table test", scopes=["submit", "read"], units=["*"])
        own = [client.own_key]
        first, second = uuid.uuid4(), uuid.uuid4()
        for case_id, key in ((first, "k1"), (second, "k2")):
            number = f"GD-TQ-{uuid.uuid4().hex[:10]}"
            assert await submissions.insert(
                conn, case_id, number, client.id, key, "hotline", None, "h", str(uuid.uuid4()), own, now
            )
        # the same key again is refused, and found as the earlier submission
        assert not await submissions.insert(
            conn, uuid.uuid4(), "GD-TQ-x", client.id, "k1", "hotline", None, "h", str(uuid.uuid4()), own, now
        )
        earlier = await submissions.earlier(conn, uuid.uuid4(), client.id, "k1", "hotline", None)
        assert earlier is not None and earlier["case_id"] == first
        assert await submissions.case_ids_of_client(conn, client.id) == {first, second}

        await insert_case(conn, case_id=second, scope_keys=own)  # dispatch has recorded the second one
        pending = await submissions.not_yet_cases(conn, own, now - timedelta(seconds=1), None, 10)
        assert [r["case_id"] for r in pending] == [first]
        assert await submissions.not_yet_cases(conn, ["client:someone-else"], None, None, 10) == []
