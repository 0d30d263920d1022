"""How the staff inbox reads in the patient's access log.

The phrases say that staff worked on a conversation, never what an internal note says.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("messaging.staff_thread_read", _("read a conversation with you"))
register("messaging.staff_attachment_read", _("opened a file sent in a conversation with you"))
register("messaging.assign", _("assigned a conversation with you to a member of the care team"))
register("messaging.status", _("changed the status of a conversation with you"))
register("messaging.staff_note", _("added a staff note to a conversation with you"))
register("messaging.move", _("passed a conversation with you to another team"))
register("messaging.staff_thread_start", _("started a conversation with you"))
# Private: a parent kept from an adolescent's confidential care must not learn that a
# conversation was marked (or unmarked) as part of it.
register("messaging.sensitivity", _("changed who may see a conversation with you"), private=True)
