"""SQL on `attachments`: one row per uploaded photo, its stored copies' keys, and the case it is bound to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

COLUMNS = (
    "id, uploaded_by, uploader_person, idempotency_key, case_id, bound_at, role, content_type, original_type, "
    "original_bytes, sha256, bytes, width, height, storage_key, thumbnail_key, thumbnail_bytes, exif_lat, "
    "exif_lon, exif_taken_at, created_at"
)


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    id: uuid.UUID
    uploaded_by: uuid.UUID
    uploader_person: str | None
    idempotency_key: str | None
    case_id: uuid.UUID | None
    bound_at: datetime | None
    role: str
    content_type: str
    original_type: str
    original_bytes: int
    sha256: str
    bytes: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str
    thumbnail_bytes: int
    exif_lat: float | None
    exif_lon: float | None
    exif_taken_at: datetime | None
    created_at: datetime


def _row(record: asyncpg.Record | None) -> AttachmentRow | None:
    return AttachmentRow(**dict(record)) if record is not None else None


async def insert(conn: asyncpg.Connection, row: AttachmentRow) -> AttachmentRow | None:
    """Record an upload; None when its (uploader, Idempotency-Key) is recorded already (a concurrent retry)."""
    values = [getattr(row, name.strip()) for name in COLUMNS.split(",")]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    found = await conn.fetchrow(
        f"""INSERT INTO attachments ({COLUMNS}) VALUES ({placeholders})
            ON CONFLICT (uploaded_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING {COLUMNS}""",
        *values,
    )
    return _row(found)


async def by_id(conn: asyncpg.Connection, attachment_id: uuid.UUID) -> AttachmentRow | None:
    return _row(await conn.fetchrow(f"SELECT {COLUMNS} FROM attachments WHERE id = $1", attachment_id))


async def by_key(conn: asyncpg.Connection, uploaded_by: uuid.UUID, idempotency_key: str) -> AttachmentRow | None:
    """The upload an Idempotency-Key already made."""
    found = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM attachments WHERE uploaded_by = $1 AND idempotency_key = $2",
        uploaded_by,
        idempotency_key,
    )
    return _row(found)


async def of_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[AttachmentRow]:
    """A case's uploads, in the order they were uploaded."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM attachments WHERE case_id = $1 ORDER BY created_at, id", case_id)
    return [AttachmentRow(**dict(r)) for r in rows]


async def lock_many(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[AttachmentRow]:
    """The named uploads, locked until the transaction ends (binding them must not race another binding)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM attachments WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", list(ids)
    )
    return [AttachmentRow(**dict(r)) for r in rows]


async def count_of_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM attachments WHERE case_id = $1", case_id)
    return count


async def bind(conn: asyncpg.Connection, ids: Sequence[uuid.UUID], case_id: uuid.UUID, at: datetime) -> int:
    """Bind unbound uploads to the case; the number bound now (those already bound to it are left as they are)."""
    done = await conn.execute(
        "UPDATE attachments SET case_id = $2, bound_at = $3 WHERE id = ANY($1::uuid[]) AND case_id IS NULL",
        list(ids),
        case_id,
        at,
    )
    return int(done.split()[-1])


async def delete_unbound(conn: asyncpg.Connection, older_than: datetime, limit: int) -> list[tuple[str, str]]:
    """Delete up to `limit` uploads bound to no case and made before `older_than` (rows another transaction is
    binding are skipped); their storage keys (served, thumbnail), for the files to go too."""
    rows = await conn.fetch(
        """DELETE FROM attachments WHERE id = ANY(ARRAY(
               SELECT id FROM attachments WHERE case_id IS NULL AND created_at < $1
               ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
           RETURNING storage_key, thumbnail_key""",
        older_than,
        limit,
    )
    return [(r["storage_key"], r["thumbnail_key"]) for r in rows]
