"""How imports read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("records.imported", _("added results or other records sent by the clinic's systems"))
