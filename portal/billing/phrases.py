"""How billing reads in the patient's access log ("Who viewed my record")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.payment_start", _("started a payment"))
register("billing.payment_result", _("completed a payment"))
