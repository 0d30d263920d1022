"""How the checkin part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

__all__ = ["_", "register"]

register("checkin.view", _("looked at pre-check-in for an appointment"))
register("checkin.details_view", _("looked at your details during pre-check-in"))
register("checkin.medications_view", _("looked at your medications during pre-check-in"))
register("checkin.allergies_view", _("looked at your allergies during pre-check-in"))
register("checkin.insurance_view", _("looked at your insurance during pre-check-in"))
register("checkin.questionnaire_view", _("looked at your answers to a questionnaire"))
register("checkin.card_view", _("downloaded a photo of your insurance card"))
register("checkin.staff_view", _("looked at your pre-check-in for a visit"))
register("checkin.demographics_confirm", _("confirmed your details for a visit"))
register("checkin.medications_review", _("reviewed your medications for a visit"))
register("checkin.allergies_review", _("reviewed your allergies for a visit"))
register("checkin.insurance_confirm", _("confirmed your insurance for a visit"))
register("checkin.coverage_add", _("added insurance details and card photos"))
register("checkin.questionnaire_save", _("saved answers to a questionnaire to finish later"))
register("checkin.questionnaire_submit", _("answered a questionnaire for a visit"))
register("checkin.consent_sign", _("signed a consent form for a visit"))
register("checkin.complete", _("finished pre-check-in for a visit"))
