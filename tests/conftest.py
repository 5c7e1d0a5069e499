"""Fixtures that give tests the real Kafka broker and the real PostgreSQL.

The infrastructure starts once per session (or a running `griddispatch infra up` is reused) and only what
this session started is stopped at the end. Tests are isolated by a topic prefix and a database of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from prometheus_client import REGISTRY

from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from griddispatch.infra import stack
from griddispatch.infra.processes import Processes
from shared.db import create_pool, migrate
from shared.kafka import delete_topics_with_prefix
from shared.settings import DatabaseSettings, KafkaSettings, LocalInfraSettings

# Property tests assert results, never speed: Hypothesis's per-example deadline (200 ms) measures the shared
# machine's load instead (a duty-roster property failed at load 11 with correct results).
hypothesis_settings.register_profile("griddispatch", deadline=None)
hypothesis_settings.load_profile("griddispatch")

# Fixtures of the services under test, available to every test module.
pytest_plugins = [
    "tests.intake_fixtures",
    "tests.dispatch_fixtures",
    "tests.e2e.loop_fixtures",
    "tests.oidc_fixtures",
    "tests.s3_fixtures",
]


def _pool_close_timeouts() -> float:
    return REGISTRY.get_sample_value("griddispatch_db_pool_close_timeouts_total") or 0.0


@pytest.fixture(autouse=True)
def _every_connection_returned(request: pytest.FixtureRequest) -> Iterator[None]:
    """A service stopped in a test with a pool connection still out (shared.db.close_pool terminates the pool
    after its timeout, where Pool.close alone would hang) fails that test: a leak is a bug, not a slow stop."""
    before = _pool_close_timeouts()
    yield
    if request.node.get_closest_marker("leaks_a_connection") is None:
        assert _pool_close_timeouts() == before, "a pool was closed with a connection never returned (a leak)"


@pytest.fixture(scope="session")
def local_infra() -> Iterator[LocalInfraSettings]:
    local = LocalInfraSettings()
    processes = Processes(local.dir)
    started_here = [n for n in stack.INFRA if processes.running(n) is None]

    def stop_what_we_started() -> None:
        if local_kafka.NAME in started_here:
            processes.stop(local_kafka.NAME)
        if local_postgres.NAME in started_here:
            processes.stop(local_postgres.NAME, sig=local_postgres.STOP_SIGNAL)

    try:
        asyncio.run(stack.infra_up(local))
    except BaseException:
        stop_what_we_started()  # a failed start must not leave a broker or database behind
        raise
    yield local
    if not os.environ.get("GRIDDISPATCH_KEEP_INFRA"):
        stop_what_we_started()


@pytest.fixture(scope="session")
async def kafka_settings(local_infra: LocalInfraSettings) -> AsyncIterator[KafkaSettings]:
    """Broker settings with a topic prefix of this session's own; the session's topics are deleted at its end.

    Every test derives its topics' prefix from this one, so a broker kept between runs does not pile up
    thousands of partitions (one did, and died of too many open files).
    """
    settings = KafkaSettings(
        bootstrap_servers=local_kafka.bootstrap_of(local_infra),
        topic_prefix=f"test-{uuid.uuid4().hex[:8]}",
        client_id="griddispatch-tests",
    )
    yield settings
    with contextlib.suppress(Exception):  # a broker already gone must not turn a green run red
        await delete_topics_with_prefix(settings, settings.topic_prefix)


async def _create_database(local: LocalInfraSettings, name: str) -> DatabaseSettings:
    conn = await asyncpg.connect(local_postgres.url_of(local, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return DatabaseSettings(url=local_postgres.url_of(local, name))


async def _drop_database(local: LocalInfraSettings, name: str) -> None:
    conn = await asyncpg.connect(local_postgres.url_of(local, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def empty_database(local_infra: LocalInfraSettings) -> AsyncIterator[DatabaseSettings]:
    """A brand-new database with nothing in it, dropped after the test."""
    name = f"gd_test_{uuid.uuid4().hex[:12]}"
    settings = await _create_database(local_infra, name)
    yield settings
    await _drop_database(local_infra, name)


@pytest.fixture(scope="session")
async def database_settings(local_infra: LocalInfraSettings) -> AsyncIterator[DatabaseSettings]:
    """A migrated database for this session."""
    name = f"gd_test_{uuid.uuid4().hex[:12]}"
    settings = await _create_database(local_infra, name)
    conn = await asyncpg.connect(settings.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield settings
    await _drop_database(local_infra, name)


@pytest.fixture(scope="session")
async def db_pool(database_settings: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_settings)
    yield pool
    await pool.close()
