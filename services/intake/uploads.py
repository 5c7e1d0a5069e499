"""Photos uploaded to intake: checked and re-encoded (shared/attachments/images.py), stored (the configured
BlobStore), recorded (`attachments`), bound to a case by a report or an action, read back as the case is."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import asyncpg
from prometheus_client import Counter

from shared.api_clients import ApiClient, Scope
from shared.attachments.binding import to_bind
from shared.attachments.images import Limits, Photo, process
from shared.attachments.storage import BlobStore
from shared.errors import GridDispatchError, IdempotencyConflict, NotFound
from shared.logging import get_logger
from shared.queries import attachments, submissions
from shared.queries.attachments import AttachmentRow
from shared.queries.visibility import visibility_of
from shared.settings import AttachmentSettings

log = get_logger(__name__)

Role = Literal["before", "after", "evidence"]
# The paths that take a photo in their body (multipart/form-data): a larger body limit (intake's main.py).
UPLOAD_PATHS = ("/v1/attachments", "/open311/v2/requests.json", "/open311/v2/requests.xml")
Copy = Literal["served", "thumbnail"]

UPLOADS = Counter(
    "griddispatch_attachment_uploads_total",
    "Photo uploads by outcome: stored, replayed, or the refusal's code (unsupported_media_type, ...)",
    ["outcome"],
)
UPLOAD_BYTES = Counter(
    "griddispatch_attachment_bytes_total",
    "Bytes of photos: received (uploads as sent, refused ones too) and stored (the re-encoded copies)",
    ["kind"],
)
BOUND = Counter("griddispatch_attachments_bound_total", "Uploads bound to a case, by what bound them", ["by"])
READS = Counter("griddispatch_attachment_reads_total", "Served copies read, by copy and outcome", ["copy", "outcome"])


def limits_of(settings: AttachmentSettings) -> Limits:
    return Limits(
        max_bytes=settings.max_bytes,
        max_pixels=settings.max_pixels,
        max_edge=settings.max_edge,
        thumbnail_edge=settings.thumbnail_edge,
        quality=settings.quality,
    )


@dataclass(frozen=True, slots=True)
class Uploads:
    """What the attachment handlers need, built once by the composition root."""

    store: BlobStore
    settings: AttachmentSettings
    district_timezone: str = "Asia/Shanghai"
    # Decodes at once: each holds a decoded image (up to max_pixels x 3 bytes) and a core.
    decoding: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))

    @property
    def limits(self) -> Limits:
        return limits_of(self.settings)


def keys_of(attachment_id: uuid.UUID) -> tuple[str, str]:
    return f"attachments/{attachment_id}/served.jpg", f"attachments/{attachment_id}/thumbnail.jpg"


async def upload(
    pool: asyncpg.Pool, uploads: Uploads, client: ApiClient, data: bytes, role: Role, idempotency_key: str | None
) -> tuple[AttachmentRow, bool]:
    """Check, store and record one uploaded file; (its row, whether this answers a retry)."""
    UPLOAD_BYTES.labels("received").inc(len(data))
    if idempotency_key:
        async with pool.acquire() as conn:
            earlier = await attachments.by_key(conn, client.id, idempotency_key)
        if earlier is not None:
            return _replayed(earlier, data), True
    try:
        async with uploads.decoding:
            photo = await asyncio.to_thread(process, data, uploads.limits, uploads.district_timezone)
    except GridDispatchError as exc:
        UPLOADS.labels(exc.code).inc()
        log.info("attachment_refused", code=exc.code, bytes=len(data), reason=exc.message)
        raise
    row = _row_of(photo, client, role, idempotency_key)
    await uploads.store.put(row.storage_key, photo.served.data, photo.content_type)
    await uploads.store.put(row.thumbnail_key, photo.thumbnail.data, photo.content_type)
    async with pool.acquire() as conn:
        inserted = await attachments.insert(conn, row)
        if inserted is None:  # a concurrent retry with the same key was recorded first: answer as it
            earlier = await attachments.by_key(conn, client.id, idempotency_key or "")
    if inserted is None:
        await uploads.store.delete(row.storage_key)
        await uploads.store.delete(row.thumbnail_key)
        assert earlier is not None
        return _replayed(earlier, data), True
    UPLOADS.labels("stored").inc()
    UPLOAD_BYTES.labels("stored").inc(len(photo.served.data) + len(photo.thumbnail.data))
    log.info(
        "attachment_stored",
        attachment_id=str(row.id),
        original_type=photo.original_type,
        bytes=len(data),
        width=row.width,
        height=row.height,
        has_location=photo.place is not None,
        storage=uploads.store.backend,
    )
    return inserted, False


def _replayed(earlier: AttachmentRow, data: bytes) -> AttachmentRow:
    if earlier.sha256 != hashlib.sha256(data).hexdigest():
        raise IdempotencyConflict(
            "this Idempotency-Key was already used for a different file; use a new key for a new upload",
            field="Idempotency-Key",
            attachment_id=str(earlier.id),
        )
    UPLOADS.labels("replayed").inc()
    return earlier


def _row_of(photo: Photo, client: ApiClient, role: Role, idempotency_key: str | None) -> AttachmentRow:
    attachment_id = uuid.uuid4()
    served_key, thumbnail_key = keys_of(attachment_id)
    return AttachmentRow(
        id=attachment_id,
        uploaded_by=client.id,
        uploader_person=client.person.id if client.person is not None else None,
        idempotency_key=idempotency_key,
        case_id=None,
        bound_at=None,
        role=role,
        content_type=photo.content_type,
        original_type=photo.original_type,
        original_bytes=photo.original_bytes,
        sha256=photo.sha256,
        bytes=len(photo.served.data),
        width=photo.served.width,
        height=photo.served.height,
        storage_key=served_key,
        thumbnail_key=thumbnail_key,
        thumbnail_bytes=len(photo.thumbnail.data),
        exif_lat=photo.place.lat if photo.place else None,
        exif_lon=photo.place.lon if photo.place else None,
        exif_taken_at=photo.taken_at,
        created_at=datetime.now(UTC),
    )


async def bind_to_case(
    conn: asyncpg.Connection,
    client: ApiClient,
    case_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    max_per_case: int,
    by: str,
) -> None:
    """Bind the client's uploads to the case, inside the caller's transaction (a refusal rolls it back)."""
    if not ids:
        return
    found = await attachments.lock_many(conn, ids)
    on_case = await attachments.count_of_case(conn, case_id)
    new = to_bind(ids, found, client.id, case_id, on_case, max_per_case)
    if new:
        await attachments.bind(conn, new, case_id, datetime.now(UTC))
        BOUND.labels(by).inc(len(new))
        log.info("attachments_bound", case_id=str(case_id), attachment_ids=[str(i) for i in new], by=by)


def _not_found(attachment_id: uuid.UUID) -> NotFound:
    # The same answer whether it does not exist or belongs to a case this client may not read.
    return NotFound(f"no attachment {attachment_id} that this client may see", attachment_id=str(attachment_id))


async def readable_case(conn: asyncpg.Connection, client: ApiClient, case_id: uuid.UUID) -> bool:
    """Whether the client may read the case (as GET /v1/cases/{id} decides)."""
    if not (client.has(Scope.READ) or client.has(Scope.SUBMIT)):
        return False
    row, submission = await submissions.case_or_submission(conn, visibility_of(client), case_id)
    return row is not None or submission is not None


async def readable(pool: asyncpg.Pool, client: ApiClient, attachment_id: uuid.UUID) -> AttachmentRow:
    """The upload, if the client may read it: its own upload, or one bound to a case it may read; else 404."""
    async with pool.acquire() as conn:
        row = await attachments.by_id(conn, attachment_id)
        if row is None:
            raise _not_found(attachment_id)
        if row.uploaded_by == client.id:
            return row
        if row.case_id is not None and await readable_case(conn, client, row.case_id):
            return row
    raise _not_found(attachment_id)


async def read_copy(uploads: Uploads, row: AttachmentRow, copy: Copy) -> bytes:
    key = row.storage_key if copy == "served" else row.thumbnail_key
    try:
        data = await uploads.store.get(key)
    except GridDispatchError as exc:
        READS.labels(copy, exc.code).inc()
        log.warning("attachment_unreadable", attachment_id=str(row.id), case_id=str(row.case_id), code=exc.code)
        raise
    READS.labels(copy, "served").inc()
    return data
