"""One invented patient's medical history, drawn as unsaved rows (see `records.py` for saving).

`HistoryFactory` decides who the patient is (conditions by age and sex, allergies, body
size), then walks through the years: check-ups and follow-ups with after-visit summaries
and notes, medicines for each condition, vaccines on the usual schedule, illnesses, the
odd hospital stay, scan or screening, and the lab panels and vital signs each visit
brings (values from `body.py`). Every choice comes from one random stream, in a fixed
order, so a patient's history is reproducible from the seed and their clinic number.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from portal.lib.seeding import clinical_catalog as catalog
from portal.lib.seeding.body import Body, Profile, as_decimal, flag_for
from portal.lib.seeding.bulk import new
from portal.lib.seeding.lab_catalog import (
    A1C,
    BMP,
    CBC,
    CMP,
    FERRITIN,
    LIPIDS,
    PSA,
    STI_SCREEN,
    TESTS,
    TEXT_TESTS,
    THYROID,
    TSH,
    URINALYSIS,
    VITALS,
    VITAMIN_D,
    Panel,
)
from portal.patients.models import Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    RecordItem,
    ResultReport,
)

# How far back a generated patient's visits and results go. Their conditions, medicines,
# allergies and a child's vaccines reach further back; the demo's sign-ins get eight
# years. Each year adds about 1.5 s to `portal demo` (300 patients); three years give
# every patient a multi-year history for under 5 s. The benchmark asks for one year
# (benchmarks/sizes.py), as 100,000 patients pay that cost 300 times over.
RECORD_YEARS = 3
# Note titles in English, as the clinic wrote them (not translated for whoever reads them).
KIND_NAMES: dict[str, str] = {
    Encounter.Kind.OFFICE: "Office visit",
    Encounter.Kind.VIDEO: "Video visit",
    Encounter.Kind.TELEPHONE: "Telephone visit",
    Encounter.Kind.HOSPITAL: "Hospital stay",
    Encounter.Kind.EMERGENCY: "Emergency visit",
}
ADULT = 18
HOSPITAL_TEAM = "Hospital medicine team"
CORRECTION_REASON = (
    "The first report gave the wrong value because of a typing error; the analyser's reading is shown now."
)
COVID_START = dt.date(2021, 3, 1)
TELEHEALTH_START = dt.date(2020, 4, 1)
Flag = Observation.Interpretation
Kind = Encounter.Kind
LAB, VITAL = Observation.Category.LABORATORY, Observation.Category.VITAL_SIGNS


@dataclass(frozen=True)
class Carer:
    """A clinician (or, without one, the team) who sees the patient, as records name them."""

    practitioner_id: int | None
    name: str
    user_id: int | None
    campus_id: int | None
    department_id: int | None
    team: str
    lab: str
    primary: bool


@dataclass
class RecordDraft:
    """One patient's generated rows, not yet saved."""

    patient: Patient
    encounters: list[Encounter] = field(default_factory=list)
    reports: list[ResultReport] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    notes: list[ClinicalNote] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    immunizations: list[Immunization] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    # Rows that need the ids of others: saved after them.
    corrections: list[tuple[Observation, dict[str, Any], str, dt.datetime]] = field(default_factory=list)
    seen: list[tuple[int, ResultReport, dt.datetime]] = field(default_factory=list)

    def rows(self) -> int:
        return (
            len(self.encounters) + len(self.reports) + len(self.observations) + len(self.notes)
            + len(self.medications) + len(self.allergies) + len(self.immunizations)
            + len(self.problems) + len(self.procedures) + len(self.corrections) + len(self.seen)
        )  # fmt: skip


