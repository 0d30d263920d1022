"""How the refills part of messaging reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("refills.list_view", _("looked at your refill requests"))
register("refills.new_view", _("opened the refill request form with your active medications"))
register("refills.request", _("asked for a prescription refill"))
register("refills.pharmacy_save", _("saved a pharmacy for refills"))
register("refills.pharmacy_prefer", _("chose the pharmacy used for refills by default"))
register("refills.pharmacy_remove", _("removed a saved pharmacy"))
register("refills.staff_view", _("looked at a refill request"))
register("refills.approve", _("approved a refill request"))
register("refills.deny", _("declined a refill request"))
register("refills.ask", _("asked a question about a refill request"))
register("refills.staff_list", _("looked at a list of refill requests"))
