"""Checking uploaded proof documents: a PDF, JPEG or PNG checked by content (`lib/uploads.py`).

Images are re-encoded from their pixels, so a photo of a birth certificate keeps no
GPS position or camera details; PDFs with scripts or embedded files are refused.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from portal.lib.uploads import CheckedFile, check_document_or_image

CheckedUpload = CheckedFile


def check_document(upload: UploadedFile) -> CheckedFile:
    """Accept a PDF, JPEG or PNG up to the configured size, or raise a ValidationError."""
    return check_document_or_image(upload, settings.PORTAL_PROXY_DOCUMENT_MAX_BYTES)
