"""How e-visits read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("telehealth.evisit_start", _("started an e-visit"))
register("telehealth.evisit_stopped", _("was directed to urgent care by an e-visit's questions"))
register("telehealth.evisit_photo", _("added a photo to an e-visit"))
register("telehealth.evisit_photo_remove", _("removed a photo from an e-visit"))
register("telehealth.evisit_submit", _("sent an e-visit"))
register("telehealth.evisit_withdraw", _("withdrew an e-visit"))
register("telehealth.evisit_claim", _("started reviewing an e-visit"))
register("telehealth.evisit_reply", _("answered an e-visit"))
register("telehealth.evisit_redirect", _("asked for a visit instead of an e-visit"))
register("telehealth.evisit_view", _("viewed an e-visit"))
register("telehealth.evisit_list", _("viewed e-visits"))
register("telehealth.evisit_photo_view", _("viewed a photo from an e-visit"))
register("telehealth.evisit_release", _("stopped reviewing an e-visit"))
