"""How correction requests and staff changes to the record read in the patient's access log.

Imported by `RecordsConfig.ready()`.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

# The patient's correction requests.
register("records.amendment_form", _("opened the form to ask for a correction to your record"))
register("records.amendment_request", _("asked for a correction to your record"))
register("records.amendment_list", _("looked at the correction requests on your record"))
register("records.amendment_view", _("looked at a correction request on your record"))
register("records.amendment_decide", _("answered a request to correct your record"))
# Staff reading the record in the staff workspace.
register("records.staff_record_view", _("looked at your health record"))
register("records.staff_result_view", _("looked at a test result"))
register("records.staff_observation_view", _("opened a test result to correct it"))
register("records.staff_note_view", _("opened a clinical note to correct it"))
register("records.staff_amendment_view", _("looked at your request to correct your record"))
# Staff changing the record.
register("records.result_enter", _("added a test result to your record"))
register("records.result_correct", _("corrected a test result in your record"))
register("records.result_release", _("released a test result to you"))
register("records.result_review", _("marked a test result as reviewed"))
register("records.note_enter", _("added a clinical note to your record"))
register("records.note_correct", _("corrected a clinical note in your record"))
register("records.note_in_error", _("marked a clinical note in your record as entered in error"))
