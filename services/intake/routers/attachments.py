"""Photos: POST /v1/attachments (multipart), GET /v1/attachments/{id} (and /thumbnail), GET /v1/cases/{id}/attachments.

Bound to a case by `attachment_ids` on POST /v1/reports and POST /v1/cases/{id}/actions; read as the case is.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Response, UploadFile

from services.intake import uploads
from services.intake.attachment_schemas import AttachmentOut, CaseAttachmentOut, CaseAttachmentsOut
from services.intake.deps import Client, Res, Resources, require
from services.intake.schemas import problems
from services.intake.uploads import Role, Uploads
from shared.api_clients import Scope
from shared.errors import NotFound, StorageUnavailable
from shared.logging import bind_context
from shared.queries import attachments

router = APIRouter(prefix="/v1", tags=["attachments"], responses=problems(401, 403, 429))

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="the same key (with the same file) answers the same upload; use it for retries of one file only",
    ),
]
JPEG = "image/jpeg"


def _uploads(res: Resources) -> Uploads:
    if res.uploads is None:
        raise StorageUnavailable("this intake has no attachment storage configured")
    return res.uploads


@router.post(
    "/attachments",
    status_code=201,
    response_model=AttachmentOut,
    summary="Upload a photo (JPEG, PNG or HEIC/HEIF, by content): bind it to a case with attachment_ids",
    description=(
        "multipart/form-data with the file in `file` and optional `role` (`before`, `after`, `evidence`). The "
        "type is read from the content, not the name: anything but JPEG, PNG or HEIC/HEIF is 415 "
        "`unsupported_media_type`; over the size limit 413 `attachment_too_large`; more pixels than the limit "
        "(a decompression bomb) 422 `image_too_many_pixels`; an image that cannot be decoded 422 `unreadable_image`. "
        "Every copy served is re-encoded as a JPEG without metadata (no EXIF, so no GPS); the EXIF location and "
        "time are kept for the case. An upload bound to no case within a day may be pruned."
    ),
    responses=problems(
        400,
        409,
        413,
        415,
        422,
        503,
        _400="the multipart/form-data body cannot be parsed (a broken boundary or part)",
        _409="the Idempotency-Key was used for a different file",
        _413="the file is over the size limit (`attachment_too_large`, `max_bytes`)",
        _415="not JPEG, PNG or HEIC/HEIF by content (`unsupported_media_type`), or not multipart/form-data",
        _503="the attachment store or the database is unreachable: nothing was kept; retry after Retry-After",
    ),
)
async def upload_attachment(
    client: Client,
    res: Res,
    file: Annotated[UploadFile, File(description="the photo")],
    role: Annotated[Role, Form(description="before, after (the handling's result) or evidence")] = "evidence",
    idempotency_key: IdempotencyKey = None,
) -> AttachmentOut:
    require(client, Scope.SUBMIT, Scope.ACT)
    data = await file.read()
    row, _ = await uploads.upload(res.pool, _uploads(res), client, data, role, idempotency_key)
    return AttachmentOut.of(row)


async def _serve(res: Res, client: Client, attachment_id: uuid.UUID, copy: uploads.Copy) -> Response:
    row = await uploads.readable(res.pool, client, attachment_id)
    with bind_context(case_id=str(row.case_id) if row.case_id else None, attachment_id=str(row.id)):
        data = await uploads.read_copy(_uploads(res), row, copy)
    return Response(
        data,
        media_type=JPEG,
        headers={
            "Cache-Control": "private, max-age=86400",  # the copies never change; only this reader may keep them
            "ETag": f'"{row.id}-{copy}"',
            "Content-Disposition": f'inline; filename="{row.id}{"-thumbnail" if copy == "thumbnail" else ""}.jpg"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {JPEG: {"schema": {"type": "string", "format": "binary"}}}, "description": "the JPEG"}
}


@router.get(
    "/attachments/{attachment_id}",
    response_class=Response,
    summary="A photo's served copy: a JPEG without metadata, at most 4096 px on its longer side",
    description="Readable by whoever may read its case (404 for anyone else), and by its uploader before it is bound.",
    responses={**_IMAGE, **problems(404)},
)
async def get_attachment(attachment_id: uuid.UUID, client: Client, res: Res) -> Response:
    return await _serve(res, client, attachment_id, "served")


@router.get(
    "/attachments/{attachment_id}/thumbnail",
    response_class=Response,
    summary="A photo's thumbnail (JPEG, 320 px on its longer side, no metadata)",
    responses={**_IMAGE, **problems(404)},
)
async def get_attachment_thumbnail(attachment_id: uuid.UUID, client: Client, res: Res) -> Response:
    return await _serve(res, client, attachment_id, "thumbnail")


@router.get(
    "/cases/{case_id}/attachments",
    response_model=CaseAttachmentsOut,
    summary="A case's photos, in upload order, with their EXIF location and time",
    responses=problems(404),
)
async def list_case_attachments(case_id: uuid.UUID, client: Client, res: Res) -> CaseAttachmentsOut:
    require(client, Scope.READ, Scope.SUBMIT)
    async with res.pool.acquire() as conn:
        if not await uploads.readable_case(conn, client, case_id):
            raise NotFound(f"no case {case_id} that this client may see", case_id=str(case_id))
        rows = await attachments.of_case(conn, case_id)
    return CaseAttachmentsOut(case_id=str(case_id), items=[CaseAttachmentOut.of(r) for r in rows])
