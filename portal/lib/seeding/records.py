"""Invented medical records for the demo and the benchmarks.

Every patient gets a history that fits their age and sex: long-term conditions with the
medicines that treat them, yearly check-ups and follow-up visits with after-visit
summaries, lab panels whose values sit around realistic means (a few flagged, as in
life), vital signs at each visit, notes, vaccines on the usual schedule, the odd
illness, hospital stay or scan.

Like `patients.py`, the generator is deterministic: each patient's history comes from a
random stream keyed by the seed and their clinic number, dated relative to the anchor,
so the same seed gives the same rows whenever and in whatever batches it runs. Rows are
saved with one bulk insert per table per batch and write no audit events (see the
package docstring).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction

from portal.lib.seeding import DEFAULT_ANCHOR, given_timestamps
from portal.lib.seeding.bulk import insert_rows, new
from portal.lib.seeding.histories import RECORD_YEARS, Carer, HistoryFactory, RecordDraft
from portal.patients.models import CareRelationship, Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Correction,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    ResultReport,
    ResultSeen,
)

DATED_MODELS = (Encounter, ResultReport, Observation, ClinicalNote, Medication, Allergy, Immunization,
                Problem, Procedure)  # fmt: skip
LEAF_TABLES = (
    (Observation, "observations"),
    (ClinicalNote, "notes"),
    (Medication, "medications"),
    (Allergy, "allergies"),
    (Immunization, "immunizations"),
    (Problem, "problems"),
    (Procedure, "procedures"),
)
DENSE_CONDITIONS = ("hypertension", "hyperlipidemia", "diabetes", "ckd", "hypothyroidism")
PATIENT_CHUNK = 200  # patients drafted and saved together


def seed_records(
    patients: Sequence[Patient], seed: int, anchor: dt.datetime = DEFAULT_ANCHOR, years: int = RECORD_YEARS
) -> int:
    """Give each patient a generated history; return how many rows were written."""
    written = 0
    for start in range(0, len(patients), PATIENT_CHUNK):
        chunk = patients[start : start + PATIENT_CHUNK]
        carers = load_carers(chunk)
        drafts = [
            HistoryFactory(patient, carers.get(patient.pk, []), seed, anchor, years).draft()
            for patient in chunk
        ]
        written += save_records(drafts)
    return written


def seed_dense_history(
    patient: Patient, seed: int, anchor: dt.datetime, years: int, observations: int
) -> int:
    """One patient with many long-term conditions and about `observations` results and vital signs.

    The benchmark's heavy patient: pages must stay fast however long a history gets.
    """
    factory = HistoryFactory(patient, load_carers([patient]).get(patient.pk, []), seed, anchor, years)
    for key in DENSE_CONDITIONS:
        factory.profile.conditions.setdefault(key, factory.start - dt.timedelta(days=400))
    return save_records([factory.draft(observations)])


def load_carers(patients: Sequence[Patient]) -> dict[int, list[Carer]]:
    """Each patient's care teams and clinicians, primary care first, in one query."""
    carers: dict[int, list[Carer]] = {}
    relationships = (
        CareRelationship.objects.filter(patient__in=[patient.pk for patient in patients])
        .select_related("care_team__campus", "care_team__department", "practitioner")
        .order_by("patient_id", "id")
    )
    for relationship in relationships:
        team = relationship.care_team
        practitioner = relationship.practitioner
        campus = team.campus.short_name if team.campus else "Central"
        department = team.department.slug if team.department else ""
        carers.setdefault(relationship.patient_id, []).append(
            Carer(
                practitioner.pk if practitioner else None,
                practitioner.display_name if practitioner else team.name,
                practitioner.user_id if practitioner else None,
                team.campus_id,
                team.department_id,
                team.name,
                f"{campus} Laboratory",
                department in ("family-medicine", "internal-medicine", "pediatrics"),
            )
        )
    for rows in carers.values():
        rows.sort(key=lambda carer: not carer.primary)
    return carers


def save_records(drafts: Sequence[RecordDraft]) -> int:
    """Insert the drafts' rows in one transaction, one bulk insert per table."""
    with transaction.atomic(), _historical_timestamps():
        # Parents first, getting their keys; then the rows pointing at them.
        for parent, attribute in ((Encounter, "encounters"), (ResultReport, "reports")):
            insert_rows(parent, _gather(drafts, attribute), keys=True)
        for model, attribute in LEAF_TABLES:
            insert_rows(model, _gather(drafts, attribute))
        corrections = [_correction(draft.patient, *row) for draft in drafts for row in draft.corrections]
        insert_rows(Correction, corrections)
        seen = [
            new(ResultSeen, user_id=user_id, report=report, seen_at=at)
            for draft in drafts
            for user_id, report, at in draft.seen
        ]
        insert_rows(ResultSeen, seen)
    return sum(draft.rows() for draft in drafts)


def _gather(drafts: Sequence[RecordDraft], attribute: str) -> list[Any]:
    return [row for draft in drafts for row in getattr(draft, attribute)]


@contextlib.contextmanager
def _historical_timestamps() -> Iterator[None]:
    """`given_timestamps` for every record table: rows keep the dates the history gives them."""
    with contextlib.ExitStack() as stack:
        for model in DATED_MODELS:
            stack.enter_context(given_timestamps(model, "created_at"))
        yield


def _correction(
    patient: Patient, observation: Observation, previous: dict[str, Any], reason: str, at: dt.datetime
) -> Correction:
    # insert_rows sets no keys: find the corrected row again by its place in its report.
    saved = Observation.objects.filter(report=observation.report, position=observation.position)
    return Correction(
        patient=patient,
        item_type="records.observation",
        item_id=saved.values_list("pk", flat=True).get(),
        previous=previous,
        reason=reason,
        corrected_at=at,
    )
