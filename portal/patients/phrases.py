"""How account maintenance events read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("profile.update", _("changed your phone numbers or address"))
register("profile.email_change_request", _("asked to change your email address"))
register("profile.email_change", _("changed your email address"))
register("profile.language", _("changed your preferred language"))
register("profile.communication", _("changed how the clinic contacts you"))
register("account.deactivate", _("closed your portal sign-in"))
register("account.reactivate", _("reopened your portal sign-in"))
