"""An e-visit photo as a download, for the patient's and the review team's pages alike."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.text import slugify

from portal.lib.uploads import EXTENSIONS
from portal.telehealth.models import EVisitPhoto


def photo_response(found: EVisitPhoto) -> FileResponse:
    """The stored photo as a download, never shown inside the portal (for either side's view)."""
    try:
        handle = found.file.open("rb")
    except (FileNotFoundError, ValueError) as error:
        raise Http404 from error
    stem = slugify(found.name.rsplit(".", 1)[0])[:60] or "photo"
    filename = f"{stem}-{found.pk}.{EXTENSIONS.get(found.content_type, 'bin')}"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=found.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store, private"
    return response
