"""Residents' self-service, no account: look a case up by its number and the phone's last four digits, and rate
it through the signed link of the outcome SMS (docs/intake-api.md, "Residents' self-service")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from services.intake import resident_photos, resident_queries, resident_rating, resident_view, uploads
from services.intake.deps import Res
from services.intake.resident_deps import LOOKUPS, RATINGS, Desk, address
from services.intake.resident_schemas import (
    CaseProgress,
    LookupIn,
    RatingAccepted,
    RatingIn,
    RatingLinkInfo,
    TokenIn,
    public_problems,
)
from shared.errors import GridDispatchError, NotFound, RateLimited, StorageUnavailable
from shared.logging import bind_context
from shared.queries import attachments as attachment_rows
from shared.resident_links import RatingClaim, read

router = APIRouter(prefix="/v1/public", tags=["residents"], responses=public_problems(400, 413, 415, 422, 429, 503))

Address = Annotated[str, Depends(address)]


class CaseNotFound(NotFound):
    """No such case, or not those digits: one answer for both, so a guess learns nothing."""

    code = "case_not_found"


@router.post(
    "/cases/lookup",
    response_model=CaseProgress,
    summary="A resident looks their case up by its number and the last four digits of the phone it came from",
    description=(
        "No account needed. The same 404 `case_not_found` for a wrong phone ending and for a case number that does "
        "not exist. Limited per client address (`lookup_per_address` a window) and per case number "
        "(`failures_per_case` wrong answers a window, then 429 for that number whatever the digits, until the window "
        "has passed): guessing the 10,000 endings is not possible. A POST, so the digits stay out of URLs and logs."
    ),
    responses=public_problems(404, _404="`case_not_found`: no such case, or not the phone it was reported from"),
)
async def lookup_case(body: LookupIn, res: Res, desk: Desk, client: Address) -> CaseProgress:
    number = body.case_number.upper()
    try:
        desk.per_address.take(f"address:{client}")
        desk.per_case.check(f"case:{number}")
    except RateLimited:
        LOOKUPS.labels("limited").inc()
        raise
    async with res.pool.acquire() as conn:
        row = await resident_queries.case_by_number(conn, number)
        if row is None or not resident_view.phone_matches(row["phones"], body.phone_last4):
            desk.per_case.count(f"case:{number}")
            LOOKUPS.labels("not_found").inc()
            raise CaseNotFound("no case with this number was reported from a phone ending in these digits")
        with bind_context(case_id=str(row["case_id"])):
            entries = await resident_queries.history(conn, row["case_id"])
            photos = await resident_photos.after_photos(conn, desk.link_key, row["case_id"], res.clock())
    LOOKUPS.labels("found").inc()
    return CaseProgress.model_validate(resident_view.progress(row, entries, photos, res.settings.district_timezone))


def _claim(desk: Desk, res: Res, client: str, token: str) -> RatingClaim:
    try:
        desk.ratings.take(f"address:{client}")
        return read(desk.link_key, token, res.clock())
    except GridDispatchError as exc:
        RATINGS.labels(_outcome(exc)).inc()
        raise


def _outcome(exc: GridDispatchError) -> str:
    return {"rating_link_expired": "expired", "rating_link_used": "used", "rate_limited": "limited"}.get(
        exc.code, "forged" if isinstance(exc, NotFound) else exc.code
    )


_LINK_PROBLEMS = {
    "_404": "`rating_link_not_found`: not a link this system signed",
    "_409": "`rating_link_used`: the link has been used already; `not_rateable`: the case is not waiting for a rating",
    "_410": "`rating_link_expired`: the link's time has passed",
}


@router.post(
    "/ratings/check",
    response_model=RatingLinkInfo,
    summary="What a rating link is for (the rating page shows it before the resident rates)",
    responses=public_problems(404, 409, 410, **_LINK_PROBLEMS),
)
async def check_rating_link(body: TokenIn, res: Res, desk: Desk, client: Address) -> RatingLinkInfo:
    claim = _claim(desk, res, client, body.token)
    tz = res.settings.district_timezone
    async with res.pool.acquire() as conn:
        try:
            row = await resident_rating.rateable_case(conn, claim)
        except GridDispatchError as exc:
            RATINGS.labels(_outcome(exc)).inc()
            raise
    return RatingLinkInfo(
        case_number=row["case_number"],
        title=resident_view.mask_numbers(row["title"]),
        state=row["state"],
        state_text=resident_view.STATE_TEXT.get(row["state"], row["state"]),
        expires_at=claim.expires_at,
        expires_at_local=resident_view.local(claim.expires_at, tz),
    )


@router.post(
    "/ratings",
    status_code=202,
    response_model=RatingAccepted,
    summary="A resident rates their case through the SMS's link: 满意, 基本满意 or 不满意, and a comment",
    description=(
        "The link works once and expires (`GRIDDISPATCH_RESIDENT_LINK_DAYS`, never past the case's follow-up window). "
        "基本满意 counts as satisfied (the case closes), 不满意 reopens the case for its lead; the level is kept in "
        "the history (`detail.level`) and counted in the statistics. The actor is the resident."
    ),
    responses=public_problems(404, 409, 410, **_LINK_PROBLEMS),
)
async def rate_by_link(body: RatingIn, res: Res, desk: Desk, client: Address) -> RatingAccepted:
    claim = _claim(desk, res, client, body.token)
    with bind_context(case_id=str(claim.case_id)):
        async with res.pool.acquire() as conn:
            try:
                rated = await resident_rating.rate(
                    conn, res.producer, res.topics.actions, claim, body.level, body.comment
                )
            except GridDispatchError as exc:
                RATINGS.labels(_outcome(exc)).inc()
                raise
    RATINGS.labels("rated").inc()
    return RatingAccepted(
        case_number=rated.case_number,
        level=body.level,
        level_text=resident_view.LEVEL_WORDS[body.level],
        message="感谢您的评价" if body.level != "unsatisfied" else "感谢您的评价，我们将重新办理",
    )


@router.get(
    "/photos/{token}",
    response_class=Response,
    summary="A result photo of a case the resident looked up (a signed link from the look-up, valid an hour)",
    description="The JPEG without metadata (no EXIF location), as every served copy; 404 `photo_not_found` for a "
    "link not signed here, expired, or whose photo is gone.",
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}, "description": "the JPEG"},
        **public_problems(404, _404="`photo_not_found`"),
    },
)
async def get_resident_photo(res: Res, desk: Desk, token: str = Path(min_length=20, max_length=2000)) -> Response:
    claim = resident_photos.read(desk.link_key, token, res.clock())
    async with res.pool.acquire() as conn:
        row = await attachment_rows.by_id(conn, claim.attachment_id)
    if row is None or row.case_id is None or row.role != "after":
        raise resident_photos.PhotoLinkNotFound("no such photo, or its link has expired: look the case up again")
    with bind_context(case_id=str(row.case_id), attachment_id=str(row.id)):
        if res.uploads is None:
            raise StorageUnavailable("this intake has no attachment storage configured")
        data = await uploads.read_copy(res.uploads, row, claim.copy)
    return Response(
        data,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Referrer-Policy": "no-referrer",
        },
    )
