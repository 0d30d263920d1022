"""How patient-side messaging reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("messaging.thread_start", _("sent a new message to the care team"))
register("messaging.reply", _("replied in a conversation with the care team"))
register("messaging.thread_read", _("read a conversation with the care team"))
register("messaging.thread_list", _("looked at the list of conversations with the care team"))
register("messaging.compose_view", _("started writing a message to the care team"))
register("messaging.attachment_download", _("downloaded a file sent in a conversation"))
register("messaging.thread_archive", _("archived a conversation with the care team"))
register("messaging.thread_unarchive", _("moved a conversation back to the inbox"))
