"""The demo organisation: a multi-campus clinic with its departments, staff and teams.

Every name, address and number here is invented. US numbers use the 555-01xx block kept
for fiction and London numbers the Ofcom drama range (+44 20 7946 0xxx). Loading is
idempotent and only ever adds: records are matched by slug (or a practitioner's name)
and updated in place, so running it again never duplicates or removes anything an
administrator added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle, islice

from django.db import transaction

from portal.organization.models import Campus, CareTeam, Department, OpeningHours, Practitioner

Role = Practitioner.Role
Kind = CareTeam.Kind
Period = tuple[int, dt.time, dt.time]

MONDAY_TO_FRIDAY = range(5)
SATURDAY = 5


def hours(opens: str, closes: str, days: range | tuple[int, ...] = MONDAY_TO_FRIDAY) -> list[Period]:
    """Opening periods for `days`, from "HH:MM" strings in the campus's local time."""
    return [(day, dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)) for day in days]


@dataclass(frozen=True)
class CampusSpec:
    """One campus as the demo describes it."""

    slug: str
    name: str
    short_name: str
    address_line: str
    city: str
    region: str
    postal_code: str
    country: str
    time_zone: str
    zone_label: str
    main_phone: str
    appointments_phone: str
    billing_phone: str
    international_phone: str
    campus_hours: list[Period]
    scheduling_hours: list[Period]


CAMPUSES = [
    CampusSpec(
        slug="rochester",
        name="Rochester, Minnesota",
        short_name="Rochester",
        address_line="1200 Second Street SW",
        city="Rochester",
        region="MN",
        postal_code="55902",
        country="US",
        time_zone="America/Chicago",
        zone_label="Central time",
        main_phone="507-555-0100",
        appointments_phone="507-555-0111",
        billing_phone="507-555-0122",
        international_phone="+1 507-555-0133",
        campus_hours=hours("07:00", "19:00") + hours("08:00", "12:00", (SATURDAY,)),
        scheduling_hours=hours("07:00", "18:00") + hours("08:00", "12:00", (SATURDAY,)),
    ),
    CampusSpec(
        slug="jacksonville",
        name="Jacksonville, Florida",
        short_name="Jacksonville",
        address_line="4800 Palm Harbor Parkway",
        city="Jacksonville",
        region="FL",
        postal_code="32224",
        country="US",
        time_zone="America/New_York",
        zone_label="Eastern time",
        main_phone="904-555-0100",
        appointments_phone="904-555-0111",
        billing_phone="904-555-0122",
        international_phone="+1 904-555-0133",
        campus_hours=hours("07:00", "18:00"),
        scheduling_hours=hours("07:30", "17:30") + hours("08:00", "12:00", (SATURDAY,)),
    ),
    CampusSpec(
        slug="phoenix",
        name="Phoenix/Scottsdale, Arizona",
        short_name="Phoenix/Scottsdale",
        address_line="13500 East Saguaro View Road",
        city="Scottsdale",
        region="AZ",
        postal_code="85259",
        country="US",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0111",
        billing_phone="480-555-0122",
        international_phone="+1 480-555-0133",
        # Early starts: summer afternoons in the desert are hard on patients.
        campus_hours=hours("06:30", "18:00") + hours("07:00", "11:00", (SATURDAY,)),
        scheduling_hours=hours("07:00", "17:00"),
    ),
    CampusSpec(
        slug="london",
        name="London, United Kingdom",
        short_name="London",
        address_line="21 Wimpole Mews",
        city="London",
        region="",
        postal_code="W1G 8PQ",
        country="GB",
        time_zone="Europe/London",
        zone_label="UK time",
        main_phone="+44 20 7946 0100",
        appointments_phone="+44 20 7946 0111",
        billing_phone="+44 20 7946 0122",
        international_phone="+44 20 7946 0133",
        campus_hours=hours("08:00", "18:00"),
        scheduling_hours=hours("08:30", "17:30"),
    ),
    CampusSpec(
        slug="childrens",
        name="Children's Center",
        short_name="Children's Center",
        address_line="1350 Second Street SW",
        city="Rochester",
        region="MN",
        postal_code="55902",
        country="US",
        time_zone="America/Chicago",
        zone_label="Central time",
        main_phone="507-555-0150",
        appointments_phone="507-555-0161",
        billing_phone="507-555-0172",
        international_phone="+1 507-555-0183",
        campus_hours=hours("07:30", "18:00") + hours("08:00", "12:00", (SATURDAY,)),
        scheduling_hours=hours("07:30", "17:00") + hours("08:00", "12:00", (SATURDAY,)),
    ),
]

US_ADULT = ("rochester", "jacksonville", "phoenix")
ALL_ADULT = (*US_ADULT, "london")
WITH_CHILDREN = (*ALL_ADULT, "childrens")

