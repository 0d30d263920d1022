"""How video visits read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("telehealth.video_view", _("opened a video visit"))
register("telehealth.video_list", _("looked at a list of video visits"))
register("telehealth.joined", _("joined the waiting room of a video visit"))
register("telehealth.staff_joined", _("joined a video visit"))
register("telehealth.admitted", _("admitted you to a video visit"))
register("telehealth.left", _("left a video visit"))
register("telehealth.removed", _("sent someone back to the waiting room of a video visit"))
register("telehealth.ended", _("ended a video visit"))
register("telehealth.completed", _("marked a video visit completed"))
register("telehealth.invited", _("invited someone to a video visit"))
register("telehealth.uninvited", _("withdrew an invitation to a video visit"))
register("telehealth.chat", _("wrote in a video visit's chat"))
register("telehealth.closed", _("closed a video visit after its time"))
