"""How downloading, printing and sharing the record read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("records.print", _("opened your record to print it"))
register("records.export_pdf", _("downloaded your record as a PDF"))
register("records.export_fhir", _("downloaded your record for a health app (FHIR)"))
register("records.share_create", _("made a link to share your record"), private=True)
register("records.share_revoke", _("revoked a link that shared your record"), private=True)
register("records.share_open", _("opened the share link you made for %(recipient)s"), private=True)
register(
    "records.share_pdf", _("downloaded a PDF through the share link you made for %(recipient)s"), private=True
)
register(
    "records.share_wrong_passcode",
    _("typed a wrong passcode for the share link you made for %(recipient)s"),
    private=True,
)
register(
    "records.share_refused",
    _("tried the share link you made for %(recipient)s, which no longer works"),
    private=True,
)
