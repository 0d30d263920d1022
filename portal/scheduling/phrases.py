"""How scheduling's audited actions read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("appointment.list_view", _("looked at your appointments"))
register("appointment.view", _("looked at one of your appointments"))
register("appointment.book", _("booked an appointment"))
register("appointment.cancel", _("cancelled an appointment"))
register("appointment.reschedule", _("moved an appointment to another time"))
register("appointment.calendar", _("downloaded one of your appointments to a calendar"))
register("appointment.notice", _("told the clinic you are running late or cannot come"))
