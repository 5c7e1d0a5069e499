"""Start-up steps every service takes before it serves: reach the broker and the database, migrate, create topics."""

from __future__ import annotations

from shared.db import migrate
from shared.db.pool import check_database, connect
from shared.kafka import check_broker, ensure_topics
from shared.logging import get_logger
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics

log = get_logger(__name__)


async def prepare(kafka: KafkaSettings, database: DatabaseSettings) -> None:
    """Fail fast with a message naming the setting when a real part is unreachable; otherwise get it ready."""
    await check_broker(kafka)
    await check_database(database)
    conn = await connect(database)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    created = await ensure_topics(kafka, Topics(kafka.topic_prefix).core_specs())
    log.info("prepared", migrations_applied=applied, topics_created=created)
