"""Personal assignment on a generated district (shared/registry_files/generate.py) in a database of its own: a
micro-grid's case goes to its grid worker, a community's to whoever is on its roster at the time, and a unit with
nobody on duty and no head leaves the case flagged (no responsible person)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from services.dispatch.context import DuplicatePolicy
from services.dispatch.runtime import Runtime
from shared.db import migrate
from shared.domain.lifecycle import IN_HANDLING
from shared.domain.model import Level
from shared.kafka import ensure_topics
from shared.queries import cases
from shared.queries.states import values
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import LoadedRegistry, load_directory
from shared.registry_store import import_directory
from shared.settings import DatabaseSettings, KafkaSettings
from tests.dispatch_fixtures import DispatchUnderTest
from tests.people_rows import People, until_snapshot

CST = timezone(timedelta(hours=8))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 10, 0, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def generated(
    kafka_settings: KafkaSettings, empty_database: DatabaseSettings, tmp_path: Path
) -> AsyncIterator[tuple[DispatchUnderTest, LoadedRegistry, Clock]]:
    district = generate(tmp_path / "d", DistrictSpec(streets=1, communities=2, grids=4, micro_grids=8, seed=15))
    conn = await asyncpg.connect(empty_database.url)
    try:
        await migrate(conn)
        await import_directory(conn, district, imported_by="tests")
    finally:
        await conn.close()
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-g{uuid.uuid4().hex[:6]}"})
    clock = Clock()
    runtime = Runtime(kafka, empty_database, DuplicatePolicy(radius_m=0), clock=clock)
    await ensure_topics(kafka, runtime.topics.core_specs())
    await runtime.start()
    try:
        yield DispatchUnderTest(runtime, runtime.pool, kafka), load_directory(district), clock
    finally:
        await runtime.stop()


async def test_persons_of_a_generated_district_answer_for_its_cases(
    generated: tuple[DispatchUnderTest, LoadedRegistry, Clock],
) -> None:
    dispatch, loaded, clock = generated
    registry = loaded.registry
    building = sorted(registry.buildings.values(), key=lambda b: b.code)[0]
    mg, _grid, community, *_ = (f"unit:{u.code}" for u in registry.chain(building.micro_grid))
    assert registry.units[community.partition(":")[2]].level is Level.COMMUNITY
    people = People(dispatch.pool)
    worker = await people.add("gw", ("grid_worker", mg))
    day = await people.add("day", ("duty_officer", community))
    night = await people.add("night", ("duty_officer", community))
    await people.roster(community, (time(8), time(18), [day]), (time(18), time(8), [night]))
    await until_snapshot(
        lambda: dispatch.runtime.people.snapshot,
        lambda s: {worker, day, night} <= s.active and community in s.rosters,
    )
    where = {"lon": building.lon, "lat": building.lat}

    async def report(matter: str, title: str) -> asyncpg.Record:
        event = await dispatch.report(matter_code=matter, title=title, location=where, received_at=clock.now)
        await dispatch.feed(event)
        return await dispatch.case(event.subject)

    small = await report("sanitation", "垃圾没人清运")
    assert (small["lead"], small["lead_person"]) == (mg, worker)
    clock.now = datetime(2026, 3, 4, 3, 0, tzinfo=CST)
    at_three = await report("hardship_help", "困难群众帮扶")
    clock.now = datetime(2026, 3, 4, 10, 0, tzinfo=CST)
    at_ten = await report("hardship_help", "困难群众帮扶")
    assert (at_three["lead"], at_three["lead_person"], at_ten["lead_person"]) == (community, night, day)

    await people.roster(community, (time(9), time(10), [day]))  # nobody on duty at 22:00, and no head
    await until_snapshot(
        lambda: dispatch.runtime.people.snapshot,
        lambda s: community in s.rosters and len(s.rosters[community].shifts) == 1,
    )
    clock.now = datetime(2026, 3, 4, 22, 0, tzinfo=CST)
    unstaffed = await report("hardship_help", "困难群众帮扶")
    assert unstaffed["lead"] == community and unstaffed["lead_person"] is None
    flagged = await cases.unstaffed(dispatch.pool, None, values(IN_HANDLING), 100)
    assert [r["case_id"] for r in flagged] == [unstaffed["case_id"]]
