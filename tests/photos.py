"""Photo files for the attachment tests, made with Pillow (and pillow-heif) on the spot."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime

from PIL import ExifTags, Image

XIANGMIYUAN = (34.2721, 108.9352)  # a spot in the sample district (lat, lon)
HTML = b"<html><body><script>alert('polyglot')</script></body></html>"


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def exif_with(gps: tuple[float, float] | None = None, taken: datetime | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    if gps is not None:
        lat, lon = gps
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            ExifTags.GPS.GPSLatitude: _dms(lat),
            ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            ExifTags.GPS.GPSLongitude: _dms(lon),
        }
    if taken is not None:
        exif[ExifTags.IFD.Exif] = {
            ExifTags.Base.DateTimeOriginal: taken.strftime("%Y:%m:%d %H:%M:%S"),
            **(
                {ExifTags.Base.OffsetTimeOriginal: taken.strftime("%z")[:3] + ":" + taken.strftime("%z")[3:]}
                if taken.tzinfo
                else {}
            ),
        }
    return exif


def picture(width: int = 640, height: int = 480, mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (width, height), "white")
    for x in range(0, width, 16):  # something to look at: stripes, so the codec has work to do
        image.paste((200, 40, 40) if mode == "RGB" else 0, (x, 0, min(x + 8, width), height))
    return image


def jpeg(
    width: int = 640,
    height: int = 480,
    gps: tuple[float, float] | None = None,
    taken: datetime | None = None,
    comment: bytes | None = None,
) -> bytes:
    out = io.BytesIO()
    extra = {"comment": comment} if comment else {}
    picture(width, height).save(out, "JPEG", exif=exif_with(gps, taken), quality=90, **extra)
    return out.getvalue()


def png(width: int = 400, height: int = 300, alpha: bool = False) -> bytes:
    out = io.BytesIO()
    image = picture(width, height)
    if alpha:
        image.putalpha(128)
    image.save(out, "PNG")
    return out.getvalue()


def heic(width: int = 640, height: int = 480, gps: tuple[float, float] | None = None) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    picture(width, height).save(out, "HEIF", exif=exif_with(gps).tobytes(), quality=80)
    return out.getvalue()


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not a photo")
    return out.getvalue()


def polyglot() -> bytes:
    """A JPEG that is also a zip and carries HTML: in a comment inside, and appended after the image."""
    return jpeg(comment=HTML) + zip_file() + HTML


def bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A real decompression bomb: a few kilobytes of PNG that decode to width x height pixels."""
    out = io.BytesIO()
    Image.new("1", (width, height), 0).save(out, "PNG", optimize=False)
    return out.getvalue()


def noise_png(megabytes: int = 30) -> bytes:
    """A PNG of random pixels (incompressible), about `megabytes` MB."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=1)
    return out.getvalue()
