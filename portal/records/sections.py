"""The sections of the record, by the slug used in URLs, exports and share links."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

StrOrPromise = str | Promise

SECTIONS: dict[str, StrOrPromise] = {
    "results": _("Test results"),
    "imaging": _("Imaging"),
    "notes": _("Clinical notes"),
    "medications": _("Medications"),
    "allergies": _("Allergies"),
    "immunizations": _("Immunizations"),
    "problems": _("Problems and conditions"),
    "visits": _("Visits"),
    "procedures": _("Procedures"),
    "documents": _("Documents"),
}

# Model labels a patient may ask to have corrected ("this looks wrong"), by section.
CORRECTABLE: dict[str, str] = {
    "records.resultreport": "results",
    "records.observation": "results",
    "records.clinicalnote": "notes",
    "records.medication": "medications",
    "records.allergy": "allergies",
    "records.immunization": "immunizations",
    "records.problem": "problems",
    "records.encounter": "visits",
    "records.procedure": "procedures",
    "records.document": "documents",
}
