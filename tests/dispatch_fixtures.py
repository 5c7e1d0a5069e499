"""The dispatch runtime on the real broker and database, fed events directly (the faust worker is tested in e2e)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.dispatch.context import DuplicatePolicy
from services.dispatch.runtime import Runtime
from shared.events import CloudEvent, encode, new_event
from shared.events.types import ActionRequested, Actor, Contract, DeadlineFired, Location, Reporter, ReportSubmitted
from shared.kafka import ensure_topics
from shared.registry_store import import_directory
from shared.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings

SAMPLE = PROJECT_ROOT / "data" / "sample-district"
# A point inside micro-grid 610199004001001006 of the sample district.
POINT = {"lon": 108.9352, "lat": 34.2721}


@dataclass
class DispatchUnderTest:
    runtime: Runtime
    pool: asyncpg.Pool
    kafka: KafkaSettings

    async def feed(self, event: CloudEvent[Any], topic: str | None = None) -> None:
        topic = topic or self.runtime.topics.reports
        encoded = encode(event)
        await self.runtime.process(topic, encoded.value, encoded.key, 0, 0)

    async def report(self, **fields: Any) -> CloudEvent[ReportSubmitted]:
        case_id = fields.pop("case_id", str(uuid.uuid4()))
        data = ReportSubmitted(
            case_id=case_id,
            case_number=fields.pop("case_number", f"GD-T-{uuid.uuid4().hex[:8]}"),
            source=fields.pop("source", "hotline"),
            title=fields.pop("title", "路口井盖丢失"),
            description=fields.pop("description", "井盖不见了"),
            location=Location(**fields.pop("location", POINT)),
            reporter=Reporter(name="王先生", phone="13812345678"),
            received_at=fields.pop("received_at", datetime.now(UTC)),
            **fields,
        )
        event = new_event(data, source="/tests", subject=case_id)
        async with self.pool.acquire() as conn:  # intake records every report it accepts
            await conn.execute(
                """INSERT INTO submissions (case_id, case_number, client_id, source, body_hash, event_id, scope_keys)
                   VALUES ($1, $2, $3, 'hotline', 'x', $4, '{}') ON CONFLICT DO NOTHING""",
                uuid.UUID(case_id),
                data.case_number,
                await self._client(conn),
                event.id,
            )
        return event

    async def _client(self, conn: asyncpg.Connection) -> uuid.UUID:
        client_id = uuid.UUID(int=1)
        await conn.execute(
            """INSERT INTO api_clients (id, name, key_prefix, key_hash, scopes, units)
               VALUES ($1, 'tests', 'gdk_t', 'x', '{}', '{}') ON CONFLICT DO NOTHING""",
            client_id,
        )
        return client_id

    def action(
        self, case_id: str, action: str, role: str, unit: str | None = None, **fields: Any
    ) -> CloudEvent[ActionRequested]:
        data = ActionRequested(
            case_id=case_id,
            action=action,
            actor=Actor(id=fields.pop("actor_id", "tester"), role=role, unit=unit),
            **fields,
        )
        return new_event(data, source="/tests", subject=case_id)

    def fired(
        self, case_id: str, assignee: str, tier: str = "escalate", kind: str = "accept"
    ) -> CloudEvent[DeadlineFired]:
        data = DeadlineFired(
            case_id=case_id,
            deadline_id=str(uuid.uuid4()),
            kind=kind,
            tier=tier,
            due_at=datetime.now(UTC),
            assignee=assignee,
        )
        return new_event(data, source="/tests", subject=case_id)

    async def case(self, case_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM cases WHERE case_id = $1", uuid.UUID(case_id))
        assert row is not None, f"no case {case_id}"
        return row

    async def history(self, case_id: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT action FROM case_events WHERE case_id = $1 ORDER BY seq", uuid.UUID(case_id)
        )
        return [r["action"] for r in rows]

    async def deadlines(self, case_id: str) -> dict[tuple[str, str], str]:
        rows = await self.pool.fetch("SELECT kind, party, status FROM deadlines WHERE case_id = $1", uuid.UUID(case_id))
        return {(r["kind"], r["party"]): r["status"] for r in rows}


@pytest.fixture(scope="module")
async def dispatch(
    kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> AsyncIterator[DispatchUnderTest]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-d{uuid.uuid4().hex[:6]}"})
    runtime = Runtime(kafka, database_settings, DuplicatePolicy(radius_m=0))  # merging: its own test
    await ensure_topics(kafka, runtime.topics.core_specs())
    conn = await asyncpg.connect(database_settings.url)
    try:
        await import_directory(conn, SAMPLE, imported_by="tests")
    finally:
        await conn.close()
    await runtime.start()
    try:
        yield DispatchUnderTest(runtime, runtime.pool, kafka)
    finally:
        await runtime.stop()


__all__ = ["POINT", "Contract", "DispatchUnderTest", "dispatch"]
