"""Accepting a report: exactly one case per report, and a 202 only once the broker has the event.

The submission row is inserted and the event produced inside one transaction: if the broker does not
acknowledge, the row is rolled back and the client is told 503; nothing is half-accepted. A report with an
Idempotency-Key, or a (source, source_ref), gets a case id derived from it, so even a retry after the rare
failure between the broker's ack and the commit names the same case, which dispatch opens once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from services.intake.schemas import ReportIn
from services.intake.uploads import bind_to_case
from shared.api_clients import ApiClient
from shared.errors import IdempotencyConflict, InvalidInput
from shared.events import new_event
from shared.events.types import Location, Reporter, ReportSubmitted
from shared.kafka import publish
from shared.logging import bind_context, get_logger
from shared.privacy import mask_phone
from shared.queries import submissions
from shared.settings import IntakeSettings
from shared.topics import Topics

CASE_NAMESPACE = uuid.UUID("5b0f7d1e-3c59-4f7a-9a35-6f1b0f1c2d71")  # fixed forever: case ids depend on it
EVENT_SOURCE = "/griddispatch/intake"
log = get_logger(__name__)

ACCEPTED = Counter("griddispatch_reports_accepted_total", "Reports accepted (202, the broker has them)", ["source"])


@dataclass(frozen=True, slots=True)
class Submission:
    case_id: uuid.UUID
    case_number: str
    replayed: bool


def derive_case_id(client: ApiClient, key: str | None, source: str, source_ref: str | None) -> uuid.UUID:
    if key:
        return uuid.uuid5(CASE_NAMESPACE, f"key:{client.id}:{key}")
    if source_ref:
        return uuid.uuid5(CASE_NAMESPACE, f"ref:{source}:{source_ref}")
    return uuid.uuid4()


def body_hash(report: ReportIn, source: str) -> str:
    canonical = json.dumps({**report.model_dump(mode="json"), "source": source}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def case_number(prefix: str, seq: int, at: datetime, tz: str) -> str:
    return f"{prefix}-{at.astimezone(ZoneInfo(tz)):%y%m%d}-{seq:06d}"


async def submit_report(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    topics: Topics,
    settings: IntakeSettings,
    client: ApiClient,
    report: ReportIn,
    idempotency_key: str | None,
    public_url: str = "",
) -> Submission:
    """`public_url`: the base of the photos' URLs the report event carries (their `attachment_ids`)."""
    source = report.source or client.source
    if source is None:
        raise InvalidInput("say which source this report comes from (hotline, grid_app, ...)", field="source")
    case_id = derive_case_id(client, idempotency_key, source, report.source_ref)
    digest = body_hash(report, source)
    async with pool.acquire() as conn:
        earlier = await _earlier(conn, case_id, client, idempotency_key, source, report.source_ref)
        if earlier is not None:
            return _replay(earlier, digest)
        with bind_context(case_id=str(case_id)):
            accepted = await _accept(
                conn, producer, topics, settings, client, report, source, case_id, digest, idempotency_key, public_url
            )
            if accepted is not None:
                return accepted
        # Another request for the same report committed while we waited on its row: answer as it did.
        earlier = await _earlier(conn, case_id, client, idempotency_key, source, report.source_ref)
        assert earlier is not None
        return _replay(earlier, digest)


async def _accept(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    topics: Topics,
    settings: IntakeSettings,
    client: ApiClient,
    report: ReportIn,
    source: str,
    case_id: uuid.UUID,
    digest: str,
    idempotency_key: str | None,
    public_url: str = "",
) -> Submission | None:
    now = datetime.now(UTC)
    async with conn.transaction():
        seq = await submissions.next_number(conn)
        number = case_number(settings.case_number_prefix, seq, now, settings.district_timezone)
        event = new_event(
            _event_data(report, source, case_id, number, now, client, public_url),
            source=EVENT_SOURCE,
            subject=str(case_id),
        )
        inserted = await submissions.insert(
            conn,
            case_id,
            number,
            client.id,
            idempotency_key,
            source,
            report.source_ref,
            digest,
            event.id,
            [client.own_key],
            now,
            report.reporter.model_dump() if report.reporter else None,
        )
        if not inserted:
            return None
        await bind_to_case(conn, client, case_id, report.attachment_ids, settings.max_attachments, by="report")
        await publish(producer, topics.reports, event)  # BrokerUnavailable rolls the row back: 503, nothing kept
    log.info("report_accepted", case_number=number, source=source, event_id=event.id)
    ACCEPTED.labels(source).inc()
    return Submission(case_id, number, replayed=False)


def topic_reporter(name: str | None, phone: str | None) -> Reporter:
    """The reporter as the reports topic carries it: the name (the case's handlers read it), the phone masked
    (138****5210); the full phone stays in the database (the submission, then the case)."""
    return Reporter(name=name, phone=mask_phone(phone))


def _event_data(
    report: ReportIn,
    source: str,
    case_id: uuid.UUID,
    number: str,
    now: datetime,
    client: ApiClient,
    public_url: str = "",
) -> ReportSubmitted:
    loc = report.location
    return ReportSubmitted(
        case_id=str(case_id),
        case_number=number,
        source=source,
        source_ref=report.source_ref,
        matter_code=report.matter_code,
        title=report.title,
        description=report.description,
        location=Location(lon=loc.lon, lat=loc.lat, grid_code=loc.grid_code, address=loc.address),
        urgency=report.urgency,
        households_affected=report.households_affected,
        reporter=topic_reporter(report.reporter.name, report.reporter.phone) if report.reporter else None,
        observed_at=report.observed_at,
        attachments=(
            *(str(url) for url in report.attachments),
            *(f"{public_url.rstrip('/')}/v1/attachments/{i}" for i in dict.fromkeys(report.attachment_ids)),
        ),
        received_at=now,
        submitted_by=str(client.id),
    )


async def _earlier(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    client: ApiClient,
    key: str | None,
    source: str,
    source_ref: str | None,
) -> asyncpg.Record | None:
    return await submissions.earlier(conn, case_id, client.id, key, source, source_ref)


def _replay(row: asyncpg.Record, digest: str) -> Submission:
    if row["body_hash"] != digest:
        raise IdempotencyConflict(
            "this Idempotency-Key (or source and source_ref) was already used for a different report; "
            "use a new key for a new report",
            case_id=str(row["case_id"]),
            field="Idempotency-Key",
        )
    return Submission(row["case_id"], row["case_number"], replayed=True)
