"""How the schedules part of scheduling reads in the audit trail.

None of these actions concerns one patient, so they never appear in a patient's access
log; the phrases serve the staff audit views.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("schedules.template_add", _("added a session to a clinician's schedule"))
register("schedules.template_end", _("ended a session of a clinician's schedule"))
register("schedules.template_remove", _("removed an unused session from a clinician's schedule"))
register("schedules.block_add", _("blocked time on a clinician's schedule"))
register("schedules.block_remove", _("removed blocked time from a clinician's schedule"))
register("schedules.visit_type_add", _("added a visit type"))
register("schedules.visit_type_change", _("changed a visit type"))
register("schedules.view", _("looked at the visits inside a clinician's blocked time"))
