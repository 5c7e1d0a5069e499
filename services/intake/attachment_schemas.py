"""The bodies of the attachments API (POST /v1/attachments, the case's list)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.intake.uploads import Role
from shared.queries.attachments import AttachmentRow


def url_of(row: AttachmentRow) -> str:
    return f"/v1/attachments/{row.id}"


class AttachmentOut(BaseModel):
    """An uploaded photo: its served copy (a JPEG without metadata) and thumbnail are read at the URLs."""

    id: str = Field(examples=["3f0c6a7e-2b1d-4e8f-9a51-0c2d7e4b9f10"])
    role: Role
    content_type: str = Field(examples=["image/jpeg"])
    bytes: int = Field(description="of the served copy")
    width: int
    height: int
    url: str = Field(examples=["/v1/attachments/3f0c6a7e-2b1d-4e8f-9a51-0c2d7e4b9f10"])
    thumbnail_url: str = Field(examples=["/v1/attachments/3f0c6a7e-2b1d-4e8f-9a51-0c2d7e4b9f10/thumbnail"])

    @classmethod
    def of(cls, row: AttachmentRow) -> AttachmentOut:
        return cls(
            id=str(row.id),
            role=row.role,  # the table's CHECK holds it to Role
            content_type=row.content_type,
            bytes=row.bytes,
            width=row.width,
            height=row.height,
            url=url_of(row),
            thumbnail_url=f"{url_of(row)}/thumbnail",
        )


class PhotoPlace(BaseModel):
    lat: float
    lon: float


class CaseAttachmentOut(BaseModel):
    """One of a case's photos, with who uploaded it and what its EXIF said (for the case's readers only; no
    served copy carries it)."""

    id: str
    role: Role
    content_type: str
    width: int
    height: int
    bytes: int
    uploaded_by: str = Field(description="the person's id, or the API client's id for a system")
    uploaded_at: datetime
    url: str
    thumbnail_url: str
    exif_location: PhotoPlace | None = Field(None, description="where the photo's GPS says it was taken")
    exif_taken_at: datetime | None = None

    @classmethod
    def of(cls, row: AttachmentRow) -> CaseAttachmentOut:
        located = row.exif_lat is not None and row.exif_lon is not None
        place = PhotoPlace(lat=row.exif_lat, lon=row.exif_lon) if located else None
        return cls(
            id=str(row.id),
            role=row.role,
            content_type=row.content_type,
            width=row.width,
            height=row.height,
            bytes=row.bytes,
            uploaded_by=row.uploader_person or str(row.uploaded_by),
            uploaded_at=row.created_at,
            url=url_of(row),
            thumbnail_url=f"{url_of(row)}/thumbnail",
            exif_location=place,
            exif_taken_at=row.exif_taken_at,
        )


class CaseAttachmentsOut(BaseModel):
    case_id: str
    items: list[CaseAttachmentOut]
