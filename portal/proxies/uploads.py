"""Checking uploaded proof documents by what they contain, not what they are called."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from portal.proxies.models import ProxyDocument

# The first bytes of each accepted format. The name and the browser's content type are
# the sender's claims; these are the file's.
SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", ProxyDocument.ContentType.PDF),
    (b"\xff\xd8\xff", ProxyDocument.ContentType.JPEG),
    (b"\x89PNG\r\n\x1a\n", ProxyDocument.ContentType.PNG),
]


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded file whose size and content type have been checked."""

    file: UploadedFile
    content_type: str
    size: int

    @property
    def original_name(self) -> str:
        return (self.file.name or "")[-200:]


def sniff(head: bytes) -> str | None:
    """The content type the file's first bytes show, if it is one we accept."""
    return next((kind for signature, kind in SIGNATURES if head.startswith(signature)), None)


def check_document(upload: UploadedFile) -> CheckedUpload:
    """Accept a PDF, JPEG or PNG up to the configured size, or raise a ValidationError."""
    limit = settings.PORTAL_PROXY_DOCUMENT_MAX_BYTES
    size = upload.size or 0
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > limit:
        raise ValidationError(
            _("The file is too large. Upload a file of %(limit)s or less.")
            % {"limit": filesizeformat(limit)},
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    content_type = sniff(head)
    if content_type is None:
        raise ValidationError(_("Upload a PDF, JPEG or PNG file."), code="wrong_type")
    return CheckedUpload(upload, content_type, size)
