"""How bulk export reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("bulk.export", _("a backend service exported the record (bulk data export)"))
