"""How the desk part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("appointment_request.desk_queue_view", _("looked at the scheduling desk's list of requests"))
register("appointment_request.desk_view", _("looked at your appointment request"))
register("appointment_request.offer", _("offered you appointment times"))
register("appointment_request.decline", _("declined your appointment request"))
register("appointment.desk_day_view", _("looked at the day's appointment list"))
register("appointment.desk_book_view", _("looked at your appointments to book a visit"))
register("appointment.arrive", _("checked you in for an appointment"))
register("appointment.no_show", _("marked an appointment as missed"))
register("patient_notice.acknowledge", _("read your message about an appointment"))

__all__ = ["_", "register"]
