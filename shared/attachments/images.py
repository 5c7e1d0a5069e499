"""Photos in, safe copies out.

The type is read from the content, never the name; the file's size and the image's pixel count are limited
before anything is decoded in full (a decompression bomb is refused, not decoded). Every copy that is ever
served is re-encoded here as a JPEG holding pixels and nothing else: no EXIF (so no GPS), no comment, no ICC
payload, and none of whatever bytes a polyglot file carried after or inside the image. The EXIF location and
time are read first and handed back, for the case to keep. Pure: bytes in, bytes out, no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from shared.attachments.exif import Place, place_of, taken_at_of
from shared.errors import AttachmentTooLarge, ImageTooManyPixels, UnreadableImage, UnsupportedMediaType

OriginalType = Literal["image/jpeg", "image/png", "image/heic", "image/heif"]
SERVED_TYPE: Final = "image/jpeg"
ACCEPTED = "JPEG, PNG or HEIC/HEIF"

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_PILLOW_FORMATS: dict[OriginalType, list[str]] = {
    "image/jpeg": ["JPEG"],
    "image/png": ["PNG"],
    "image/heic": ["HEIF"],
    "image/heif": ["HEIF"],
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024  # one file
    max_pixels: int = 50_000_000  # width x height; about 150 MB decoded
    max_edge: int = 4096  # the served copy's longest side
    thumbnail_edge: int = 320
    quality: int = 85


@dataclass(frozen=True, slots=True)
class Rendition:
    """A re-encoded JPEG and its size in pixels."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Photo:
    original_type: OriginalType
    original_bytes: int
    sha256: str  # of the bytes uploaded
    served: Rendition
    thumbnail: Rendition
    place: Place | None  # from EXIF GPS: for the case, never in a served copy
    taken_at: datetime | None
    content_type: str = SERVED_TYPE


def sniff(data: bytes) -> OriginalType | None:
    """The image type the content is (by its signature), or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        if data[8:12] in _HEIC_BRANDS:
            return "image/heic"
        if data[8:12] in _HEIF_BRANDS:
            return "image/heif"
    return None


def check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise AttachmentTooLarge(
            f"a file may be at most {limits.max_bytes} bytes; this one is {size}",
            field="file",
            max_bytes=limits.max_bytes,
        )


@functools.cache
def _heif_opener() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def process(data: bytes, limits: Limits, default_tz: str = "Asia/Shanghai") -> Photo:
    """Check an uploaded file and make its served copy and thumbnail; raises a GridDispatchError (4xx) on bad input."""
    check_size(len(data), limits)
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMediaType(f"a photo must be {ACCEPTED}; this file's content is none of them", field="file")
    if kind in ("image/heic", "image/heif"):
        _heif_opener()
    with warnings.catch_warnings():
        # Pillow warns (then raises) past its own pixel limit; a warning here is a refusal, not a log line.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[kind]) as image:
                _check_pixels(image.width, image.height, limits)
                exif = image.getexif()
                place, taken_at = place_of(exif), taken_at_of(exif, default_tz)
                if kind == "image/jpeg":
                    image.draft("RGB", (limits.max_edge, limits.max_edge))  # decode big JPEGs scaled down
                pixels = _srgb(_flatten(ImageOps.exif_transpose(image)), image.info.get("icc_profile"))
            served = _encode(pixels, limits.max_edge, limits.quality)
            thumbnail = _encode(pixels, limits.thumbnail_edge, limits.quality)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooManyPixels(
                f"the image has too many pixels to decode safely (at most {limits.max_pixels})",
                field="file",
                max_pixels=limits.max_pixels,
            ) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, KeyError) as exc:
            raise UnreadableImage(
                f"the file looks like {kind} but cannot be decoded (truncated or corrupt)", field="file"
            ) from exc
    return Photo(
        original_type=kind,
        original_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        served=served,
        thumbnail=thumbnail,
        place=place,
        taken_at=taken_at,
    )


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise ImageTooManyPixels(
            f"the image is {width}x{height} pixels; at most {limits.max_pixels} pixels are accepted",
            field="file",
            max_pixels=limits.max_pixels,
        )


def _flatten(image: Image.Image) -> Image.Image:
    """Plain RGB: transparency laid on white (a JPEG has none)."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, "white")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The pixels converted to sRGB when the photo has its own colour profile (an iPhone's Display P3), so
    that dropping the profile from the served copy does not shift its colours."""
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unreadable profile: the pixels as they are
    return converted if converted is not None else image


def _encode(image: Image.Image, edge: int, quality: int) -> Rendition:
    copy = image.copy()
    copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)  # only ever shrinks
    copy.info.clear()  # nothing of the original's metadata rides along
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True)
    return Rendition(out.getvalue(), copy.width, copy.height)
