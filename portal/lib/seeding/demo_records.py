"""The demo sign-ins' medical records: long, hand-shaped histories that show every feature.

demo-patient (Jamie) has high blood pressure, high cholesterol and a painful knee, and
everything the results pages can show: a new result with a high value she has not opened
yet, a biopsy result held for her clinician (so staff see the release queue), a
corrected value with its history, a preliminary culture, a knee MRI, a heart tracing and
a letter. demo-parent's family fill in the rest: Mia, 8, on the childhood vaccine
schedule with asthma; Walter, 84, with several long-term conditions and a hospital stay
for pneumonia. The demo has no teenager with a parent proxy, so nothing here exercises
the adolescent-confidentiality filter; generated teenagers' sexual-health screens do.

Like the rest of the demo it is refreshed, not duplicated: a patient who already has any
visit in their record is left alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from portal.lib.seeding import clinical_catalog as catalog
from portal.lib.seeding.body import Profile
from portal.lib.seeding.lab_catalog import BMP, CBC
from portal.lib.seeding.records import HistoryFactory, load_carers, save_records
from portal.patients.models import Patient, ProxyGrant
from portal.records.models import ClinicalNote, Encounter, Observation, ResultReport

DEMO_SEED = 2026
DEMO_YEARS = 8
ALLERGY = {spec.substance: spec for spec in catalog.ALLERGIES}
HEMOGLOBIN = "718-7"
POTASSIUM = "2823-3"
HELD_FOR_CLINICIAN = (
    "Biopsy results are held for up to 3 days so that Dr. Raman can talk them through with you first."
)
DECIMAL_POINT = (
    "The first report showed 1.37 g/dL because of a misplaced decimal point. The analyser's "
    "reading was 13.7 g/dL, which is normal."
)


@dataclass(frozen=True)
class DemoPerson:
    """A demo patient's clinical make-up, dated in years before today."""

    conditions: dict[str, float]  # condition key -> years since onset
    allergies: tuple[str, ...]
    height_cm: float
    bmi: float
    knee: bool = False
    stays: tuple[str, ...] = ()


JAMIE = DemoPerson(
    {"hypertension": 6, "hyperlipidemia": 4, "knee_oa": 2, "rhinitis": 12}, ("Penicillin",),
    167, 27.5, knee=True, stays=("appendicitis",),
)  # fmt: skip
TAYLOR = DemoPerson({"rhinitis": 15, "gerd": 3}, (), 180, 25.8)
MIA = DemoPerson({"asthma": 4}, ("Peanuts",), 128, 16.5)
WALTER = DemoPerson(
    {"hypertension": 25, "hyperlipidemia": 20, "diabetes": 9, "afib": 5, "ckd": 4, "knee_oa": 12},
    ("Sulfa drugs (sulfonamides)",), 174, 26.5, stays=("pneumonia",),
)  # fmt: skip


def seed_demo_records(
    today: dt.date, patient_username: str = "demo-patient", parent_username: str = "demo-parent"
) -> int:
    """Give each demo sign-in's patients their history, unless they already have one."""
    anchor = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)
    people = _people(patient_username, parent_username)
    waiting = [
        (patient, person)
        for patient, person in people
        if not Encounter.objects.filter(patient=patient).exists()
    ]
    carers = load_carers([patient for patient, _person in waiting])
    drafts = []
    for patient, person in waiting:
        profile = _profile(person, patient.birth_date, today)
        factory = HistoryFactory(patient, carers.get(patient.pk, []), DEMO_SEED, anchor, DEMO_YEARS, profile)
        factory.draft()
        if person is JAMIE:
            _showcase(factory)
        drafts.append(factory.record)
    return save_records(drafts)


def _people(patient_username: str, parent_username: str) -> list[tuple[Patient, DemoPerson]]:
    people: list[tuple[Patient, DemoPerson]] = []
    for username, person in ((patient_username, JAMIE), (parent_username, TAYLOR)):
        patient = Patient.objects.filter(account__username=username).first()
        if patient is not None:
            people.append((patient, person))
    grants = ProxyGrant.objects.active().filter(grantee__username=parent_username).select_related("patient")
    for grant in grants.order_by("patient__birth_date"):
        adult = grant.relationship != ProxyGrant.Relationship.PARENT
        people.append((grant.patient, WALTER if adult else MIA))
    return people


def _profile(person: DemoPerson, born: dt.date, today: dt.date) -> Profile:
    conditions = {
        key: max(today - dt.timedelta(days=round(years * 365.25)), born + dt.timedelta(days=365))
        for key, years in person.conditions.items()
    }
    return Profile(
        conditions=conditions,
        allergies=[ALLERGY[name] for name in person.allergies],
        height_cm=person.height_cm,
        bmi=person.bmi,
        knee_mri=person.knee,
        tramadol=person.knee,
        hospital_stays=person.stays,
    )


def _showcase(factory: HistoryFactory) -> None:
    """What Jamie's results pages must show, whatever the random history held."""
    anchor = factory.anchor
    _new_high_potassium(factory, anchor)
    _held_biopsy(factory, anchor)
    _corrected_hemoglobin(factory, anchor)
    _preliminary_culture(factory, anchor)
    _heart_tracing_and_letter(factory, anchor)


