"""Invented patients for the demo and the benchmarks.

The generator is deterministic: the same seed, anchor and starting database give the
same people (clinic numbers, names, birth dates, everything else). It draws from
`random.Random` and a Faker seeded with `seed_instance`, never from the clock; dates are
relative to the `anchor` the caller passes in.

Seeding a database that already holds patients adds to it. The random stream is keyed
by the seed *and* the number of patients already there, so a repeated run adds new
people instead of twins of the ones it made last time, and clinic numbers already in
use are skipped.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from faker import Faker

from portal.accounts.models import User
from portal.lib.seeding import DEFAULT_ANCHOR, GENERATED_CLINIC_NUMBERS, given_timestamps
from portal.lib.seeding.organization import PRIMARY_CARE_DEPARTMENTS, SERVICE_DEPARTMENTS
from portal.lib.seeding.records import RECORD_YEARS, seed_records
from portal.notifications.models import Notification, Task
from portal.organization.models import Campus, CareTeam
from portal.patients.models import CareRelationship, Patient

Sex = Patient.Sex
BATCH_SIZE = 2000
Progress = Callable[[int, int], None]

# (youngest, oldest, weight): roughly the age mix of a large clinic, children included.
AGE_BANDS = ((0, 17, 20), (18, 44, 32), (45, 64, 27), (65, 96, 21))
ADULT_AGE = 18
ADULT_CAMPUSES = {"rochester": 50, "jacksonville": 20, "phoenix": 22, "london": 8}
# Most children are seen at the Children's Center; family medicine sees the rest.
CHILD_CAMPUSES = {"childrens": 70, "rochester": 12, "jacksonville": 9, "phoenix": 9}
CHILD_SPECIALTIES = ("cardiology", "dermatology", "endocrinology", "neurology", "orthopedics")
ACCOUNT_SHARE = 0.65  # adults who have activated a portal sign-in
SPANISH_NAME_SHARE = 0.15  # US patients; two thirds of them prefer Spanish
SPECIALTY_SHARE = 0.5  # patients also under a specialty team
CARE_HISTORY_DAYS = 3650
INBOX_DAYS = 90
POOL_SIZE = 1000

TOWNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "rochester": (
        ("Rochester", "MN", "55901"), ("Rochester", "MN", "55902"), ("Rochester", "MN", "55904"),
        ("Stewartville", "MN", "55976"), ("Byron", "MN", "55920"), ("Kasson", "MN", "55944"),
        ("Owatonna", "MN", "55060"), ("Winona", "MN", "55987"), ("Austin", "MN", "55912"),
        ("Minneapolis", "MN", "55401"), ("La Crosse", "WI", "54601"), ("Decorah", "IA", "52101"),
    ),
    "jacksonville": (
        ("Jacksonville", "FL", "32224"), ("Jacksonville", "FL", "32207"),
        ("Jacksonville Beach", "FL", "32250"), ("Ponte Vedra Beach", "FL", "32082"),
        ("St. Augustine", "FL", "32084"), ("Orange Park", "FL", "32073"),
        ("Fernandina Beach", "FL", "32034"), ("Brunswick", "GA", "31520"),
    ),
    "phoenix": (
        ("Scottsdale", "AZ", "85259"), ("Scottsdale", "AZ", "85251"), ("Phoenix", "AZ", "85054"),
        ("Phoenix", "AZ", "85016"), ("Mesa", "AZ", "85201"), ("Tempe", "AZ", "85281"),
        ("Chandler", "AZ", "85224"), ("Gilbert", "AZ", "85234"), ("Fountain Hills", "AZ", "85268"),
    ),
    # UK: (town, "", outward code); the inward half is drawn per patient.
    "london": (
        ("London", "", "W1G"), ("London", "", "SW3"), ("London", "", "N1"), ("London", "", "SE1"),
        ("Richmond", "", "TW9"), ("Croydon", "", "CR0"), ("Guildford", "", "GU1"),
        ("Reading", "", "RG1"), ("Cambridge", "", "CB2"), ("Brighton", "", "BN1"),
    ),
}  # fmt: skip
TOWNS["childrens"] = TOWNS["rochester"]
AREA_CODES = {
    "rochester": ("507",),
    "childrens": ("507",),
    "jacksonville": ("904",),
    "phoenix": ("480", "602"),
}
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
GENDER_MINORITIES = (
    ("Non-binary", "they/them"),
    ("Transgender woman", "she/her"),
    ("Transgender man", "he/him"),
    ("Genderqueer", "they/them"),
)

# (title, body, link): links only to pages that exist today, and nothing that claims a
# result or document the record does not hold (those arrive with their capabilities).
NOTIFICATIONS = (
    ("Reminder: annual check-up", "It is time to book your yearly check-up.", ""),
    ("Someone viewed your record", "See who has looked at your record.", "/record-access/"),
    ("Flu shots are available", "Walk-in flu shots are offered at every campus.", ""),
    ("You have new notifications", "Catch up on what changed in your account.", "/notifications/"),
)
TASKS = (
    ("Confirm your contact details", "Check your address and phone numbers are right.", "/"),
    ("Bring your insurance card and photo ID to your next visit", "", ""),
)


class SeedingError(RuntimeError):
    """The database is not ready for generated patients."""


@dataclass(frozen=True)
class SeedReport:
    """How many rows a seeding run added."""

    patients: int = 0
    accounts: int = 0
    care_relationships: int = 0
    notifications: int = 0
    tasks: int = 0
    record_rows: int = 0

    def __add__(self, other: SeedReport) -> SeedReport:
        return SeedReport(
            self.patients + other.patients,
            self.accounts + other.accounts,
            self.care_relationships + other.care_relationships,
            self.notifications + other.notifications,
            self.tasks + other.tasks,
            self.record_rows + other.record_rows,
        )


@dataclass
class PatientDraft:
    """One generated patient and the rows that hang off them, not yet saved."""

    patient: Patient
    account: User | None = None
    relationships: list[CareRelationship] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    """The parts of the organisation patients attach to, in an order that never varies."""

    campuses: dict[str, Campus]
    primary_teams: dict[str, CareTeam]
    specialty_teams: dict[str, list[CareTeam]]
    child_specialty_teams: dict[str, list[CareTeam]]
    clinicians: dict[int, list[int]]

    @classmethod
    def load(cls) -> Catalogue:
        campuses = {campus.slug: campus for campus in Campus.objects.order_by("slug")}
        missing = (set(ADULT_CAMPUSES) | set(CHILD_CAMPUSES)) - set(campuses)
        if missing:
            raise SeedingError(f"Seed the organisation first; missing campuses: {sorted(missing)}")
        teams = list(
            CareTeam.objects.filter(kind=CareTeam.Kind.CLINICAL, campus__isnull=False)
            .exclude(department__slug__in=SERVICE_DEPARTMENTS)
            .select_related("campus", "department")
            .prefetch_related("members")
            .order_by("slug")
        )
        specialties = _specialty_teams(teams)
        return cls(
            campuses,
            _primary_teams(teams),
            specialties,
            _child_specialty_teams(specialties),
            _clinicians(teams),
        )


def _primary_teams(teams: list[CareTeam]) -> dict[str, CareTeam]:
    primary: dict[str, CareTeam] = {}
    # Family medicine wins over internal medicine where a campus has both.
    for slug in reversed(PRIMARY_CARE_DEPARTMENTS):
        for team in teams:
            if team.department is not None and team.department.slug == slug and team.campus:
                primary[team.campus.slug] = team
    return primary


def _specialty_teams(teams: list[CareTeam]) -> dict[str, list[CareTeam]]:
    specialties: dict[str, list[CareTeam]] = {}
    for team in teams:
        if team.campus and team.department and team.department.slug not in PRIMARY_CARE_DEPARTMENTS:
            specialties.setdefault(team.campus.slug, []).append(team)
    return specialties


def _child_specialty_teams(specialties: dict[str, list[CareTeam]]) -> dict[str, list[CareTeam]]:
    """Specialty teams that see children; the Children's Center borrows Rochester's."""
    children: dict[str, list[CareTeam]] = {}
    for campus_slug in CHILD_CAMPUSES:
        home = "rochester" if campus_slug == "childrens" else campus_slug
        children[campus_slug] = [
            team
            for team in specialties.get(home, [])
            if team.department is not None and team.department.slug in CHILD_SPECIALTIES
        ]
    return children


def _clinicians(teams: list[CareTeam]) -> dict[int, list[int]]:
    """Each team's clinical members' ids, in name order (ids alone could vary by database)."""
    return {
        team.pk: [
            member.pk
            for member in sorted(
                team.members.all(), key=lambda member: (member.family_name, member.given_name)
            )
            if member.is_clinical
        ]
        for team in teams
    }


def stream_key(seed: int, existing_patients: int) -> str:
    return f"portal-seed/{seed}/{existing_patients}"


def seed_patients(
    count: int,
    seed: int,
    anchor: dt.datetime = DEFAULT_ANCHOR,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    record_years: int = RECORD_YEARS,
) -> SeedReport:
    """Add `count` generated patients, saved in batches; return what was added.

    Each patient also gets `record_years` of medical record (records.py); 0 gives none.
    """
    catalogue = Catalogue.load()
    taken = set(Patient.objects.values_list("clinic_number", flat=True))
    factory = PatientFactory(catalogue, stream_key(seed, len(taken)), anchor, taken)
    report = SeedReport()
    while report.patients < count:
        size = min(batch_size, count - report.patients)
        drafts = [factory.draft() for _ in range(size)]
        report += save_drafts(drafts)
        if record_years > 0:
            rows = seed_records([draft.patient for draft in drafts], seed, anchor, record_years)
            report += SeedReport(record_rows=rows)
        if progress is not None:
            progress(report.patients, count)
    return report


def save_drafts(drafts: list[PatientDraft]) -> SeedReport:
    """Insert a batch with one bulk insert per table, in one transaction."""
    accounts = [draft.account for draft in drafts if draft.account is not None]
    relationships = [row for draft in drafts for row in draft.relationships]
    notifications = [row for draft in drafts for row in draft.notifications]
    tasks = [row for draft in drafts for row in draft.tasks]
    with (
        transaction.atomic(),
        given_timestamps(Notification, "created_at"),
        given_timestamps(Task, "created_at"),
    ):
        # Parents first: bulk_create fills in primary keys, and the children's foreign
        # keys to those (still the same Python objects) are resolved as they are saved.
        User.objects.bulk_create(accounts)
        Patient.objects.bulk_create([draft.patient for draft in drafts])
        CareRelationship.objects.bulk_create(relationships)
        Notification.objects.bulk_create(notifications)
        Task.objects.bulk_create(tasks)
    return SeedReport(len(drafts), len(accounts), len(relationships), len(notifications), len(tasks))


class PatientFactory:
    """Draws invented patients one at a time from one seeded random stream.

    Every choice comes from `self.rng` or `self.fake`, in a fixed order, so the stream
    (and therefore every patient) is reproducible from its key.
    """

    def __init__(self, catalogue: Catalogue, key: str, anchor: dt.datetime, taken: set[str]) -> None:
        self.catalogue = catalogue
        self.rng = random.Random(key)  # nosec B311  # seeded demo data, not security
        self.fake = Faker(["en_US", "es_MX", "en_GB"])
        self.fake.seed_instance(key)
        self.pools: dict[tuple[str, str], list[str]] = {}
        self.anchor = anchor.astimezone(dt.UTC)
        self.today = self.anchor.date()
        self.taken = taken
        # One unusable hash for every generated sign-in: generated people never sign
        # in, and hashing a hundred thousand random passwords would take hours.
        self.unusable_password = make_password(None)

    def draft(self) -> PatientDraft:
        age = self._age()
        campus_slug = self._weighted(ADULT_CAMPUSES if age >= ADULT_AGE else CHILD_CAMPUSES)
        patient = self._identity(age, campus_slug)
        self._contact(patient, age, campus_slug)
        draft = PatientDraft(patient)
        if age >= ADULT_AGE and self.rng.random() < ACCOUNT_SHARE:
            draft.account = self._account(patient)
            patient.account = draft.account
            draft.notifications = self._notifications(patient, draft.account)
            draft.tasks = self._tasks(patient)
        draft.relationships = self._care(patient, age, campus_slug)
        return draft

    def _pick(self, locale: str, kind: str) -> str:
        """A name or street from a pool drawn once from Faker, in Faker's own frequencies.

        Faker's weighted draws cost about 100 µs each; picking from a pool keeps the
        frequencies and makes a hundred thousand patients a matter of seconds.
        """
        pool = self.pools.get((locale, kind))
        if pool is None:
            draw = getattr(self.fake[locale], kind)
            pool = self.pools[(locale, kind)] = [draw() for _ in range(POOL_SIZE)]
        return self.rng.choice(pool)

    def _weighted(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _age(self) -> int:
        youngest, oldest, _weight = self.rng.choices(AGE_BANDS, weights=[band[2] for band in AGE_BANDS])[0]
        return self.rng.randint(youngest, oldest)

    def _clinic_number(self) -> str:
        while True:
            number = str(self.rng.randrange(GENERATED_CLINIC_NUMBERS.start, GENERATED_CLINIC_NUMBERS.stop))
            if number not in self.taken:
                self.taken.add(number)
                return number

    def _birth_date(self, age: int) -> dt.date:
        days_since_birthday = self.rng.randrange(365)
        return self.today - dt.timedelta(days=round(age * 365.25) + days_since_birthday)

    def _identity(self, age: int, campus_slug: str) -> Patient:
        rng = self.rng
        roll = rng.random()
        sex = Sex.FEMALE if roll < 0.505 else Sex.MALE if roll < 0.995 else Sex.UNKNOWN
        if campus_slug == "london":
            locale, language = "en_GB", "en"
        elif rng.random() < SPANISH_NAME_SHARE:
            locale, language = "es_MX", "es" if rng.random() < 2 / 3 else "en"
        else:
            locale, language = "en_US", "en"
        gender, pronouns = self._gender(sex, age)
        return Patient(
            clinic_number=self._clinic_number(),
            given_name=self._first_name(locale, sex),
            family_name=self._pick(locale, "last_name"),
            preferred_name=self._first_name(locale, sex) if rng.random() < 0.06 else "",
            birth_date=self._birth_date(age),
            sex_at_birth=sex,
            gender_identity=gender,
            pronouns=pronouns,
            preferred_language=language,
            primary_campus_id=self.catalogue.campuses[campus_slug].pk,
            country="GB" if campus_slug == "london" else "US",
        )

    def _first_name(self, locale: str, sex: str) -> str:
        if sex == Sex.FEMALE:
            return self._pick(locale, "first_name_female")
        if sex == Sex.MALE:
            return self._pick(locale, "first_name_male")
        return self._pick(locale, "first_name")

    def _gender(self, sex: str, age: int) -> tuple[str, str]:
        """Most records leave gender blank; some state it, a few differently from sex."""
        roll = self.rng.random()
        if age < 13 or roll >= 0.35:
            return "", ""
        if roll < 0.015:
            return self.rng.choice(GENDER_MINORITIES)
        if sex == Sex.FEMALE:
            return "Woman", "she/her" if self.rng.random() < 0.6 else ""
        if sex == Sex.MALE:
            return "Man", "he/him" if self.rng.random() < 0.6 else ""
        return "", ""

    def _contact(self, patient: Patient, age: int, campus_slug: str) -> None:
        rng = self.rng
        uk = campus_slug == "london"
        patient.address_line = self._street_address(uk)
        patient.city, patient.region, patient.postal_code = rng.choice(TOWNS[campus_slug])
        if uk:
            inward = f"{rng.randrange(1, 10)}{rng.choice(UK_INWARD_LETTERS)}"
            patient.postal_code = f"{patient.postal_code} {inward}{rng.choice(UK_INWARD_LETTERS)}"
        if age >= ADULT_AGE and rng.random() < 0.88:
            patient.email = self._email(patient.given_name, patient.family_name)
        if age >= ADULT_AGE or (age >= 13 and rng.random() < 0.5):
            patient.mobile_phone = self._phone(campus_slug, mobile=True)
        if rng.random() < 0.35:
            patient.home_phone = self._phone(campus_slug, mobile=False)

    def _street_address(self, uk: bool) -> str:
        street = self._pick("en_GB" if uk else "en_US", "street_name")
        if uk:
            flat = f"Flat {self.rng.randint(1, 40)}, " if self.rng.random() < 0.2 else ""
            return f"{flat}{self.rng.randint(1, 220)} {street}"
        unit = f", Apt. {self.rng.randint(1, 400)}" if self.rng.random() < 0.15 else ""
        return f"{self.rng.randint(100, 19999)} {street}{unit}"

    def _email(self, given: str, family: str) -> str:
        plain = unicodedata.normalize("NFKD", f"{given}.{family}").encode("ascii", "ignore")
        local = re.sub(r"[^a-z.]", "", plain.decode().lower())
        return f"{local}{self.rng.randrange(1, 100)}@{self.rng.choice(EMAIL_DOMAINS)}"

    def _phone(self, campus_slug: str, mobile: bool) -> str:
        # Only numbers reserved for fiction, so a demo can never ring a real person.
        line = self.rng.randrange(1000)
        if campus_slug == "london":
            return f"+44 7700 900{line:03d}" if mobile else f"+44 20 7946 0{line:03d}"
        area = self.rng.choice(AREA_CODES[campus_slug])
        return f"{area}-555-01{line % 100:02d}"

    def _account(self, patient: Patient) -> User:
        return User(
            username=f"patient-{patient.clinic_number}",
            first_name=patient.given_name,
            last_name=patient.family_name,
            email=patient.email,
            password=self.unusable_password,
        )

    def _care(self, patient: Patient, age: int, campus_slug: str) -> list[CareRelationship]:
        teams = [self.catalogue.primary_teams[campus_slug]]
        if self.rng.random() < SPECIALTY_SHARE:
            teams.append(self.rng.choice(self._specialties(age, campus_slug)))
        return [self._relationship(patient, team) for team in teams]

    def _specialties(self, age: int, campus_slug: str) -> list[CareTeam]:
        if age >= ADULT_AGE:
            return self.catalogue.specialty_teams[campus_slug]
        return self.catalogue.child_specialty_teams[campus_slug]

    def _relationship(self, patient: Patient, team: CareTeam) -> CareRelationship:
        clinicians = self.catalogue.clinicians.get(team.pk, [])
        started = self.today - dt.timedelta(days=self.rng.randrange(CARE_HISTORY_DAYS))
        return CareRelationship(
            patient=patient,
            care_team_id=team.pk,
            practitioner_id=self.rng.choice(clinicians) if clinicians else None,
            starts_on=max(started, patient.birth_date),
        )

    def _moment_before_anchor(self, days: int) -> dt.datetime:
        return self.anchor - dt.timedelta(seconds=self.rng.randrange(days * 86400))

    def _notifications(self, patient: Patient, account: User) -> list[Notification]:
        notifications = []
        for _ in range(self.rng.choice((0, 1, 1, 2, 3))):
            title, body, link = self.rng.choice(NOTIFICATIONS)
            created = self._moment_before_anchor(INBOX_DAYS)
            read = created + dt.timedelta(minutes=self.rng.randrange(5, 4320))
            notifications.append(
                Notification(
                    recipient=account,
                    patient=patient,
                    title=title,
                    body=body,
                    link=link,
                    created_at=created,
                    read_at=min(read, self.anchor) if self.rng.random() < 0.6 else None,
                )
            )
        return notifications

    def _tasks(self, patient: Patient) -> list[Task]:
        tasks = []
        for title, detail, link in self.rng.sample(TASKS, self.rng.choice((0, 0, 1, 1, 2))):
            created = self._moment_before_anchor(60)
            done = created + dt.timedelta(hours=self.rng.randrange(1, 240))
            tasks.append(
                Task(
                    patient=patient,
                    title=title,
                    detail=detail,
                    link=link,
                    due_on=self.today + dt.timedelta(days=self.rng.randrange(-14, 45)),
                    created_at=created,
                    completed_at=min(done, self.anchor) if self.rng.random() < 0.4 else None,
                )
            )
        return tasks
