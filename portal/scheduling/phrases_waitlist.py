"""How the waitlist part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("waitlist.list_view", _("looked at your requests for earlier appointment times"))
register("waitlist.join_form", _("looked at asking for an earlier appointment time"))
register("waitlist.join", _("asked for an earlier time for an appointment"))
register("waitlist.leave", _("stopped waiting for an earlier appointment time"))
register("waitlist.offer_view", _("looked at an offer of an earlier appointment time"))
register("waitlist.accept", _("accepted an earlier appointment time"))
register("waitlist.decline", _("declined an earlier appointment time"))
