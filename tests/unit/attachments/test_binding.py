"""Which uploads a report or an action may bind to its case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.attachments.binding import to_bind
from shared.errors import AttachmentBoundElsewhere, TooManyAttachments, UnknownAttachment
from shared.queries.attachments import AttachmentRow

ME, OTHER, CASE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def row(uploaded_by: uuid.UUID = ME, case_id: uuid.UUID | None = None) -> AttachmentRow:
    now = datetime.now(UTC)
    return AttachmentRow(
        id=uuid.uuid4(), uploaded_by=uploaded_by, uploader_person=None, idempotency_key=None, case_id=case_id,
        bound_at=now if case_id else None, role="evidence", content_type="image/jpeg", original_type="image/png",
        original_bytes=10, sha256="0" * 64, bytes=5, width=1, height=1, storage_key="k", thumbnail_key="t",
        thumbnail_bytes=3, exif_lat=None, exif_lon=None, exif_taken_at=None, created_at=now,
    )  # fmt: skip


def test_my_unbound_uploads_are_bound_once_each() -> None:
    a, b = row(), row()
    assert to_bind([a.id, b.id, a.id], [a, b], ME, CASE, 0, 10) == [a.id, b.id]


def test_those_already_on_this_case_are_a_retry() -> None:
    done, new = row(case_id=CASE), row()
    assert to_bind([done.id, new.id], [done, new], ME, CASE, 1, 10) == [new.id]
    assert to_bind([done.id], [done], ME, CASE, 10, 10) == []  # a full case, and nothing new: fine


@pytest.mark.parametrize("whose", ["unknown", "someone else's"])
def test_unknown_and_foreign_get_the_same_answer(whose: str) -> None:
    theirs = row(uploaded_by=OTHER)
    wanted = uuid.uuid4() if whose == "unknown" else theirs.id
    with pytest.raises(UnknownAttachment) as refused:
        to_bind([wanted], [theirs], ME, CASE, 0, 10)
    assert refused.value.detail == {"field": "attachment_ids", "attachment_ids": [str(wanted)]}


def test_one_on_another_case_is_refused() -> None:
    taken = row(case_id=uuid.uuid4())
    with pytest.raises(AttachmentBoundElsewhere):
        to_bind([taken.id], [taken], ME, CASE, 0, 10)


def test_a_case_holds_at_most_the_limit() -> None:
    rows = [row() for _ in range(3)]
    assert len(to_bind([r.id for r in rows], rows, ME, CASE, 7, 10)) == 3
    with pytest.raises(TooManyAttachments):
        to_bind([r.id for r in rows], rows, ME, CASE, 8, 10)
