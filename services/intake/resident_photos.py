"""The result photos a resident sees after looking their case up: short-lived signed URLs, no account needed.

A resident has no key, and a photo is read "like its case" (services/intake/uploads.py). So the look-up, having
checked the case number and the phone's ending, hands out one URL per copy of each `after` photo of that case,
signed (an HS256 JWT with the residents' link key, an audience of its own) and valid for `PHOTO_LINK_S`. The URL
names one attachment and one copy, nothing else; it is served without metadata like every copy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
import jwt

from shared.errors import NotFound

ALGORITHM = "HS256"
AUDIENCE = "griddispatch-resident-photo"  # never a rating link nor an access token, whatever the key
PHOTO_LINK_S = 3600
PATH = "/v1/public/photos/"
Copy = Literal["served", "thumbnail"]


class PhotoLinkNotFound(NotFound):
    """Not a link we signed, expired, or its photo gone: one answer."""

    code = "photo_not_found"


@dataclass(frozen=True, slots=True)
class PhotoClaim:
    attachment_id: uuid.UUID
    copy: Copy


def mint(key: bytes, attachment_id: uuid.UUID, copy: Copy, now: datetime) -> str:
    claims = {
        "aud": AUDIENCE,
        "sub": str(attachment_id),
        "copy": copy,
        "exp": int((now + timedelta(seconds=PHOTO_LINK_S)).timestamp()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read(key: bytes, token: str, now: datetime) -> PhotoClaim:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"], "verify_exp": False},
        )
        attachment_id = uuid.UUID(str(claims["sub"]))
        copy = claims.get("copy")
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise PhotoLinkNotFound("no such photo") from exc
    if copy not in ("served", "thumbnail") or now >= expires_at:
        raise PhotoLinkNotFound("no such photo, or its link has expired: look the case up again")
    return PhotoClaim(attachment_id, copy)


AFTER_PHOTOS = """SELECT id FROM attachments WHERE case_id = $1 AND role = 'after' ORDER BY created_at, id LIMIT 20"""


async def after_photos(conn: asyncpg.Connection, key: bytes, case_id: uuid.UUID, now: datetime) -> list[dict[str, str]]:
    """The case's photos of the result (role `after`), as signed {url, thumbnail_url} paths."""
    ids: list[uuid.UUID] = [r["id"] for r in await conn.fetch(AFTER_PHOTOS, case_id)]
    return [
        {"url": PATH + mint(key, i, "served", now), "thumbnail_url": PATH + mint(key, i, "thumbnail", now)} for i in ids
    ]
