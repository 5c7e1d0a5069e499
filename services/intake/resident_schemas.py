"""The bodies of the residents' public endpoints (no account): the look-up and the rating link."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.intake.schemas import PROBLEMS, Strict
from shared.web import problem_responses

Level = Literal["satisfied", "basically_satisfied", "unsatisfied"]


class LookupIn(Strict):
    """A case number and the last four digits of the phone it was reported from: in a body, never in a URL."""

    case_number: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9\-]+$", examples=["GD-261202-000042"])
    phone_last4: str = Field(pattern=r"^[0-9]{4}$", examples=["5678"])


class Step(BaseModel):
    """One thing done on the case, as the resident reads it."""

    at: datetime
    at_local: str = Field(examples=["2026-12-02 15:04"])
    what: str = Field(examples=["已签收"])
    text: str | None = Field(None, description="what the handler wrote (progress, resolve), phone numbers masked")


class PhotoAfter(BaseModel):
    url: str
    thumbnail_url: str | None = None


class CaseProgress(BaseModel):
    """A case's progress in plain Chinese: no person's full name, no phone, no internal note."""

    case_number: str
    title: str
    state: str = Field(examples=["accepted"])
    state_text: str = Field(examples=["已签收，正在办理"])
    handler_unit: str | None = Field(None, examples=["西关街道城管执法中队"])
    handler_person: str | None = Field(None, description="masked: 张*", examples=["张*"])
    resolve_by: datetime | None = None
    resolve_by_local: str | None = Field(None, examples=["2026-12-05 18:00"])
    steps: list[Step]
    photos_after: list[PhotoAfter] = Field(default_factory=list, description="photos of the result")
    merged_into: str | None = Field(None, description="merged: the case number it is handled under")


class TokenIn(Strict):
    token: str = Field(min_length=20, max_length=2000, description="the token after #t= in the SMS's link")


class RatingLinkInfo(BaseModel):
    case_number: str
    title: str
    state: str
    state_text: str
    expires_at: datetime
    expires_at_local: str


class RatingIn(TokenIn):
    level: Level = Field(description="满意 satisfied, 基本满意 basically_satisfied, 不满意 unsatisfied")
    comment: str | None = Field(None, max_length=500, examples=["处理得很及时"])


class RatingAccepted(BaseModel):
    case_number: str
    level: Level
    level_text: str = Field(examples=["基本满意"])
    message: str = Field(examples=["感谢您的评价"])


def public_problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    return problem_responses({**PROBLEMS, 410: "the link has expired"}, *statuses, **described)