# Department slug -> (name, campuses that offer it).
DEPARTMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cardiology": ("Cardiology", ALL_ADULT),
    "dermatology": ("Dermatology", US_ADULT),
    "endocrinology": ("Endocrinology", ALL_ADULT),
    "family-medicine": ("Family Medicine", US_ADULT),
    "gastroenterology": ("Gastroenterology", ALL_ADULT),
    "internal-medicine": ("General Internal Medicine", ALL_ADULT),
    "laboratory-medicine": ("Laboratory Medicine", WITH_CHILDREN),
    "neurology": ("Neurology", ALL_ADULT),
    "obstetrics-gynecology": ("Obstetrics and Gynecology", US_ADULT),
    "oncology": ("Oncology", ALL_ADULT),
    "orthopedics": ("Orthopedics", US_ADULT),
    "pediatrics": ("Pediatrics", ("childrens",)),
    "radiology": ("Radiology", WITH_CHILDREN),
}

# Departments a patient is "under the care of"; the patient generator assigns people to
# these and never to the laboratory or radiology, which serve every team.
PRIMARY_CARE_DEPARTMENTS = ("family-medicine", "internal-medicine", "pediatrics")
SERVICE_DEPARTMENTS = ("laboratory-medicine", "radiology")

BILLING_OFFICE_SLUG = "billing-office"
INTERNATIONAL_OFFICE_SLUG = "international-office"

# 23 and 29 share no factor, so index i gives a distinct (given, family) pair for every
# i below 667: enough staff for the demo without a name generator that could change.
GIVEN_NAMES = (
    "Amara", "Benjamin", "Camila", "Daniel", "Elena", "Farid", "Grace", "Hiroshi",
    "Isabel", "Jonah", "Keira", "Liam", "Maya", "Nikhil", "Olivia", "Pedro", "Quinn",
    "Rosa", "Samuel", "Tara", "Umar", "Vera", "William",
)  # fmt: skip
FAMILY_NAMES = (
    "Abbott", "Bergstrom", "Castillo", "Dahl", "Eriksen", "Fairbanks", "Gallagher",
    "Haugen", "Iverson", "Jaramillo", "Kowalski", "Lindqvist", "Moreau", "Nakamura",
    "Okonkwo", "Pellegrino", "Quist", "Ramanathan", "Sorensen", "Thibodeaux", "Underhill",
    "Vasquez", "Whitaker", "Xu", "Yilmaz", "Zimmerman", "Ashworth", "Brennan", "Carrow",
)  # fmt: skip

US_CREDENTIALS: dict[str, str] = {
    Role.PHYSICIAN: "MD",
    Role.NURSE_PRACTITIONER: "APRN, CNP",
    Role.PHYSICIAN_ASSISTANT: "PA-C",
    Role.NURSE: "RN",
}
UK_CREDENTIALS: dict[str, str] = {
    Role.PHYSICIAN: "MBBS, MRCP",
    Role.NURSE_PRACTITIONER: "ANP",
    Role.PHYSICIAN_ASSISTANT: "PA-R",
    Role.NURSE: "RN",
}
SECOND_CLINICIANS = (Role.NURSE_PRACTITIONER, Role.NURSE, Role.PHYSICIAN_ASSISTANT)
# Past every name the teams and offices above use (about 110), below the 667 distinct pairs.
CLINIC_NURSE_NAMES_FROM = 400


def seed_organization() -> dict[str, Campus]:
    """Create or refresh the whole demo organisation; return its campuses by slug."""
    with transaction.atomic():
        campuses = {spec.slug: _upsert_campus(spec) for spec in CAMPUSES}
        departments = {
            slug: _upsert_department(slug, name, [campuses[c] for c in campus_slugs])
            for slug, (name, campus_slugs) in DEPARTMENTS.items()
        }
        names = _staff_names()
        _staff_clinical_teams(campuses, departments, names)
        _staff_offices(campuses, names)
        _staff_clinic_nurses(campuses)
    return campuses


def _upsert_campus(spec: CampusSpec) -> Campus:
    fields = {
        name: getattr(spec, name)
        for name in (
            "name", "short_name", "address_line", "city", "region", "postal_code", "country",
            "time_zone", "zone_label", "main_phone", "appointments_phone", "billing_phone",
            "international_phone",
        )
    }  # fmt: skip
    campus, _created = Campus.objects.update_or_create(slug=spec.slug, defaults=fields)
    _add_hours(campus, OpeningHours.Service.CAMPUS, spec.campus_hours)
    _add_hours(campus, OpeningHours.Service.SCHEDULING, spec.scheduling_hours)
    return campus


def _add_hours(campus: Campus, service: str, periods: list[Period]) -> None:
    # get_or_create per period rather than replace-all: an administrator's extra
    # holiday-season hours survive a re-run.
    for weekday, opens, closes in periods:
        OpeningHours.objects.get_or_create(
            campus=campus, service=service, weekday=weekday, opens=opens, closes=closes
        )


