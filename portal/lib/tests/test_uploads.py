"""Uploads are judged by their content: real images re-encoded, PDFs without active parts."""

from __future__ import annotations

import io
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from portal.lib.uploads import check_document_or_image, check_image, check_pdf, safe_name

LIMIT = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (16, 12), (1, 2, 3))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {2: (44.0, 1.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue() + b"<script>appended after the image</script>"


def test_a_jpeg_is_reencoded_without_its_metadata_or_trailing_bytes() -> None:
    original = jpeg_with_gps()
    checked = check_image(upload("photo.jpg", original), LIMIT)
    assert checked.content_type == "image/jpeg"
    with Image.open(io.BytesIO(checked.content)) as image:
        assert not image.getexif()
        assert "comment" not in image.info
        assert image.size == (16, 12)
    assert b"PhoneMaker" not in checked.content and b"<script>" not in checked.content


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"just some text"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),  # a signature with nothing behind it
        ("page.pdf", b"<html><script>alert(1)</script></html>"),
        ("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ],
)
def test_content_that_is_not_what_it_claims_is_refused(name: str, content: bytes) -> None:
    with pytest.raises(ValidationError):
        check_document_or_image(upload(name, content), LIMIT)


@pytest.mark.parametrize("active", [b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/OpenAction"])
def test_a_pdf_that_could_run_something_is_refused(active: bytes) -> None:
    content = PDF.replace(b"/Type /Catalog", b"/Type /Catalog " + active + b" (x)")
    with pytest.raises(ValidationError) as refused:
        check_pdf(upload("letter.pdf", content), LIMIT)
    assert refused.value.code == "active_content"


def test_a_truncated_pdf_is_refused() -> None:
    with pytest.raises(ValidationError):
        check_pdf(upload("letter.pdf", PDF[:30]), LIMIT)


def test_size_limits_and_empty_files() -> None:
    with pytest.raises(ValidationError) as too_big:
        check_document_or_image(upload("letter.pdf", PDF), 10)
    assert too_big.value.code == "too_large"
    with pytest.raises(ValidationError) as empty:
        check_document_or_image(upload("letter.pdf", b""), LIMIT)
    assert empty.value.code == "empty"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\x.pdf", "x.pdf"),
        ("<script>.pdf", "_script_.pdf"),
        ("..", ""),
        (None, ""),
    ],
)
def test_names_keep_only_a_harmless_last_part(given: str | None, kept: str) -> None:
    assert safe_name(given) == kept


def test_a_valid_pdf_is_kept_as_sent() -> None:
    checked = check_document_or_image(upload("../letter.pdf", PDF), LIMIT)
    assert checked.content == PDF and checked.content_type == "application/pdf"
    assert checked.original_name == "letter.pdf" and checked.extension == "pdf"


def test_active_content_cannot_hide_behind_name_escapes_or_compression() -> None:
    escaped = PDF.replace(b"/Type /Catalog", b"/Type /Catalog /Open#41ction 2 0 R /Java#53cript (x)")
    hidden = zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
    in_stream = PDF.replace(
        b"trailer",
        b"2 0 obj\n<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
        + hidden
        + b"\nendstream\nendobj\ntrailer",
    )
    for content in (escaped, in_stream):
        with pytest.raises(ValidationError) as refused:
            check_pdf(upload("letter.pdf", content), LIMIT)
        assert refused.value.code == "active_content"


def test_a_pdf_with_ordinary_compressed_text_is_accepted() -> None:
    text = zlib.compress(b"BT /F1 12 Tf (Hello) Tj ET")
    content = PDF.replace(
        b"trailer", b"2 0 obj\n<< /Filter /FlateDecode >>\nstream\n" + text + b"\nendstream\nendobj\ntrailer"
    )
    assert check_pdf(upload("letter.pdf", content), LIMIT).content == content


def test_an_image_with_too_many_pixels_is_refused_before_reencoding() -> None:
    out = io.BytesIO()
    Image.new("L", (6000, 6000)).save(out, "PNG")
    with pytest.raises(ValidationError) as refused:
        check_image(upload("huge.png", out.getvalue()), 10 * LIMIT)
    assert refused.value.code == "too_large"


def test_an_icc_profile_is_not_carried_over() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG", icc_profile=b"fake-profile-bytes" * 4)
    checked = check_image(upload("photo.png", out.getvalue()), LIMIT)
    with Image.open(io.BytesIO(checked.content)) as image:
        assert "icc_profile" not in image.info
