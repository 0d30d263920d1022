"""The demo sign-ins, one per kind of person who uses the portal.

Created or refreshed by `portal demo` only, never in production. Refreshing resets each
user's password, names and roles and adds anything missing (patients, care, proxy
grants, notifications, tasks); it leaves alone what the demo user has since done, such
as reading a notification or completing a task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.lib.seeding.demo_records import seed_demo_records
from portal.lib.seeding.organization import BILLING_OFFICE_SLUG
from portal.lib.seeding.proxies import seed_proxy_examples
from portal.notifications.models import Notification, Task
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.actions import do_grant_proxy
from portal.patients.models import CareRelationship, Patient, ProxyGrant, Scope

Role = Practitioner.Role
PROXY_SCOPES = [Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE, Scope.BILLING]
EMAIL_DOMAIN = "example.org"

# Hand-made records take clinic numbers from the reserved block (see seeding/__init__).
DEMO_PATIENT_NUMBER = "10000001"
DEMO_PARENT_NUMBER = "10000002"
DEMO_CHILD_NUMBER = "10000003"
DEMO_DEPENDENT_NUMBER = "10000004"

FAMILY_TEAM = "rochester-family-medicine"
INTERNAL_MEDICINE_TEAM = "rochester-internal-medicine"
CARDIOLOGY_TEAM = "rochester-cardiology"
PEDIATRICS_TEAM = "childrens-pediatrics"
ROCHESTER_DESK = "rochester-scheduling"


class DemoRefused(RuntimeError):
    """Demo sign-ins were asked for where they must never exist."""


@dataclass(frozen=True)
class DemoSignIn:
    """One row of the table `portal demo` prints."""

    username: str
    who: str


SIGN_INS = [
    DemoSignIn("demo-patient", "a patient with notifications and to-dos"),
    DemoSignIn("demo-parent", "a patient, and proxy for a child and an adult dependent"),
    DemoSignIn("demo-clinician", "a physician caring for demo-patient and the child"),
    DemoSignIn("demo-scheduler", "Rochester scheduling desk"),
    DemoSignIn("demo-billing", "billing office"),
    DemoSignIn("demo-admin", "administrator (Django admin at /admin/)"),
]


@transaction.atomic
def create_demo_users(today: dt.date | None = None) -> list[DemoSignIn]:
    """Create or refresh every demo sign-in; the organisation must already be seeded."""
    if settings.PRODUCTION:
        raise DemoRefused("Demo sign-ins are never created in production.")
    today = today or timezone.now().date()
    teams = {team.slug: team for team in CareTeam.objects.all()}
    clinician = _staff_user("demo-clinician", "Priya", "Raman", Role.PHYSICIAN, "MD")
    family_medicine = teams[FAMILY_TEAM]
    family_medicine.members.add(clinician)
    if family_medicine.department_id is not None:
        clinician.departments.add(family_medicine.department_id)
    _demo_patient(teams, clinician, today)
    _demo_parent(teams, clinician, today)
    scheduler = _staff_user("demo-scheduler", "Luis", "Ortega", Role.SCHEDULER)
    teams[ROCHESTER_DESK].members.add(scheduler)
    billing = _staff_user("demo-billing", "Dana", "Whitfield", Role.BILLING)
    teams[BILLING_OFFICE_SLUG].members.add(billing)
    _staff_user("demo-admin", "Robin", "Castellano", Role.ADMINISTRATOR, superuser=True)
    seed_proxy_examples()
    seed_demo_records(today)
    return SIGN_INS


def _user(username: str, given: str, family: str, *, superuser: bool = False) -> User:
    user, _created = User.objects.get_or_create(username=username)
    user.first_name, user.last_name = given, family
    user.email = f"{username}@{EMAIL_DOMAIN}"
    user.is_active = True
    user.is_staff = user.is_superuser = superuser
    user.set_password(settings.DEMO_PASSWORD)
    user.save()
    _verified_email(user)
    return user


def _verified_email(user: User) -> None:
    # Email verification is mandatory, so allauth refuses a sign-in without this row.
    EmailAddress.objects.filter(user=user).exclude(email=user.email).update(primary=False)
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def _staff_user(
    username: str,
    given: str,
    family: str,
    role: str,
    credentials: str = "",
    *,
    superuser: bool = False,
) -> Practitioner:
    user = _user(username, given, family, superuser=superuser)
    practitioner, _created = Practitioner.objects.update_or_create(
        user=user,
        defaults={
            "given_name": given,
            "family_name": family,
            "role": role,
            "credentials": credentials,
            "active": True,
        },
    )
    practitioner.campuses.add(Campus.objects.get(slug="rochester"))
    return practitioner


def _patient(
    clinic_number: str,
    given: str,
    family: str,
    birth_date: dt.date,
    sex: str,
    campus_slug: str,
    account: User | None = None,
) -> Patient:
    local = "".join(part for part in f"{given}.{family}".lower() if part.isalpha() or part == ".")
    patient, _created = Patient.objects.update_or_create(
        clinic_number=clinic_number,
        defaults={
            "account": account,
            "given_name": given,
            "family_name": family,
            "birth_date": birth_date,
            "sex_at_birth": sex,
            "email": f"{local}@{EMAIL_DOMAIN}",
            "mobile_phone": "507-555-0142",
            "address_line": "418 Willow Bend Lane SW",
            "city": "Rochester",
            "region": "MN",
            "postal_code": "55902",
            "preferred_language": "en",
            "primary_campus": Campus.objects.get(slug=campus_slug),
        },
    )
    return patient


def _years_ago(today: dt.date, years: int, month: int, day: int) -> dt.date:
    return dt.date(today.year - years, month, day)


def _cared_for(patient: Patient, team: CareTeam, practitioner: Practitioner | None, today: dt.date) -> None:
    CareRelationship.objects.get_or_create(
        patient=patient,
        care_team=team,
        defaults={"practitioner": practitioner, "starts_on": today - dt.timedelta(days=400)},
    )


def _first_clinician(team: CareTeam, *, besides: Practitioner) -> Practitioner | None:
    members = team.members.filter(role=Role.PHYSICIAN).exclude(pk=besides.pk)
    return members.order_by("family_name", "given_name").first()


def _demo_patient(teams: dict[str, CareTeam], clinician: Practitioner, today: dt.date) -> None:
    user = _user("demo-patient", "Jamie", "Lindgren")
    patient = _patient(
        DEMO_PATIENT_NUMBER, "Jamie", "Lindgren", _years_ago(today, 42, 5, 17),
        Patient.Sex.FEMALE, "rochester", account=user,
    )  # fmt: skip
    _cared_for(patient, teams[FAMILY_TEAM], clinician, today)
    cardiology = teams[CARDIOLOGY_TEAM]
    _cared_for(patient, cardiology, _first_clinician(cardiology, besides=clinician), today)
    _inbox(user, patient, [
        ("Welcome to Patient Online Services", "Your account is ready to use.", "/"),
        ("See who has viewed your record", "Every look at your record is logged.",
         "/record-access/"),
        ("Flu shots are available at every campus", "No appointment needed.", ""),
    ])  # fmt: skip
    _to_do(patient, today, [
        ("Confirm your contact details", "Check your address and phone numbers are right.",
         "/", 7),
        ("Bring your insurance card and photo ID to your next visit", "", "", 14),
    ])  # fmt: skip


def _demo_parent(teams: dict[str, CareTeam], clinician: Practitioner, today: dt.date) -> None:
    """A parent who also cares for their own father: two people to switch between."""
    user = _user("demo-parent", "Taylor", "Brooks")
    internal = teams[INTERNAL_MEDICINE_TEAM]
    internist = _first_clinician(internal, besides=clinician)
    own = _patient(
        DEMO_PARENT_NUMBER, "Taylor", "Brooks", _years_ago(today, 38, 9, 2),
        Patient.Sex.MALE, "rochester", account=user,
    )  # fmt: skip
    _cared_for(own, internal, internist, today)
    child = _patient(
        DEMO_CHILD_NUMBER, "Mia", "Brooks", _years_ago(today, 8, 3, 14),
        Patient.Sex.FEMALE, "childrens",
    )  # fmt: skip
    pediatrics = teams[PEDIATRICS_TEAM]
    _cared_for(child, pediatrics, _first_clinician(pediatrics, besides=clinician), today)
    _cared_for(child, teams[FAMILY_TEAM], clinician, today)
    dependent = _patient(
        DEMO_DEPENDENT_NUMBER, "Walter", "Brooks", _years_ago(today, 84, 11, 30),
        Patient.Sex.MALE, "rochester",
    )  # fmt: skip
    _cared_for(dependent, internal, internist, today)
    _cared_for(dependent, teams[CARDIOLOGY_TEAM], None, today)
    _proxy(user, child, ProxyGrant.Relationship.PARENT)
    _proxy(user, dependent, ProxyGrant.Relationship.CAREGIVER)
    _inbox(user, own, [("Welcome to Patient Online Services", "Your account is ready.", "/")])
    _inbox(user, child, [("Mia's vaccination record was updated", "", "/")])
    _inbox(user, dependent, [("Someone viewed Walter's record", "", "/record-access/")])
    _to_do(child, today, [("Complete Mia's school sports form", "", "", 10)])
    _to_do(dependent, today, [("Confirm Walter's emergency contact", "", "/", 5)])


def _proxy(grantee: User, patient: Patient, relationship: str) -> None:
    if ProxyGrant.objects.active().filter(grantee=grantee, patient=patient).exists():
        return
    # Through the real action, so the grant is audited like any other.
    do_grant_proxy(Actor.system(), patient, grantee, relationship, PROXY_SCOPES)


def _inbox(user: User, patient: Patient, notes: list[tuple[str, str, str]]) -> None:
    for title, body, link in notes:
        Notification.objects.get_or_create(
            recipient=user, patient=patient, title=title, defaults={"body": body, "link": link}
        )


def _to_do(patient: Patient, today: dt.date, tasks: list[tuple[str, str, str, int]]) -> None:
    for title, detail, link, due_in_days in tasks:
        Task.objects.get_or_create(
            patient=patient,
            title=title,
            defaults={
                "detail": detail,
                "link": link,
                "due_on": today + dt.timedelta(days=due_in_days),
            },
        )
