"""How the referrals part of messaging reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("referral.request", _("asked for a referral"))
register("referral.approve", _("approved a referral request"))
register("referral.deny", _("did not approve a referral request"))
register("referral.complete", _("marked a referral completed"))
register("referral.appointment_request", _("asked the scheduling desk for an appointment for a referral"))
register("referral.scheduled", _("recorded that a referral's appointment was booked"))
register("referral.list_view", _("looked at your referrals"))
register("referral.view", _("looked at a referral"))
register("referral.staff_list_view", _("looked at referrals in the care team's list"))
register("referral.staff_view", _("looked at a referral request"))
