"""The one way data gets into the record from outside: `import_file`.

The format is found from the content (a JSON FHIR bundle, an HL7 v2 message starting
"MSH|", a DICOM file with "DICM" at byte 128). A file is read and checked whole first;
any problem rejects it with every problem listed and nothing saved. An accepted file is
written in one transaction, with an `ImportBatch` row and one audit event per patient
whose record changed. A file whose exact bytes were imported before is not read again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.db import DataError, IntegrityError, transaction
from django.urls import reverse

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.fhir.hl7v2 import read_hl7
from portal.fhir.report import ImportReport, Problem, Rejected
from portal.fhir.staging import Staged
from portal.fhir.store import Store
from portal.patients.models import Patient
from portal.records.actions import NEW_RESULT, NEW_RESULT_BODY, notify_patient, released_to_patient_now
from portal.records.models import ImportBatch, ResultReport
from portal.records.tasks import schedule_hold_end

logger = logging.getLogger(__name__)

FHIR, HL7V2, DICOM = "fhir", "hl7v2", "dicom"


# The FHIR and DICOM readers are imported on their first file: fhir.resources (pydantic
# models) and pydicom (with numpy) would add about a second to every process's start-up.
def read_bundle(data: bytes) -> tuple[Staged, list[Problem]]:
    from portal.fhir.bundle import read_bundle as read

    return read(data)


def read_dicom(data: bytes) -> tuple[Staged, list[Problem]]:
    from portal.fhir.dicom import read_dicom as read

    return read(data)


READERS: dict[str, Callable[[bytes], tuple[Staged, list[Problem]]]] = {
    FHIR: read_bundle,
    HL7V2: read_hl7,
    DICOM: read_dicom,
}
BOM = b"\xef\xbb\xbf"
# The same words as a result entered in the portal (records.actions), so one translation serves.


def detect(data: bytes, name: str = "") -> str | None:
    """The file's format, from its content (the name only breaks the tie for broken JSON)."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return DICOM
    start = data.removeprefix(BOM).lstrip()
    if start[:4] in (b"MSH|", b"FHS|", b"BHS|"):
        return HL7V2
    if start[:1] in (b"{", b"[") or name.lower().endswith(".json"):
        return FHIR
    return None


def import_file(data: bytes, name: str, submitted_by: str, actor: Actor | None = None) -> ImportReport:
    """Read, check and store one file; the report says what changed for whom, or every problem."""
    report = ImportReport(name=name.replace("\x00", ""), digest=hashlib.sha256(data).hexdigest())
    kind = detect(data, name)
    if kind is None:
        report.problems.append(Problem("not a FHIR JSON bundle, an HL7 v2 message (MSH|) or a DICOM file"))
        return report
    report.format = kind
    if ImportBatch.objects.filter(digest=report.digest).exists():
        report.already_imported = True
        return report
    staged, problems = READERS[kind](data)
    report.problems, report.notes = problems, list(staged.notes)
    if problems:
        return report
    try:
        do_import_records(actor or Actor.system(), report, staged, submitted_by)
    except Rejected as rejected:
        report.problems, report.patients = rejected.problems, {}
    except DataError:
        # PostgreSQL refuses some text (a NUL character in an identifier, say); the
        # transaction rolled back, and sending the same file again would fail the same way.
        report.problems = [Problem("the file holds text the database cannot store (such as a NUL character)")]
        report.patients = {}
    except IntegrityError:
        # The same file arriving twice at once: the other import stored it.
        if not ImportBatch.objects.filter(digest=report.digest).exists():
            raise
        report.patients, report.already_imported = {}, True
    return report


@transaction.atomic
def do_import_records(actor: Actor, report: ImportReport, staged: Staged, submitted_by: str) -> None:
    """Write every staged row, the batch and one audit event per patient whose record changed."""
    numbers = {row.clinic_number for row in staged.rows} | {image.clinic_number for image in staged.images}
    patients = {
        patient.clinic_number: patient for patient in Patient.objects.filter(clinic_number__in=numbers)
    }
    store = Store(report, patients)
    store.write(staged)
    ImportBatch.objects.create(
        digest=report.digest,
        format=report.format,
        name=report.name[:250],
        submitted_by=submitted_by[:200],
        counts=report.counts_dict(),
    )
    _tell_patients(store.new_reports)
    for number, types in sorted(report.patients.items()):
        if not any(counts.changed for counts in types.values()):
            continue
        record(
            actor,
            "records.imported",
            kind=Kind.WRITE,
            patient=patients[number],
            detail={
                "file": report.name[:100],
                "format": report.format,
                "digest": report.digest,
                "submitted_by": submitted_by[:200],
                "counts": {
                    kind: counts.as_dict() for kind, counts in sorted(types.items()) if counts.changed
                },
            },
        )


def _tell_patients(reports: list[ResultReport]) -> None:
    """One "new test result" notice per patient and sensitivity, for the new reports they see now.

    A held report is told about when its hold ends (the records worker), and one the
    patient asked to see only after review, when it is reviewed.
    """
    seen_now: dict[tuple[int, str], bool] = {}
    groups: dict[tuple[int, str], Patient] = {}
    for report in reports:
        if report.is_held:
            schedule_hold_end(report)
            continue
        key = (report.patient_id, report.category)
        if key not in seen_now:
            seen_now[key] = released_to_patient_now(report)
        if seen_now[key]:
            groups[(report.patient_id, report.sensitivity)] = report.patient
    link = _results_link()
    for (_patient_id, sensitivity), patient in sorted(groups.items(), key=lambda item: item[0]):
        notify_patient(patient, NEW_RESULT, NEW_RESULT_BODY, link, sensitivity=sensitivity)


def _results_link() -> str:
    return reverse("records:results")
