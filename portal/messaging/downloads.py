"""Serving a message attachment: always as a download, never rendered inside the portal.

Callers load the attachment through the access policy first (patient side or pool side)
and audit the read; this only streams the stored bytes with headers that stop a browser
from sniffing or running them.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.text import slugify

from portal.lib.uploads import EXTENSIONS
from portal.messaging.models import Attachment


def attachment_response(attachment: Attachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as error:
        raise Http404 from error
    response = FileResponse(
        handle, as_attachment=True, filename=download_name(attachment), content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store, private"
    return response


def download_name(attachment: Attachment) -> str:
    stem = attachment.original_name.rsplit(".", 1)[0]
    extension = EXTENSIONS.get(attachment.content_type, "bin")
    return f"{slugify(stem)[:60] or 'attachment'}-{attachment.pk}.{extension}"
