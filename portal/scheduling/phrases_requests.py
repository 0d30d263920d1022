"""How the requests part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

__all__ = ["_", "register"]

register("appointment_request.submit", _("asked the scheduling desk for an appointment"))
register("appointment_request.withdraw", _("withdrew an appointment request"))
register("appointment_request.accept_offer", _("accepted a time the scheduling desk offered"))
register("appointment_request.list_view", _("looked at your appointment requests"))
register("appointment_request.view", _("looked at one of your appointment requests"))