def _new_high_potassium(factory: HistoryFactory, anchor: dt.datetime) -> None:
    """A blood pressure visit two days ago; its metabolic panel, not opened yet, has a high potassium."""
    visit = factory.visit(
        (anchor - dt.timedelta(days=2)).date(), Encounter.Kind.OFFICE, "Follow-up: high blood pressure",
        [("I10", "High blood pressure (hypertension)")],
        "Your blood pressure was 134/84, a little above your goal. We checked your kidneys and "
        "salts, as we do for everyone who takes your blood pressure medicine.",
        "Keep taking your blood pressure medicine. Check your blood pressure at home a few times a week.",
        "We will contact you about your blood test results. Return in 3 months.",
    )  # fmt: skip
    collected = visit.started_at + dt.timedelta(minutes=30)
    factory.add_report(BMP, collected, visit, values={POTASSIUM: 5.6}, final=True)


def _held_biopsy(factory: HistoryFactory, anchor: dt.datetime) -> None:
    """A skin biopsy result held for three days: staff see it in the release queue."""
    taken = anchor - dt.timedelta(days=4) + dt.timedelta(hours=15)
    factory.record.reports.append(
        factory.item(
            ResultReport, anchor, category=ResultReport.Category.PATHOLOGY, code="",
            name="Skin biopsy, left forearm", effective_at=taken, issued_at=anchor - dt.timedelta(hours=2),
            ordered_by_id=factory.primary.practitioner_id, ordered_by_name=factory.primary.name,
            performer="Rochester Pathology", body_site="Left forearm",
            findings="Shave biopsy, 6 mm. Thickened outer skin layer with horn cysts. No atypical cells.",
            conclusion="Seborrheic keratosis: a harmless skin growth. No sign of cancer.",
            available_at=anchor + dt.timedelta(days=3), hold_reason=HELD_FOR_CLINICIAN,
        )
    )  # fmt: skip


def _corrected_hemoglobin(factory: HistoryFactory, anchor: dt.datetime) -> None:
    collected = anchor - dt.timedelta(days=300) + dt.timedelta(hours=15)
    report = factory.add_report(CBC, collected, None, values={HEMOGLOBIN: 13.7}, final=True)
    if report is None:
        return
    row = next(row for row in factory.record.observations if row.report is report and row.code == HEMOGLOBIN)
    factory.correct(row, Decimal("1.37"), report.issued_at, DECIMAL_POINT)


def _preliminary_culture(factory: HistoryFactory, anchor: dt.datetime) -> None:
    # Issued yesterday morning, so it is already out whatever time of day the demo starts.
    collected = anchor - dt.timedelta(days=2) + dt.timedelta(hours=15)
    issued = collected + dt.timedelta(hours=20)
    report = factory.item(
        ResultReport, issued, category=ResultReport.Category.LAB, code="630-4", name="Urine culture",
        status=ResultReport.Status.PRELIMINARY, effective_at=collected, issued_at=issued,
        ordered_by_id=factory.primary.practitioner_id, ordered_by_name=factory.primary.name,
        performer=factory.primary.lab, available_at=issued,
    )  # fmt: skip
    factory.record.reports.append(report)
    factory.record.observations.append(
        factory.item(
            Observation, issued, report=report, code="630-4", name="Bacteria identified",
            value_text="No growth after 24 hours; final result to follow.", range_text="No growth",
            interpretation=Observation.Interpretation.UNKNOWN, status=ResultReport.Status.PRELIMINARY,
            effective_at=collected,
        )
    )  # fmt: skip


def _heart_tracing_and_letter(factory: HistoryFactory, anchor: dt.datetime) -> None:
    """A cardiology visit for palpitations: an ECG report and the cardiologist's letter."""
    carer = factory.specialist or factory.primary
    day = (anchor - dt.timedelta(days=75)).date()
    visit = factory.visit(
        day, Encounter.Kind.OFFICE, "Heart racing (palpitations)", [("R00.2", "Palpitations")],
        "You have noticed your heart racing for a few seconds at a time, mostly in the evening. "
        "Your heart tracing (ECG) today was normal.",
        "Cut down on coffee and energy drinks. Write down when the racing happens and how long "
        "it lasts.",
        "No further tests are needed unless it gets worse. Return if you faint or have chest pain.",
        carer=carer,
    )  # fmt: skip
    performed = visit.started_at + dt.timedelta(minutes=20)
    factory.record.reports.append(
        factory.item(
            ResultReport, performed, category=ResultReport.Category.CARDIOLOGY, code="11524-6",
            name="Electrocardiogram (ECG)", effective_at=performed,
            issued_at=performed + dt.timedelta(hours=3), encounter=visit,
            ordered_by_id=carer.practitioner_id, ordered_by_name=carer.name,
            performer="Rochester Heart Rhythm Laboratory",
            conclusion="Normal sinus rhythm at 74 beats per minute. No signs of strain or of a "
            "previous heart attack.",
            available_at=performed + dt.timedelta(hours=3),
            reviewed_at=performed + dt.timedelta(hours=5), reviewed_by_id=carer.user_id,
        )
    )  # fmt: skip
    written = visit.started_at + dt.timedelta(days=2)
    factory.record.notes.append(
        factory.item(
            ClinicalNote, written, kind=ClinicalNote.Kind.LETTER, title="Letter after your heart visit",
            written_at=written, author_id=carer.practitioner_id, author_name=carer.name,
            encounter=visit,
            body=f"Dear {factory.patient.given_name},\n\nThank you for coming to see us about your "
            "heart racing. Your examination and heart tracing were normal, and the short spells "
            "you describe are very likely harmless extra beats. Cutting down on caffeine often "
            "helps.\n\nIf the spells become longer, or you feel faint or have chest pain, please "
            f"contact us straight away.\n\nWith best wishes,\n{carer.name}",
        )
    )  # fmt: skip