class HistoryFactory:
    """Draws one patient's history from a random stream keyed by seed and clinic number."""

    def __init__(
        self,
        patient: Patient,
        carers: list[Carer],
        seed: int,
        anchor: dt.datetime,
        years: int = RECORD_YEARS,
        profile: Profile | None = None,
    ) -> None:
        self.patient = patient
        self.rng = random.Random(f"portal-records/{seed}/{patient.clinic_number}")  # nosec B311  # seeded demo data, not security
        self.anchor = anchor.astimezone(dt.UTC)
        self.today = self.anchor.date()
        self.born = patient.birth_date
        self.start = max(self.born, self.today - dt.timedelta(days=round(365.25 * years)))
        self.male = patient.sex_at_birth == Patient.Sex.MALE
        self.primary = carers[0] if carers else Carer(None, "Primary care team", None, None, None,
                                                      "Primary care", "Central Laboratory", True)  # fmt: skip
        self.specialist = next((carer for carer in carers if not carer.primary), None)
        self.record = RecordDraft(patient)
        self.profile = profile or self._profile()
        self.body = Body(self.rng, self.profile, self.born, self.male)

    # Who the patient is -------------------------------------------------------------

    def age_on(self, day: dt.date) -> float:
        return (day - self.born).days / 365.25

    def _profile(self) -> Profile:
        age = int(self.age_on(self.today))
        female = not self.male
        conditions: dict[str, dt.date] = {}
        for condition in catalog.CONDITIONS.values():
            if age < condition.youngest or self.rng.random() >= condition.share(age, female):
                continue
            if condition.key == "prediabetes" and "diabetes" in conditions:
                continue
            conditions[condition.key] = self._onset(condition.youngest)
        return Profile(
            conditions=conditions,
            allergies=self._allergy_specs(),
            height_cm=self.rng.gauss(177, 7.5) if self.male else self.rng.gauss(163, 7),
            bmi=min(max(self.rng.lognormvariate(math.log(27), 0.17), 17.5), 52),
            knee_mri="knee_oa" in conditions and self.rng.random() < 0.3,
            tramadol="knee_oa" in conditions and self.rng.random() < 0.25,
        )

    def _onset(self, youngest: int) -> dt.date:
        """Most long-term conditions began some years ago; never before the youngest age."""
        earliest = self.born + dt.timedelta(days=round(youngest * 365.25))
        years_ago = self.rng.expovariate(1 / 7)
        onset = self.today - dt.timedelta(days=round(years_ago * 365.25) + 30)
        return max(onset, earliest)

    def _allergy_specs(self) -> list[catalog.AllergySpec]:
        count = self.rng.choices((0, 1, 2), weights=(60, 28, 12))[0]
        if count == 0:
            return []  # "no known allergies": nothing recorded
        weights = [spec.weight for spec in catalog.ALLERGIES]
        picked = {self.rng.choices(catalog.ALLERGIES, weights=weights)[0] for _ in range(count)}
        return sorted(picked, key=lambda spec: spec.substance)

    def has(self, key: str, on: dt.date | None = None) -> bool:
        return self.profile.has(key, on)

    # The history --------------------------------------------------------------------

    def draft(self, observations: int = 0) -> RecordDraft:
        """The whole history; with `observations`, monitoring visits top it up to that many values."""
        self._problems()
        self._medications()
        self._allergies()
        self._immunizations()
        self._check_ups()
        self._follow_ups()
        self._illnesses()
        self._hospital_stays()
        self._screening()
        self._letter()
        if self.rng.random() < 0.01:
            self._typing_error()
        if observations:
            self._monitoring(observations)
        self._seen()
        return self.record

    def item(self, model: type[RecordItem], at: dt.datetime, **fields: Any) -> Any:
        sensitivity = fields.pop("sensitivity", "")
        # patient_id rather than patient: the descriptor would cost more than the rest of the row.
        return new(model, patient_id=self.patient.pk, sensitivity=sensitivity, created_at=at, **fields)

    def _moment(self, day: dt.date, earliest_hour: int = 14, latest_hour: int = 22) -> dt.datetime:
        """A time in clinic hours (US campuses: 8 am to 4 pm Central is 14:00-22:00 UTC)."""
        minutes = self.rng.randrange(earliest_hour * 60, latest_hour * 60, 5)
        moment = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=dt.UTC)
        # Nothing on the anchor's own day after it (or too close to leave time for the visit).
        return moment - dt.timedelta(days=1) if moment > self.anchor - dt.timedelta(hours=2) else moment

    def _days_between(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randrange(max((last - first).days, 1)))

    # Problems, medicines, allergies ---------------------------------------------------

    def _problems(self) -> None:
        for key, onset in self.profile.conditions.items():
            condition = catalog.CONDITIONS[key]
            self.record.problems.append(
                self.item(
                    Problem, self._moment(onset), name=condition.name, code=condition.code,
                    code_system=catalog.ICD10, onset_on=onset,
                    recorded_on=onset + dt.timedelta(days=self.rng.randrange(0, 30)),
                    sensitivity=condition.sensitivity,
                )
            )  # fmt: skip

    def _medications(self) -> None:
        for key, onset in self.profile.conditions.items():
            condition = catalog.CONDITIONS[key]
            for drug_key in condition.drugs:
                if key == "hypertension" and self.rng.random() < 0.15:
                    self._stopped_then_switched(onset)
                    continue
                self._medication(drug_key, onset, sensitivity=condition.sensitivity)
            if key == "hypertension" and self.rng.random() < 0.3:
                self._medication("amlodipine", onset + dt.timedelta(days=self.rng.randrange(90, 900)))
        if self.profile.tramadol:
            self._medication("tramadol", self.today - dt.timedelta(days=self.rng.randrange(30, 400)))

    def _medication(
        self,
        drug_key: str,
        started: dt.date,
        *,
        ended: dt.date | None = None,
        status: str = Medication.Status.ACTIVE,
        sensitivity: str = "",
        reason: str = "",
    ) -> Medication | None:
        if started > self.today:
            return None
        drug = catalog.DRUGS[drug_key]
        active = status == Medication.Status.ACTIVE
        last_filled = (ended or self.today) - dt.timedelta(days=self.rng.randrange(3, 80))
        medication = self.item(
            Medication, self._moment(started), name=drug.name, code=drug.code, dose=drug.dose,
            route=drug.route, instructions=drug.instructions, reason=reason or drug.reason,
            status=status, prescriber_id=self.primary.practitioner_id,
            prescriber_name=self.primary.name, started_on=started, ended_on=ended,
            last_filled_on=max(last_filled, started) if drug.prescription else None,
            refills_remaining=self.rng.randrange(0, 6) if drug.prescription and active else None,
            renewable_online=drug.prescription and not drug.controlled,
            not_renewable_reason=_not_renewable_reason(drug),
            sensitivity=sensitivity,
        )  # fmt: skip
        self.record.medications.append(medication)
        return medication

    def _stopped_then_switched(self, onset: dt.date) -> None:
        """Lisinopril's dry cough: stopped after a while and replaced with losartan."""
        stopped = onset + dt.timedelta(days=self.rng.randrange(60, 400))
        if stopped >= self.today:
            self._medication("lisinopril", onset)
            return
        self._medication(
            "lisinopril", onset, ended=stopped, status=Medication.Status.STOPPED,
            reason="High blood pressure (stopped: dry cough)",
        )  # fmt: skip
        self._medication("losartan", stopped)

    def _course(self, drug_key: str, day: dt.date) -> None:
        """A short course, such as an antibiotic, finished ten days later."""
        finished = day + dt.timedelta(days=10)
        status = Medication.Status.COMPLETED if finished < self.today else Medication.Status.ACTIVE
        self._medication(drug_key, day, ended=finished, status=status)

    def _allergies(self) -> None:
        for spec in self.profile.allergies:
            recorded = self._days_between(max(self.born, self.start - dt.timedelta(days=3650)), self.start)
            self.record.allergies.append(
                self.item(
                    Allergy, self._moment(recorded), substance=spec.substance, category=spec.category,
                    reaction=spec.reaction, severity=spec.severity, recorded_on=recorded,
                )
            )  # fmt: skip

    # Vaccines ------------------------------------------------------------------------

    def _immunizations(self) -> None:
        if self.age_on(self.today) < ADULT + 2:
            self._childhood_schedule()
        self._flu_seasons()
        self._covid()
        if self.age_on(self.today) >= ADULT:
            self._adult_boosters()

    def _vaccine(self, vaccine: tuple[str, str], day: dt.date, dose: int | None = None) -> None:
        if day > self.today or day < self.born:
            return
        infant = self.age_on(day) < 3
        oral = vaccine[1] == "116"
        site = "Mouth" if oral else self.rng.choice(("Left thigh", "Right thigh") if infant else
                                                     ("Left upper arm", "Right upper arm"))  # fmt: skip
        lot = f"{self.rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{self.rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
        self.record.immunizations.append(
            self.item(
                Immunization, self._moment(day), vaccine=vaccine[0], code=vaccine[1], given_on=day,
                dose_number=dose, lot_number=f"{lot}{self.rng.randrange(1000, 9999)}", site=site,
                performer_name=self.primary.team, campus_id=self.primary.campus_id,
            )
        )  # fmt: skip

    def _childhood_schedule(self) -> None:
        for name, code, ages in catalog.CHILDHOOD_SCHEDULE:
            for dose, days in enumerate(ages, start=1):
                late = self.rng.randrange(0, 21 if days < 400 else 60)
                self._vaccine((name, code), self.born + dt.timedelta(days=days + late), dose)

    def _flu_seasons(self) -> None:
        takes_it = 0.7 if self.age_on(self.today) >= 65 or self.age_on(self.today) < 5 else 0.45
        for year in range(self.start.year, self.today.year + 1):
            day = dt.date(year, 9, 20) + dt.timedelta(days=self.rng.randrange(0, 60))
            if self.age_on(day) < 0.5 or self.rng.random() >= takes_it:
                continue
            self._vaccine(catalog.FLU_HIGH_DOSE if self.age_on(day) >= 65 else catalog.FLU, day)

    def _covid(self) -> None:
        if self.rng.random() >= 0.7:
            return
        first = max(COVID_START, self.start) + dt.timedelta(days=self.rng.randrange(0, 120))
        if self.age_on(first) < 5:
            return
        self._vaccine(catalog.COVID_PRIMARY, first, 1)
        self._vaccine(catalog.COVID_PRIMARY, first + dt.timedelta(days=21), 2)
        for year in range(2022, self.today.year + 1):
            if self.rng.random() < (0.55 if self.age_on(self.today) >= 65 else 0.25):
                self._vaccine(
                    catalog.COVID_UPDATED, dt.date(year, 9, 25) + dt.timedelta(days=self.rng.randrange(60))
                )

    def _adult_boosters(self) -> None:
        # Tdap every ten years, from a phase of the patient's own.
        due = self.born + dt.timedelta(days=round(365.25 * (11 + self.rng.uniform(7, 17))))
        while due <= self.today:
            if due >= self.start and self.rng.random() < 0.6:
                self._vaccine(catalog.TDAP, due)
            due += dt.timedelta(days=3652)
        fifty = self.born + dt.timedelta(days=round(365.25 * 50))
        if self.age_on(self.today) >= 50 and self.rng.random() < 0.4:
            first = self._days_between(max(fifty, self.start), self.today)
            self._vaccine(catalog.SHINGLES, first, 1)
            self._vaccine(catalog.SHINGLES, first + dt.timedelta(days=self.rng.randrange(60, 180)), 2)
        sixty_five = self.born + dt.timedelta(days=round(365.25 * 65))
        if self.age_on(self.today) >= 65 and self.rng.random() < 0.6:
            self._vaccine(catalog.PNEUMOCOCCAL, self._days_between(max(sixty_five, self.start), self.today))

    # Visits --------------------------------------------------------------------------

    def visit(
        self,
        day: dt.date,
        kind: str,
        reason: str,
        diagnoses: list[tuple[str, str]],
        summary: str,
        instructions: str,
        follow_up: str,
        *,
        carer: Carer | None = None,
        sensitivity: str = "",
        note: bool = True,
    ) -> Encounter:
        carer = carer or self.primary
        started = self._moment(day)
        encounter = self.item(
            Encounter, started, kind=kind, started_at=started,
            ended_at=started + dt.timedelta(minutes=self.rng.choice((20, 30, 40))),
            campus_id=carer.campus_id, department_id=carer.department_id,
            practitioner_id=carer.practitioner_id, practitioner_name=carer.name, reason=reason,
            summary=summary, instructions=instructions, follow_up=follow_up,
            diagnoses=[{"code": code, "system": catalog.ICD10, "name": name} for code, name in diagnoses],
            sensitivity=sensitivity,
        )  # fmt: skip
        self.record.encounters.append(encounter)
        if kind in (Kind.OFFICE, Kind.EMERGENCY):
            self._vitals(encounter)
        if note:
            self._visit_note(encounter, diagnoses, carer)
        return encounter

    def _visit_note(self, encounter: Encounter, diagnoses: list[tuple[str, str]], carer: Carer) -> None:
        written = encounter.started_at + dt.timedelta(hours=self.rng.randrange(1, 30))
        if written > self.anchor or self.rng.random() >= 0.7:
            return
        assessment = "; ".join(name for _code, name in diagnoses)
        body = (
            f"Reason for visit: {encounter.reason}.\n\n{encounter.summary}\n\n"
            f"Assessment: {assessment}.\n\nPlan: {encounter.instructions} {encounter.follow_up}"
        )
        self.record.notes.append(
            self.item(
                ClinicalNote, written, kind=ClinicalNote.Kind.VISIT_NOTE,
                title=f"{KIND_NAMES[encounter.kind]}: {encounter.reason}", written_at=written,
                author_id=carer.practitioner_id, author_name=carer.name, encounter=encounter,
                body=body.strip(), sensitivity=encounter.sensitivity,
            )
        )  # fmt: skip

    def _remote_kind(self, day: dt.date, video_share: float = 0.3) -> str:
        if day < TELEHEALTH_START:
            return Kind.OFFICE
        roll = self.rng.random()
        return (
            Kind.VIDEO if roll < video_share else Kind.TELEPHONE if roll < video_share + 0.05 else Kind.OFFICE
        )

    def _check_ups(self) -> None:
        if self.age_on(self.today) < ADULT:
            self._well_child_visits()
            return
        day = self.start + dt.timedelta(days=self.rng.randrange(0, 200))
        while day <= self.today:
            if self.rng.random() < 0.8 and self.age_on(day) >= ADULT:
                self._adult_check_up(day)
            day += dt.timedelta(days=self.rng.randrange(340, 420))

    def _adult_check_up(self, day: dt.date) -> None:
        chronic = [catalog.CONDITIONS[key] for key in self.profile.conditions if self.has(key, day)]
        diagnoses = [("Z00.00", "Routine adult health check-up")]
        diagnoses += [(condition.code, condition.name) for condition in chronic if not condition.sensitivity]
        reviewed = ", ".join(condition.name.split(" (")[0].lower() for condition in chronic[:3])
        summary = (
            "You came in for your yearly check-up. We reviewed your health history and medicines, "
            "examined you and ordered routine blood tests."
        )
        if reviewed:
            summary += f" We also talked about your {reviewed}."
        advice = " ".join(
            condition.advice for condition in chronic if condition.advice and not condition.sensitivity
        )
        instructions = (
            f"Keep taking your medicines as prescribed. Aim for 150 minutes of moderate activity "
            f"a week. {advice}"
        ).strip()
        visit = self.visit(
            day, Kind.OFFICE, "Yearly check-up", diagnoses, summary, instructions,
            "We will send your test results when they are ready. Next check-up in 12 months.",
        )  # fmt: skip
        self._labs(visit, self._check_up_panels(day))

    def _check_up_panels(self, day: dt.date) -> list[Panel]:
        roll = self.rng.random
        age = self.age_on(day)
        panels: list[Panel] = []
        if roll() < 0.45:
            panels.append(CBC)
        metabolic = roll()
        if metabolic < 0.3:
            panels.append(CMP)
        elif metabolic < 0.75 or self.has("hypertension", day) or self.has("ckd", day):
            panels.append(BMP)
        lipid_risk = self.has("hyperlipidemia", day) or self.has("diabetes", day)
        # Screening every few years; every year once cholesterol or sugar is a problem.
        if lipid_risk or roll() < (0.3 if age >= 40 else 0.1):
            panels.append(LIPIDS)
        if self.has("diabetes", day) or self.has("prediabetes", day) or (age >= 35 and roll() < 0.15):
            panels.append(A1C)
        if self.has("hypothyroidism", day):
            panels.append(THYROID)
        elif roll() < 0.08:
            panels.append(TSH)
        if self.has("vitamin_d", day) or roll() < 0.05:
            panels.append(VITAMIN_D)
        if self.male and 55 <= age < 70 and roll() < 0.45:
            panels.append(PSA)
        if not self.male and age < 50 and roll() < 0.06:
            panels.append(FERRITIN)
        if roll() < 0.1:
            panels.append(URINALYSIS)
        return panels

    def _well_child_visits(self) -> None:
        # Well-child visits at 2 weeks, 2, 4, 6, 9, 12, 15, 18 and 24 months, 30 months, then yearly.
        months = (0.5, 2, 4, 6, 9, 12, 15, 18, 24, 30, *range(36, ADULT * 12, 12))
        for month in months:
            day = self.born + dt.timedelta(days=round(month * 30.44) + self.rng.randrange(0, 14))
            if day < self.start or day > self.today:
                continue
            age_words = f"{month:g} months" if month < 36 else f"{month // 12} years"
            self.visit(
                day, Kind.OFFICE, f"Well-child visit ({age_words})",
                [("Z00.129", "Routine child health check-up")],
                f"{self.patient.given_name} is growing and developing well. We checked height, "
                "weight and development and talked about eating, sleep and safety.",
                "Keep reading together every day and keep to a regular bedtime. Use a car seat or "
                "booster seat that fits.",
                "Next well-child visit as scheduled.",
            )  # fmt: skip
            if 9 <= month / 12 <= 11 and self.rng.random() < 0.5:
                self._labs(self.record.encounters[-1], [LIPIDS])

    def _follow_ups(self) -> None:
        followed = [key for key in catalog.FOLLOWED_UP if key in self.profile.conditions]
        if not followed:
            return
        every = 91 if "diabetes" in followed else 182
        day = max(self.start, min(self.profile.conditions[key] for key in followed))
        day += dt.timedelta(days=self.rng.randrange(20, every))
        while day <= self.today:
            self._follow_up(day, [key for key in followed if self.has(key, day)])
            day += dt.timedelta(days=every + self.rng.randrange(-20, 30))

    def _follow_up(self, day: dt.date, keys: list[str]) -> None:
        if not keys:
            return
        conditions = [catalog.CONDITIONS[key] for key in keys]
        private = all(condition.sensitivity for condition in conditions)
        if not private:
            conditions = [condition for condition in conditions if not condition.sensitivity]
        names = ", ".join(condition.name.split(" (")[0].lower() for condition in conditions)
        specialist = self.specialist if "afib" in keys and self.specialist else None
        visit = self.visit(
            day, self._remote_kind(day), f"Follow-up: {names}",
            [(condition.code, condition.name) for condition in conditions],
            f"We checked how your {names} {'is' if len(conditions) == 1 else 'are'} doing and reviewed "
            "your medicines. No changes were needed.",
            " ".join(condition.advice for condition in conditions if condition.advice)
            or "Keep taking your medicines as prescribed.",
            "Return in 3 months." if "diabetes" in keys else "Return in 6 months.",
            carer=specialist, sensitivity=conditions[0].sensitivity if private else "",
        )  # fmt: skip
        panels: list[Panel] = []
        if "diabetes" in keys:
            panels += [A1C, BMP]
        elif ("hypertension" in keys or "ckd" in keys) and self.rng.random() < 0.5:
            panels.append(BMP)
        if "hypothyroidism" in keys and self.rng.random() < 0.4:
            panels.append(TSH)
        self._labs(visit, panels)

    def _illnesses(self) -> None:
        day = self.start
        while True:
            day += dt.timedelta(days=round(self.rng.expovariate(0.55) * 365.25) + 1)
            if day > self.today:
                return
            age = self.age_on(day)
            fits = [episode for episode in catalog.EPISODES if episode.youngest <= age <= episode.oldest]
            if self.male:
                fits = [episode for episode in fits if episode.key != "uti"]
            if fits:
                self._illness(day, self.rng.choice(fits))

    def _illness(self, day: dt.date, episode: catalog.Episode) -> None:
        kind = self._remote_kind(day, 0.25) if episode.remote else Kind.OFFICE
        visit = self.visit(
            day, kind, episode.reason, [episode.diagnosis], episode.summary, episode.instructions,
            episode.follow_up,
        )  # fmt: skip
        if kind == Kind.OFFICE:
            self._labs(visit, list(episode.panels), infection=episode.key == "uti")
        if episode.drug:
            self._course(episode.drug, day)
        if self.rng.random() < 0.15:
            resolved = day + dt.timedelta(days=self.rng.randrange(7, 40))
            self.record.problems.append(
                self.item(
                    Problem, self._moment(day), name=episode.diagnosis[1], code=episode.diagnosis[0],
                    code_system=catalog.ICD10, category=Problem.Category.ENCOUNTER_DIAGNOSIS,
                    status=Problem.Status.RESOLVED if resolved < self.today else Problem.Status.ACTIVE,
                    onset_on=day, abated_on=resolved if resolved < self.today else None, recorded_on=day,
                )
            )  # fmt: skip
        if episode.key == "bronchitis" and self.rng.random() < 0.3:
            self._imaging(visit, "chest", "clear")

    def _hospital_stays(self) -> None:
        planned = self.profile.hospital_stays
        if planned is not None:
            for index, key in enumerate(planned):
                stay = next(stay for stay in catalog.STAYS if stay.key == key)
                self._hospital_stay(self.today - dt.timedelta(days=200 + 400 * index), stay)
            return
        for year in range(self.start.year, self.today.year + 1):
            age = self.age_on(dt.date(year, 7, 1))
            chance = 0.08 if age >= 80 else 0.04 if age >= 65 else 0.015 if age >= 45 else 0.005
            if age >= 5 and self.rng.random() < chance:
                day = self._days_between(
                    max(dt.date(year, 1, 1), self.start), min(dt.date(year, 12, 31), self.today)
                )
                self._hospital_stay(day, self.rng.choice(catalog.STAYS))

    def _hospital_stay(self, day: dt.date, stay: catalog.Stay) -> None:
        nights = self.rng.randint(1, 4)
        admitted = self._moment(day, 0, 24)
        discharged = admitted + dt.timedelta(days=nights, hours=self.rng.randrange(2, 8))
        if discharged > self.anchor:
            return
        visit = self.item(
            Encounter, admitted, kind=Kind.HOSPITAL, started_at=admitted, ended_at=discharged,
            campus_id=self.primary.campus_id, practitioner_name=HOSPITAL_TEAM,
            reason=stay.reason, summary=stay.course, instructions=stay.instructions,
            follow_up="See your primary care clinician within 1 to 2 weeks.",
            diagnoses=[{"code": stay.diagnosis[0], "system": catalog.ICD10, "name": stay.diagnosis[1]}],
        )  # fmt: skip
        self.record.encounters.append(visit)
        self._vitals(visit, fever=stay.infection)
        for night in range(min(nights, 3)):
            self._labs(visit, list(catalog.STAY_PANELS), infection=stay.infection and night == 0,
                       at=admitted + dt.timedelta(days=night, hours=1))  # fmt: skip
        if stay.chest_x_ray:
            self._imaging(visit, "chest", stay.chest_x_ray)
        if stay.procedure[0]:
            self._procedure(stay.procedure, admitted + dt.timedelta(hours=5), visit)
        self.record.notes.append(
            self.item(
                ClinicalNote, discharged, kind=ClinicalNote.Kind.DISCHARGE_SUMMARY,
                title=f"Discharge summary: {stay.diagnosis[1]}", written_at=discharged,
                author_name=HOSPITAL_TEAM, encounter=visit,
                body=f"Admitted: {admitted:%Y-%m-%d}. Discharged: {discharged:%Y-%m-%d}.\n\n"
                f"Diagnosis: {stay.diagnosis[1]}.\n\nHospital course: {stay.course}\n\n"
                f"Instructions: {stay.instructions}",
            )
        )  # fmt: skip

    def _procedure(self, procedure: tuple[str, str], at: dt.datetime, visit: Encounter | None) -> None:
        self.record.procedures.append(
            self.item(
                Procedure, at, name=procedure[1], code=procedure[0], code_system=catalog.SNOMED,
                performed_at=at, performer_name=self.primary.team, campus_id=self.primary.campus_id,
                encounter=visit,
            )
        )  # fmt: skip

    def _screening(self) -> None:
        """Colonoscopy at 45-75, a knee MRI for painful knees, sexual-health screening when young."""
        age_now = self.age_on(self.today)
        if 46 <= age_now <= 76 and self.rng.random() < 0.2:
            day = self._days_between(
                max(self.start, self.born + dt.timedelta(days=round(45 * 365.25))), self.today
            )
            self._procedure(catalog.COLONOSCOPY, self._moment(day), None)
        if self.profile.knee_mri and self.has("knee_oa"):
            day = self._days_between(max(self.start, self.profile.conditions["knee_oa"]), self.today)
            visit = self.visit(
                day, Kind.OFFICE, "Knee pain", [("M17.9", "Osteoarthritis of the knee")],
                "Your knee has been painful and swollen for several months despite rest and "
                "acetaminophen. We ordered an MRI scan.",
                "Keep active within what your knee allows. We will call you with the MRI result.",
                "Physical therapy referral sent.", carer=self.primary,
            )  # fmt: skip
            self._imaging(visit, "knee", "")
        self._sexual_health_screens()

    def _sexual_health_screens(self) -> None:
        share = 0.45 if not self.male else 0.12
        for year in range(self.start.year, self.today.year + 1):
            day = self._days_between(dt.date(year, 1, 1), dt.date(year, 12, 31))
            if not 15 <= self.age_on(day) < 25 or day > self.today or day < self.start:
                continue
            if self.rng.random() < share:
                visit = self.visit(
                    day, Kind.OFFICE, "Sexual health check", [("Z11.3", "Screening for sexually "
                    "transmitted infections")], "You asked for a routine sexual health check. We "
                    "took a urine sample for chlamydia and gonorrhea tests.",
                    "Use condoms to lower the chance of infection.",
                    "We will message you the results.", sensitivity=catalog.SEXUAL_HEALTH,
                )  # fmt: skip
                self._labs(visit, [STI_SCREEN], sensitivity=catalog.SEXUAL_HEALTH)

    def _letter(self) -> None:
        checked = [visit for visit in self.record.encounters if visit.reason == "Yearly check-up"]
        if not checked or self.rng.random() >= 0.3:
            return
        visit = checked[-1]
        written = visit.started_at + dt.timedelta(days=self.rng.randrange(3, 8))
        if written > self.anchor:
            return
        flagged = any(
            row.is_abnormal
            for row in self.record.observations
            if row.effective_at.date() == visit.started_at.date() and row.category == LAB
        )
        message = (
            "A few of your results were slightly outside the usual range. They are not a worry "
            "on their own, and we will recheck them at your next visit."
            if flagged
            else "All your results were in the normal range."
        )
        self.record.notes.append(
            self.item(
                ClinicalNote, written, kind=ClinicalNote.Kind.LETTER, title="Your test results",
                written_at=written, author_id=self.primary.practitioner_id,
                author_name=self.primary.name, encounter=visit,
                body=f"Dear {self.patient.given_name},\n\nThank you for coming in for your yearly "
                f"check-up. {message}\n\nPlease message us if you have any questions.\n\n"
                f"With best wishes,\n{self.primary.name}",
            )
        )  # fmt: skip

    def _monitoring(self, target: int) -> None:
        """Regular blood tests and checks, evenly spread, until the record holds `target` values."""
        span = (self.today - self.start).days
        visits = 0
        while len(self.record.observations) < target and visits < 10 * target:
            per_pass = max((target - len(self.record.observations)) // 25, 1)
            for index in range(per_pass):
                day = self.start + dt.timedelta(days=span * (index + self.rng.random()) / per_pass)
                visit = self.visit(
                    day, Kind.OFFICE, "Monitoring: kidneys, blood sugar and blood count",
                    [("N18.31", "Chronic kidney disease, stage 3a"), ("E11.9", "Type 2 diabetes")],
                    "Routine check of your kidney function, blood sugar and blood count.",
                    "Keep taking your medicines as prescribed.", "Next check in 2 to 3 weeks.", note=False,
                )  # fmt: skip
                self._labs(visit, [CMP, CBC, A1C] if index % 6 == 0 else [BMP, CBC])
                visits += 1
                if len(self.record.observations) >= target:
                    return

    def _typing_error(self) -> None:
        """Now and then a value was first reported wrong and later corrected."""
        numeric = [
            row for row in self.record.observations
            if row.report is not None and row.value_number is not None and row.status == Observation.Status.FINAL
        ]  # fmt: skip
        if numeric:
            row = self.rng.choice(numeric)
            self.correct(row, Decimal(row.value_number or 0) * 10, row.effective_at)

    def correct(
        self, row: Observation, wrong: Decimal, reported: dt.datetime, reason: str = CORRECTION_REASON
    ) -> None:
        """Record that `row` was first reported as `wrong` and corrected a day later."""
        previous = {
            "value_number": str(wrong), "value_text": row.value_text, "unit": row.unit,
            "range_low": None if row.range_low is None else str(row.range_low),
            "range_high": None if row.range_high is None else str(row.range_high),
            "interpretation": self._flag_for_code(row.code, wrong), "status": row.status,
        }  # fmt: skip
        row.status = Observation.Status.CORRECTED
        if row.report is not None:
            row.report.status = ResultReport.Status.CORRECTED
            reported = row.report.issued_at
        corrected = min(reported + dt.timedelta(hours=self.rng.randrange(6, 40)), self.anchor)
        self.record.corrections.append((row, previous, reason, corrected))

    def _flag_for_code(self, code: str, value: Decimal) -> str:
        test = TESTS.get(code)
        return flag_for(value, test, self.male) if test else Flag.UNKNOWN

    def _seen(self) -> None:
        """The patient has opened most of their older results; the newest may still be new."""
        user_id = self.patient.account_id
        if user_id is None:
            return
        recent = self.anchor - dt.timedelta(days=14)
        for report in self.record.reports:
            if report.available_at > self.anchor:
                continue
            if self.rng.random() < (0.92 if report.issued_at < recent else 0.3):
                opened = report.available_at + dt.timedelta(hours=self.rng.randrange(1, 72))
                self.record.seen.append((user_id, report, min(opened, self.anchor)))

    # Measurements -----------------------------------------------------------------------

    def _labs(
        self,
        visit: Encounter,
        panels: list[Panel],
        *,
        infection: bool = False,
        at: dt.datetime | None = None,
        sensitivity: str = "",
    ) -> None:
        for panel in panels:
            collected = (at or visit.started_at) + dt.timedelta(minutes=self.rng.randrange(10, 50))
            self.add_report(panel, collected, visit, infection=infection, sensitivity=sensitivity)

    def add_report(
        self,
        panel: Panel,
        collected: dt.datetime,
        visit: Encounter | None,
        *,
        infection: bool = False,
        sensitivity: str = "",
        values: dict[str, float] | None = None,
        final: bool = False,
    ) -> ResultReport | None:
        """One lab report and its results; None if it would be reported after the anchor.

        Reports issued in the last two days may still be preliminary, unless `final`.
        """
        issued = collected + dt.timedelta(minutes=self.rng.randrange(90, 36 * 60))
        if issued > self.anchor:
            return None
        preliminary = issued > self.anchor - dt.timedelta(days=2) and self.rng.random() < 0.5 and not final
        status = ResultReport.Status.PRELIMINARY if preliminary else ResultReport.Status.FINAL
        reviewed: dt.datetime | None = issued + dt.timedelta(hours=self.rng.randrange(4, 72))
        if preliminary or (reviewed and reviewed > self.anchor):
            reviewed = None
        carer = self.primary
        report = self.item(
            ResultReport, issued, category=ResultReport.Category.LAB, code=panel.code,
            name=panel.name, status=status, effective_at=collected, issued_at=issued, encounter=visit,
            ordered_by_id=carer.practitioner_id, ordered_by_name=carer.name, performer=carer.lab,
            available_at=issued, reviewed_at=reviewed, reviewed_by_id=carer.user_id if reviewed else None,
            sensitivity=sensitivity,
        )  # fmt: skip
        self.record.reports.append(report)
        drawn = self.body.draw_panel(panel, collected.date(), infection=infection)
        drawn.update(values or {})
        for position, code in enumerate((*panel.tests, *panel.text_tests)):
            self.record.observations.append(self._result(report, code, drawn[code], position))
        return report

    def _result(self, report: ResultReport, code: str, value: float | str, position: int) -> Observation:
        fields: dict[str, Any]
        flag: str
        if isinstance(value, str):
            text = TEXT_TESTS[code]
            flag = Flag.NORMAL if value == text.normal else Flag.ABNORMAL
            fields = {"name": text.name, "value_text": value, "range_text": text.normal}
        else:
            test = TESTS[code]
            number = as_decimal(value, test.decimals)
            low, high = test.reference(self.male)
            flag = flag_for(number, test, self.male)
            fields = {
                "name": test.name, "value_number": number, "unit": test.unit,
                "range_low": None if low is None else as_decimal(low, test.decimals),
                "range_high": None if high is None else as_decimal(high, test.decimals),
            }  # fmt: skip
        return self.item(
            Observation, report.issued_at, report=report, category=LAB, code=code,
            interpretation=flag, status=report.status, effective_at=report.effective_at,
            position=position, sensitivity=report.sensitivity, **fields,
        )  # fmt: skip

    def _vitals(self, visit: Encounter, *, fever: bool = False) -> None:
        taken = visit.started_at + dt.timedelta(minutes=5)
        for position, (code, value) in enumerate(self.body.vital_signs(taken.date(), fever=fever)):
            vital = VITALS[code]
            self.record.observations.append(
                self.item(
                    Observation, taken, report=None, category=VITAL, code=code, name=vital.name,
                    value_number=as_decimal(value, vital.decimals), unit=vital.unit,
                    interpretation=Flag.UNKNOWN, effective_at=taken, position=position,
                    sensitivity=visit.sensitivity,
                )
            )  # fmt: skip

    # Imaging ----------------------------------------------------------------------------

    def _imaging(self, visit: Encounter, study: str, finding: str) -> ResultReport | None:
        performed = visit.started_at + dt.timedelta(hours=self.rng.randrange(1, 5))
        issued = performed + dt.timedelta(hours=self.rng.randrange(2, 20))
        if issued > self.anchor:
            return None
        if study == "chest":
            code, name, modality, site = "36643-5", "Chest X-ray, 2 views", "DX", "Chest"
            findings, impression = catalog.CHEST_X_RAY[finding]
        else:
            side = self.rng.choice(("Right", "Left"))
            code, name, modality, site = (
                "24802-1",
                f"MRI {side.lower()} knee without contrast",
                "MR",
                f"{side} knee",
            )
            findings, impression = catalog.KNEE_MRI
        report = self.item(
            ResultReport, issued, category=ResultReport.Category.IMAGING, code=code, name=name,
            effective_at=performed, issued_at=issued, encounter=visit,
            ordered_by_id=self.primary.practitioner_id, ordered_by_name=visit.practitioner_name,
            performer=f"{self.primary.lab.replace('Laboratory', 'Radiology')}", modality=modality,
            body_site=site, study_uid=f"2.25.{self.rng.getrandbits(120)}", findings=findings,
            impression=impression, available_at=issued, reviewed_at=issued + dt.timedelta(hours=20)
            if issued + dt.timedelta(hours=20) <= self.anchor else None,
        )  # fmt: skip
        self.record.reports.append(report)
        return report


def _not_renewable_reason(drug: catalog.Drug) -> str:
    if drug.controlled:
        return catalog.CONTROLLED
    return "" if drug.prescription else catalog.OVER_THE_COUNTER