def _upsert_department(slug: str, name: str, campuses: list[Campus]) -> Department:
    department, _created = Department.objects.update_or_create(slug=slug, defaults={"name": name})
    department.campuses.add(*campuses)
    return department


def _staff_names() -> Iterator[tuple[str, str]]:
    index = 0
    while True:
        yield GIVEN_NAMES[index % len(GIVEN_NAMES)], FAMILY_NAMES[index % len(FAMILY_NAMES)]
        index += 1


def _upsert_practitioner(
    names: Iterator[tuple[str, str]],
    role: str,
    campus: Campus,
    department: Department | None = None,
) -> Practitioner:
    given, family = next(names)
    credentials = (UK_CREDENTIALS if campus.country == "GB" else US_CREDENTIALS).get(role, "")
    practitioner, _created = Practitioner.objects.update_or_create(
        given_name=given,
        family_name=family,
        defaults={"role": role, "credentials": credentials, "active": True},
    )
    practitioner.campuses.add(campus)
    if department is not None:
        practitioner.departments.add(department)
    return practitioner


def _upsert_team(
    slug: str,
    name: str,
    kind: str,
    campus: Campus | None,
    department: Department | None = None,
    phone: str = "",
) -> CareTeam:
    team, _created = CareTeam.objects.update_or_create(
        slug=slug,
        defaults={
            "name": name,
            "kind": kind,
            "campus": campus,
            "department": department,
            "phone": phone,
            "email": f"{slug}@example.org",
        },
    )
    return team


def _staff_clinical_teams(
    campuses: dict[str, Campus],
    departments: dict[str, Department],
    names: Iterator[tuple[str, str]],
) -> None:
    """One clinical team per department and campus: a physician and a second clinician.

    Rochester's physician also joins the same department's team in London and at the
    Children's Center, as visiting specialists do, so some staff work across campuses.
    """
    second_roles = cycle(SECOND_CLINICIANS)
    for slug, (name, campus_slugs) in DEPARTMENTS.items():
        department = departments[slug]
        rochester_physician: Practitioner | None = None
        for campus_slug in campus_slugs:
            campus = campuses[campus_slug]
            team = _upsert_team(
                f"{campus_slug}-{slug}",
                f"{name}, {campus.short_name}",
                Kind.CLINICAL,
                campus,
                department,
                campus.appointments_phone,
            )
            physician = _upsert_practitioner(names, Role.PHYSICIAN, campus, department)
            second = _upsert_practitioner(names, next(second_roles), campus, department)
            team.members.add(physician, second)
            if campus_slug == "rochester":
                rochester_physician = physician
            elif rochester_physician is not None and campus_slug in ("london", "childrens"):
                team.members.add(rochester_physician)
                rochester_physician.campuses.add(campus)


def _staff_clinic_nurses(campuses: dict[str, Campus]) -> None:
    """A clinic nurse at each campus, in every clinical team there that has no nurse of its own.

    Nurses answer most of a team's messages. One per campus rather than one per team keeps
    the clinic's schedules (and its slots) close to what they were. Their names come from
    further along the name list, so the staff named above keep their names.
    """
    names = islice(_staff_names(), CLINIC_NURSE_NAMES_FROM, None)
    for campus in campuses.values():
        nurse = _upsert_practitioner(names, Role.NURSE, campus)
        teams = CareTeam.objects.filter(kind=Kind.CLINICAL, campus=campus).order_by("slug")
        for team in teams:
            if not team.members.filter(role=Role.NURSE).exclude(pk=nurse.pk).exists():
                team.members.add(nurse)
                if team.department_id is not None:
                    nurse.departments.add(team.department_id)


def _staff_offices(campuses: dict[str, Campus], names: Iterator[tuple[str, str]]) -> None:
    """Each campus's own scheduling desk, and the organisation-wide offices."""
    for campus in campuses.values():
        desk = _upsert_team(
            f"{campus.slug}-scheduling",
            f"Scheduling desk, {campus.short_name}",
            Kind.SCHEDULING_DESK,
            campus,
            phone=campus.appointments_phone,
        )
        desk.members.add(*(_upsert_practitioner(names, Role.SCHEDULER, campus) for _ in range(2)))
    rochester = campuses["rochester"]
    billing = _upsert_team(
        BILLING_OFFICE_SLUG, "Billing office", Kind.BILLING_OFFICE, None, phone=rochester.billing_phone
    )
    billing.members.add(*(_upsert_practitioner(names, Role.BILLING, rochester) for _ in range(3)))
    international = _upsert_team(
        INTERNATIONAL_OFFICE_SLUG,
        "International office",
        Kind.INTERNATIONAL_OFFICE,
        None,
        phone=rochester.international_phone,
    )
    international.members.add(*(_upsert_practitioner(names, Role.INTERPRETER, rochester) for _ in range(2)))
    _upsert_practitioner(names, Role.ADMINISTRATOR, rochester)
