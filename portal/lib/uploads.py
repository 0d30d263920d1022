"""Checking uploaded files by what they contain, not by what they are called.

The file name and the browser's content type are the sender's claims. An image is
accepted only if Pillow reads it as a JPEG or PNG, and is then re-encoded from its
pixels alone, so nothing of the original file is kept: no EXIF, no GPS position, no
comments, nothing appended after the image data. A PDF must start like one, end like
one, and carry no scripts, launch actions or embedded files (which a viewer might run
or open). Every check raises a `ValidationError` with a message for the sender.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

# A phone photo (12 megapixels by default, 20 for most cameras) is below this; more is
# a decompression bomb or a way to make re-encoding eat seconds of CPU per file.
MAX_PIXELS = 24_000_000
# The most a PDF's compressed streams may expand to while we look inside them.
MAX_PDF_INFLATED_BYTES = 64 * 1024 * 1024
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
PDF = "application/pdf"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", PDF: "pdf"}
# PDF names that make a viewer run or open something.
_ACTIVE_PDF = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|OpenAction|AA|RichMedia|XFA)\b")


@dataclass(frozen=True)
class CheckedFile:
    """An accepted file's content (re-encoded for images), its real type and a safe name."""

    content: bytes
    content_type: str
    original_name: str = ""

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def check_size(upload: UploadedFile, limit: int) -> None:
    size = upload.size or 0
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > limit:
        raise ValidationError(
            _("The file is too large. Upload a file of %(limit)s or less.")
            % {"limit": filesizeformat(limit)},
            code="too_large",
        )


def check_image(upload: UploadedFile, limit: int, wrong_type: str = "") -> CheckedFile:
    """A JPEG or PNG of at most `limit` bytes, re-encoded; else a ValidationError."""
    check_size(upload, limit)
    message = wrong_type or _("Upload a JPEG or PNG image.")
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            if image.format not in IMAGE_FORMATS:
                raise ValidationError(message, code="wrong_type")
            if image.width * image.height > MAX_PIXELS:
                raise ValidationError(_("The image has too many pixels."), code="too_large")
            return CheckedFile(
                reencode(image, image.format), IMAGE_FORMATS[image.format], safe_name(upload.name)
            )
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise ValidationError(message, code="wrong_type") from error


def reencode(image: Image.Image, image_format: str) -> bytes:
    # Turn the pixels upright first: the orientation tag goes with the rest of the metadata.
    upright = ImageOps.exif_transpose(image) or image
    keeps_alpha = image_format == "PNG" and ("A" in upright.getbands() or "transparency" in upright.info)
    mode = "RGBA" if keeps_alpha else "RGB"
    clean = upright.convert(mode)
    # Savers fall back to `info` for an ICC profile and the like; the copy keeps none of it.
    clean.info = {}
    out = io.BytesIO()
    if image_format == "JPEG":
        clean.save(out, "JPEG", quality=90)
    else:
        clean.save(out, "PNG")
    return out.getvalue()


def check_pdf(upload: UploadedFile, limit: int) -> CheckedFile:
    """A PDF of at most `limit` bytes with nothing a viewer would run; else a ValidationError."""
    check_size(upload, limit)
    upload.seek(0)
    content = upload.read(limit + 1)
    if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-1024:]:
        raise ValidationError(_("This is not a complete PDF file."), code="wrong_type")
    if any(_ACTIVE_PDF.search(part) for part in _pdf_parts(content)):
        raise ValidationError(
            _(
                "This PDF contains scripts or embedded files, which cannot be accepted. Print it to a new PDF first."
            ),
            code="active_content",
        )
    return CheckedFile(content, PDF, safe_name(upload.name))


_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _pdf_parts(content: bytes) -> Iterator[bytes]:
    """The file and each compressed stream inside it, with `#41`-style name escapes decoded.

    A name can be spelt `/Java#53cript`, and a whole dictionary can hide in a compressed
    object stream, so both are undone before looking. A stream that will not inflate
    (an image, say) is skipped; inflating stops at `MAX_PDF_INFLATED_BYTES` in all.
    """
    yield _decode_names(content)
    budget = MAX_PDF_INFLATED_BYTES
    for match in _STREAM.finditer(content):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(match.group(1), budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        yield _decode_names(inflated)
        if budget <= 0:
            # Too much to look through: treat like active content rather than guess.
            yield b"/JavaScript"
            return


def _decode_names(data: bytes) -> bytes:
    return _NAME_ESCAPE.sub(lambda found: bytes([int(found.group(1), 16)]), data)


def check_document_or_image(upload: UploadedFile, limit: int) -> CheckedFile:
    """A PDF, JPEG or PNG (told apart by their first bytes), checked as such."""
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return check_pdf(upload, limit)
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return check_image(upload, limit, _("Upload a PDF, JPEG or PNG file."))
    check_size(upload, limit)
    raise ValidationError(_("Upload a PDF, JPEG or PNG file."), code="wrong_type")


_UNSAFE = re.compile(r"[^\w .()+-]", re.UNICODE)


def safe_name(name: str | None) -> str:
    """The last part of the sender's file name, with anything but plain characters replaced.

    Kept only to label the download; files are stored under random names.
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    return cleaned[-120:]
