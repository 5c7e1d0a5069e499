"""Which uploads may be bound to a case: the rule, apart from the SQL that applies it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.errors import AttachmentBoundElsewhere, TooManyAttachments, UnknownAttachment
from shared.queries.attachments import AttachmentRow

FIELD = "attachment_ids"


def to_bind(
    wanted: Sequence[uuid.UUID],
    found: Sequence[AttachmentRow],
    uploader: uuid.UUID,
    case_id: uuid.UUID,
    on_case: int,
    max_per_case: int,
) -> list[uuid.UUID]:
    """The ids to bind now (those not bound yet), or the refusal: an id that is no upload of this uploader's
    (unknown and someone else's are told apart by nobody), one bound to another case, or too many on the case.
    Ids already bound to this very case are a retry: nothing to do for them."""
    ids = list(dict.fromkeys(wanted))
    mine = {row.id: row for row in found if row.uploaded_by == uploader}
    unknown = [str(i) for i in ids if i not in mine]
    if unknown:
        raise UnknownAttachment(
            f"no upload {', '.join(unknown)} of yours: upload with POST /v1/attachments first",
            field=FIELD,
            attachment_ids=unknown,
        )
    elsewhere = [str(i) for i in ids if mine[i].case_id not in (None, case_id)]
    if elsewhere:
        raise AttachmentBoundElsewhere(
            f"upload {', '.join(elsewhere)} belongs to another case already", field=FIELD, attachment_ids=elsewhere
        )
    new = [i for i in ids if mine[i].case_id is None]
    if on_case + len(new) > max_per_case:
        raise TooManyAttachments(
            f"a case holds at most {max_per_case} files; it has {on_case}, these would add {len(new)}",
            field=FIELD,
            max_per_case=max_per_case,
        )
    return new
