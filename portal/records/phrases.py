"""How reads of the record (and the patient's release choices) read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("records.summary_view", _("looked at your health summary"))
register("records.results_view", _("looked at your list of test results"))
register("records.imaging_view", _("looked at your list of imaging results"))
register("records.result_view", _("opened one of your test results"))
register("records.image_view", _("looked at an image from one of your scans"))
register("records.trend_view", _("looked at the history of one of your tests"))
register("records.notes_view", _("looked at your list of clinical notes"))
register("records.note_view", _("read one of your clinical notes"))
register("records.medications_view", _("looked at your medications"))
register("records.allergies_view", _("looked at your allergies"))
register("records.immunizations_view", _("looked at your immunizations"))
register("records.problems_view", _("looked at your problems and conditions"))
register("records.visits_view", _("looked at your list of visits"))
register("records.visit_view", _("opened the summary of one of your visits"))
register("records.procedures_view", _("looked at your procedures"))
register("records.documents_view", _("looked at your list of documents"))
register("records.document_download", _("downloaded one of your documents"))
register("records.preferences_view", _("looked at when your test results are shown"))
register("records.release_preferences", _("changed when your test results are shown"))
