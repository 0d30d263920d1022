"""Insurance card photos: checked by content, size-limited, re-encoded without metadata."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from portal.scheduling.coverage import check_card_image


def jpeg_with_exif(size: tuple[int, int] = (60, 40), orientation: int = 1) -> bytes:
    """A JPEG carrying a camera make, a GPS position and a comment, as phone photos do."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (44.0, 1.0, 30.0),
    }
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, "JPEG", exif=exif, comment=b"home address")
    return out.getvalue()


def png(size: tuple[int, int] = (30, 20), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def upload(content: bytes, name: str = "card.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_a_jpeg_loses_its_exif_gps_and_comment() -> None:
    original = jpeg_with_exif()
    assert b"SpyCam" in original
    card = check_card_image(upload(original))
    assert card.content_type == "image/jpeg"
    assert b"SpyCam" not in card.content and b"home address" not in card.content
    with Image.open(io.BytesIO(card.content)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert "exif" not in image.info and "comment" not in image.info


def test_the_photo_is_turned_upright_before_the_orientation_tag_goes() -> None:
    card = check_card_image(upload(jpeg_with_exif((60, 40), orientation=6)))
    with Image.open(io.BytesIO(card.content)) as image:
        assert image.size == (40, 60)


def test_a_png_is_accepted_and_keeps_transparency() -> None:
    card = check_card_image(upload(png(mode="RGBA"), "card.png", "image/png"))
    assert card.content_type == "image/png"
    with Image.open(io.BytesIO(card.content)) as image:
        assert image.format == "PNG" and image.mode == "RGBA"


@pytest.mark.parametrize(
    "content",
    [
        b"just some text, renamed to look like a photo",
        b"%PDF-1.7\n%%EOF\n",
        b"\xff\xd8\xff\xe0 a truncated jpeg header and nothing else",
        b"GIF89a" + b"\x00" * 20,
    ],
)
def test_anything_but_a_real_jpeg_or_png_is_refused_whatever_its_name(content: bytes) -> None:
    with pytest.raises(ValidationError) as refused:
        check_card_image(upload(content, "card.jpg", "image/jpeg"))
    assert refused.value.code == "wrong_type"


def test_a_gif_is_refused_even_though_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(ValidationError) as refused:
        check_card_image(upload(out.getvalue(), "card.png", "image/png"))
    assert refused.value.code == "wrong_type"


def test_too_big_and_empty_files_are_refused(settings: Any) -> None:
    content = jpeg_with_exif()
    settings.PORTAL_INSURANCE_CARD_MAX_BYTES = len(content) - 1
    with pytest.raises(ValidationError) as refused:
        check_card_image(upload(content))
    assert refused.value.code == "too_large"
    with pytest.raises(ValidationError) as empty:
        check_card_image(upload(b""))
    assert empty.value.code == "empty"


def test_a_decompression_bomb_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        check_card_image(upload(png(size=(8000, 6000), mode="1"), "card.png", "image/png"))
    assert refused.value.code == "too_large"
