"""How billing (insurance, claims, financial assistance) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.insurance_view", _("looked at your insurance"))
register("billing.card_view", _("downloaded a photo of your insurance card"))
register("billing.coverage_add", _("added insurance to your account"))
register("billing.claims_view", _("looked at your insurance claims"))
register("billing.assistance_view", _("looked at your financial assistance applications"))
register("billing.assistance_apply", _("applied for financial assistance"))
register("billing.assistance_staff_view", _("read your financial assistance application"))
register(
    "billing.assistance_document_view", _("opened the proof sent with your financial assistance application")
)
register("billing.assistance_approve", _("approved your financial assistance application"))
register("billing.assistance_deny", _("did not approve your financial assistance application"))
register("billing.assistance_queue_view", _("looked at the financial assistance queue"))
