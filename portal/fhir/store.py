"""Writing staged rows: update in place by (patient, source_id), create what is new, remove what the source voided.

Runs inside the import's transaction; a problem found here (a link to a row that exists
nowhere) raises `Rejected` so the whole file rolls back. Rows whose values did not change
are not touched, so importing the same content again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone

from portal.fhir.report import ImportReport, Problem, Rejected
from portal.fhir.staging import Image, Relink, Row, Staged, Where
from portal.patients.models import Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    ImagingImage,
    Immunization,
    Medication,
    Observation,
    Procedure,
    RecordItem,
    ReleaseHoldRule,
    ResultReport,
)
from portal.records.models import (
    Problem as ProblemRow,
)

# Rows that others point at come first.
ORDER: list[type[RecordItem]] = [
    Encounter,
    ResultReport,
    Observation,
    ClinicalNote,
    Procedure,
    Document,
    Medication,
    Allergy,
    Immunization,
    ProblemRow,
]
CHUNK = 500
# Source ids of the placeholder reports made for DICOM images that came before their report.
DICOM_PREFIX = "dicom:"
# Such a placeholder is for staff only until its report arrives.
UNREPORTED_IMAGES_UNTIL = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
UNREPORTED_IMAGES_REASON = "Images received; waiting for the radiologist's report."
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
Known = dict[tuple[type[models.Model], int, str], int]


class Store:
    """One import's writes, with the patients it touches and the problems it finds."""

    def __init__(self, report: ImportReport, patients: dict[str, Patient]) -> None:
        self.report = report
        self.patients = patients
        self.known: Known = {}
        self.problems: list[Problem] = []
        self.holds: dict[str, ReleaseHoldRule | None] = {}
        self.now = timezone.now()
        # New reports, for telling the patient.
        self.new_reports: list[ResultReport] = []

    def problem(self, where: Where, message: str, path: str = "") -> None:
        self.problems.append(
            Problem(message, entry=where.entry, resource=where.resource, path=path, line=where.line)
        )

    def write(self, staged: Staged) -> None:
        for model in ORDER:
            groups: dict[str, list[Row]] = defaultdict(list)
            for row in staged.rows:
                if row.model is model:
                    groups[row.clinic_number].append(row)
            for number, rows in groups.items():
                self._write_group(model, self.patients[number], rows)
        for relink in staged.relinks:
            self._relink(relink)
        for image in staged.images:
            self._image(image)
        if self.problems:
            raise Rejected(self.problems)

    # Rows -------------------------------------------------------------------------------

    def _write_group(self, model: type[RecordItem], patient: Patient, rows: list[Row]) -> None:
        existing = _existing(model, patient, [row.source_id for row in rows])
        if model is ResultReport:
            self._adopt_placeholders(patient, rows, existing)
        self._resolve(model, patient, rows)
        counts = self.report.count(patient.clinic_number, model.__name__)
        created: list[RecordItem] = []
        for row in rows:
            current = existing.get(row.source_id)
            if row.remove:
                if current is not None:
                    current.delete()
                    counts.removed += 1
                continue
            values = self._values(model, patient, row)
            if values is None:
                continue
            if current is None:
                created.append(self._new(model, patient, row, values))
                counts.created += 1
            elif self._update(current, row, values):
                counts.updated += 1
            else:
                counts.unchanged += 1
            if current is not None:
                self.known[(model, patient.pk, row.source_id)] = current.pk
        for item in model._default_manager.bulk_create(created, batch_size=CHUNK):
            self.known[(model, patient.pk, item.source_id)] = item.pk
            if isinstance(item, ResultReport):
                self.new_reports.append(item)

    def _values(self, model: type[RecordItem], patient: Patient, row: Row) -> dict[str, Any] | None:
        values = {name: _printable(value) for name, value in row.fields.items()}
        for name, source_id in row.links.items():
            related = _related(model, name)
            target = self.known.get((related, patient.pk, source_id)) if source_id else None
            if source_id and target is None:
                self.problem(
                    row.where,
                    f"refers to '{source_id}', which is neither in this file nor imported before",
                    name,
                )
                return None
            values[f"{name}_id"] = target
        return values

    def _resolve(self, model: type[RecordItem], patient: Patient, rows: list[Row]) -> None:
        """Look up, in bulk, rows from earlier imports that this group links to."""
        wanted: dict[type[RecordItem], set[str]] = defaultdict(set)
        for row in rows:
            for name, source_id in row.links.items():
                related = _related(model, name)
                if source_id and (related, patient.pk, source_id) not in self.known:
                    wanted[related].add(source_id)
        for related, source_ids in wanted.items():
            for source_id, item in _existing(related, patient, source_ids).items():
                self.known[(related, patient.pk, source_id)] = item.pk

    def _new(self, model: type[RecordItem], patient: Patient, row: Row, values: dict[str, Any]) -> RecordItem:
        item = model(patient=patient, source_id=row.source_id, **values)
        if isinstance(item, ResultReport):
            self._release(item)
        if isinstance(item, Document) and row.content is not None:
            _attach(item, row.content)
        return item

    def _update(self, current: RecordItem, row: Row, values: dict[str, Any]) -> bool:
        changed = [name for name, value in values.items() if getattr(current, name) != value]
        if not changed:
            return False
        for name in changed:
            setattr(current, name, values[name])
        if isinstance(current, Document) and "sha256" in changed and row.content is not None:
            old = current.file.name
            _attach(current, row.content)
            changed.append("file")
            transaction.on_commit(lambda: current.file.storage.delete(old))
        current.save(update_fields=[*changed, "updated_at"])
        return True

    def _release(self, report: ResultReport) -> None:
        """A new report is released at once unless the clinic holds its category for review."""
        if report.category not in self.holds:
            self.holds[report.category] = ReleaseHoldRule.objects.filter(
                category=report.category, active=True
            ).first()
        rule = self.holds[report.category]
        hours = min(rule.hold_hours, settings.PORTAL_RESULT_HOLD_MAX_HOURS) if rule else 0
        report.available_at = self.now + dt.timedelta(hours=hours)
        report.hold_reason = rule.reason if rule else ""

    def _adopt_placeholders(self, patient: Patient, rows: list[Row], existing: dict[str, Any]) -> None:
        """A report arriving for a study whose images came first takes over the placeholder report."""
        uids = {row.fields.get("study_uid"): row for row in rows if row.fields.get("study_uid")}
        uids = {uid: row for uid, row in uids.items() if row.source_id not in existing}
        if not uids:
            return
        placeholders = ResultReport.objects.filter(
            patient=patient, study_uid__in=sorted(uids), source_id__startswith=DICOM_PREFIX
        )
        for placeholder in placeholders:
            row = uids[placeholder.study_uid]
            placeholder.source_id = row.source_id
            # The report's arrival is when the clinic's release rule starts, as for any new report.
            self._release(placeholder)
            placeholder.save(update_fields=["source_id", "available_at", "hold_reason", "updated_at"])
            existing[row.source_id] = placeholder
            self.new_reports.append(placeholder)

    # Relinks and images -----------------------------------------------------------------

    def _relink(self, relink: Relink) -> None:
        patient = self.patients[relink.clinic_number]
        report_id = self.known.get((ResultReport, patient.pk, relink.report_source_id))
        observation = Observation.objects.filter(
            patient=patient, source_id=relink.observation_source_id
        ).first()
        if observation is None or report_id is None:
            message = f"result '{relink.observation_source_id}' is neither in this file nor imported before"
            self.problem(relink.where, message, "result")
            return
        if (observation.report_id, observation.position) != (report_id, relink.position):
            observation.report_id, observation.position = report_id, relink.position
            observation.save(update_fields=["report", "position", "updated_at"])
            self.report.count(relink.clinic_number, "Observation").updated += 1

    def _image(self, image: Image) -> None:
        patient = self.patients[image.clinic_number]
        counts = self.report.count(image.clinic_number, "ImagingImage")
        if ImagingImage.objects.filter(
            report__patient=patient, sop_instance_uid=image.sop_instance_uid
        ).exists():
            counts.unchanged += 1
            return
        report = (
            ResultReport.objects.filter(patient=patient, study_uid=image.study_uid).order_by("id").first()
            if image.study_uid
            else None
        )
        if report is None:
            # Images nobody has reported on yet stay with the care team: a patient (or a
            # parent, before any confidentiality label arrives with the report) sees the
            # study once its report comes and is released by the clinic's rules.
            report = ResultReport(
                patient=patient,
                source_id=f"{DICOM_PREFIX}{image.study_uid}",
                available_at=UNREPORTED_IMAGES_UNTIL,
                hold_reason=UNREPORTED_IMAGES_REASON,
                **image.report_fields,
            )
            report.save()
            self.report.count(image.clinic_number, "ResultReport").created += 1
            self.report.notes.append(
                f"Study {image.study_uid}: no imaging report yet, so a preliminary one was made for the images."
            )
        position = ImagingImage.objects.filter(report=report).count()
        item = ImagingImage(
            report=report,
            position=position,
            content_type="image/png",
            width=image.width,
            height=image.height,
            description=image.description[:200],
            sop_instance_uid=image.sop_instance_uid,
        )
        item.image.save(f"{uuid.uuid4().hex}.png", ContentFile(image.png), save=False)
        item.save()
        counts.created += 1


def _printable(value: Any) -> Any:
    """Text without NUL characters, which PostgreSQL refuses in text and JSON."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_printable(item) for item in value]
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    return value


def _related(model: type[RecordItem], name: str) -> type[RecordItem]:
    return cast("type[RecordItem]", model._meta.get_field(name).related_model)


def _attach(document: Document, content: bytes) -> None:
    name = f"{uuid.uuid4().hex}{EXTENSIONS.get(document.content_type, '')}"
    document.file.save(name, ContentFile(content), save=False)


def _existing(model: type[RecordItem], patient: Patient, source_ids: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(set(source_ids))):
        rows = model._default_manager.filter(patient=patient, source_id__in=chunk)
        found.update({row.source_id: row for row in rows})
    return found


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
