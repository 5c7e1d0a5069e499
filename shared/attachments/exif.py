"""What a photo's EXIF says about where and when it was taken: kept for the case, never served."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image

_GPS = ExifTags.GPS
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Place:
    """WGS84 degrees, as the phone's GPS wrote them."""

    lat: float
    lon: float


def place_of(exif: Image.Exif) -> Place | None:
    """The GPS position, or None when there is none or it is not a position on Earth."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(gps.get(_GPS.GPSLatitude), gps.get(_GPS.GPSLatitudeRef), "S")
    lon = _degrees(gps.get(_GPS.GPSLongitude), gps.get(_GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # what a phone writes before it has a fix
        return None
    return Place(lat=lat, lon=lon)


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    total = d + m / 60 + s / 3600
    if not math.isfinite(total):
        return None
    ref_text = ref.decode("ascii", "replace") if isinstance(ref, bytes) else str(ref or "")
    return round(-total if ref_text.strip().upper() == negative else total, 7)


def taken_at_of(exif: Image.Exif, default_tz: str) -> datetime | None:
    """When the photo was taken: DateTimeOriginal with its offset, else in the district's time zone."""
    details = exif.get_ifd(ExifTags.IFD.Exif)
    text = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(text, str):
        return None
    try:
        local = datetime.strptime(text.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 (the zone is set below)
    except ValueError:
        return None
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    match = _OFFSET.match(offset.strip()) if isinstance(offset, str) else None
    if match is None:
        return local.replace(tzinfo=ZoneInfo(default_tz))
    sign = -1 if match.group(1) == "-" else 1
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return local.replace(tzinfo=timezone(sign * delta))
