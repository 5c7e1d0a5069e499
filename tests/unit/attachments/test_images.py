"""The image checks: type by content, limits, bombs, polyglots, EXIF kept for the case and gone from every copy."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image

from shared.attachments.images import Limits, process, sniff
from shared.errors import AttachmentTooLarge, ImageTooManyPixels, UnreadableImage, UnsupportedMediaType
from tests import photos

LIMITS = Limits()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def no_metadata(data: bytes) -> None:
    image = opened(data)
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info and "comment" not in image.info and "icc_profile" not in image.info


def test_a_png_named_anything_is_read_as_png_and_served_as_jpeg() -> None:
    photo = process(photos.png(), LIMITS)
    assert photo.original_type == "image/png" and photo.content_type == "image/jpeg"
    assert opened(photo.served.data).format == "JPEG" and (photo.served.width, photo.served.height) == (400, 300)


def test_transparency_is_laid_on_white() -> None:
    photo = process(photos.png(alpha=True), LIMITS)
    assert opened(photo.served.data).mode == "RGB"


@pytest.mark.parametrize(
    "data",
    [
        photos.zip_file(),
        b"GIF89a" + b"\0" * 100,
        b"%PDF-1.7\n",
        b"",
        b"<html></html>",
        b"\0\0\0\x18ftypavif" + b"\0" * 20,
    ],
)
def test_anything_but_jpeg_png_heic_is_refused_by_content(data: bytes) -> None:
    assert sniff(data) is None
    with pytest.raises(UnsupportedMediaType):
        process(data, LIMITS)


def test_a_file_over_the_size_limit_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(AttachmentTooLarge) as refused:
        process(photos.jpeg(), Limits(max_bytes=1000))
    assert refused.value.code == "attachment_too_large" and refused.value.detail["max_bytes"] == 1000


def test_a_decompression_bomb_is_refused_at_our_limit() -> None:
    with pytest.raises(ImageTooManyPixels):
        process(photos.bomb(), LIMITS)


def test_a_bomb_past_pillows_own_limit_is_refused_too() -> None:
    with pytest.raises(ImageTooManyPixels):  # Pillow's DecompressionBombError at open, mapped
        process(photos.bomb(16_000, 16_000), Limits(max_pixels=10**12))


def test_pillows_warning_band_is_a_refusal_not_a_warning() -> None:
    over_warning = Image.MAX_IMAGE_PIXELS + 1_000_000 if Image.MAX_IMAGE_PIXELS else 100_000_000
    side = int(over_warning**0.5) + 1
    with pytest.raises(ImageTooManyPixels):
        process(photos.bomb(side, side), Limits(max_pixels=10**12))


def test_a_truncated_jpeg_is_unreadable_not_a_crash() -> None:
    with pytest.raises(UnreadableImage):
        process(photos.jpeg()[:200], LIMITS)


def test_a_polyglot_is_neutralised_nothing_appended_or_commented_survives() -> None:
    data = photos.polyglot()
    assert b"PK\x03\x04" in data and photos.HTML in data
    photo = process(data, LIMITS)
    for copy in (photo.served.data, photo.thumbnail.data):
        assert b"PK\x03\x04" not in copy and b"<html" not in copy and b"script" not in copy
        no_metadata(copy)


def test_exif_location_and_time_are_kept_and_stripped_from_every_copy() -> None:
    taken = datetime(2026, 11, 20, 9, 30, 5, tzinfo=timezone(timedelta(hours=8)))
    data = photos.jpeg(gps=photos.XIANGMIYUAN, taken=taken)
    assert opened(data).getexif().get_ifd(0x8825)  # the upload does carry GPS
    photo = process(data, LIMITS)
    assert photo.place is not None
    assert photo.place.lat == pytest.approx(34.2721, abs=1e-5) and photo.place.lon == pytest.approx(108.9352, abs=1e-5)
    assert photo.taken_at == taken
    for copy in (photo.served.data, photo.thumbnail.data):
        no_metadata(copy)
        assert opened(copy).getexif().get_ifd(0x8825) == {}


def test_southern_and_western_positions_are_negative() -> None:
    photo = process(photos.jpeg(gps=(-33.8688, -70.6693)), LIMITS)
    assert photo.place is not None and photo.place.lat < 0 and photo.place.lon < 0


def test_a_time_without_offset_is_the_districts() -> None:
    photo = process(photos.jpeg(taken=datetime(2026, 11, 20, 9, 30)), LIMITS)  # noqa: DTZ001 (EXIF has no zone)
    assert photo.taken_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


def test_no_exif_no_place() -> None:
    photo = process(photos.png(), LIMITS)
    assert photo.place is None and photo.taken_at is None


def test_a_heic_photo_becomes_a_jpeg_and_keeps_its_location() -> None:
    data = photos.heic(gps=photos.XIANGMIYUAN)
    assert sniff(data) == "image/heic"
    photo = process(data, LIMITS)
    assert photo.original_type == "image/heic" and opened(photo.served.data).format == "JPEG"
    assert photo.place is not None and photo.place.lat == pytest.approx(34.2721, abs=1e-5)
    no_metadata(photo.served.data)


def test_the_thumbnail_and_the_served_copy_are_bounded() -> None:
    photo = process(photos.jpeg(5000, 1000), Limits(max_edge=2000, thumbnail_edge=320))
    assert (photo.served.width, photo.served.height) == (2000, 400)
    assert (photo.thumbnail.width, photo.thumbnail.height) == (320, 64)
    assert opened(photo.thumbnail.data).size == (320, 64)


def test_the_digest_is_of_the_upload() -> None:
    import hashlib

    data = photos.jpeg()
    assert process(data, LIMITS).sha256 == hashlib.sha256(data).hexdigest()
