from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.utils import override_settings

from portal.accounts.models import User
from portal.audit.verify import verify_chain
from portal.lib.seeding.demo_users import SIGN_INS, DemoRefused, create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import seed_patients
from portal.notifications.models import Notification, Task
from portal.organization.models import Campus, CareTeam, OpeningHours, Practitioner
from portal.patients.access import Role, decide, portal_patients
from portal.patients.models import CareRelationship, Patient, ProxyGrant

ANCHOR = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def people() -> list[tuple[str, str, str, dt.date]]:
    return list(
        Patient.objects.order_by("id").values_list("clinic_number", "given_name", "family_name", "birth_date")
    )


def forget_generated_people() -> None:
    Patient.objects.all().delete()
    User.objects.filter(username__startswith="patient-").delete()


@pytest.mark.django_db
def test_the_same_seed_makes_the_same_people() -> None:
    seed_organization()
    seed_patients(25, seed=7, anchor=ANCHOR)
    first = people()
    forget_generated_people()
    seed_patients(25, seed=7, anchor=ANCHOR)
    assert people() == first


@pytest.mark.django_db
def test_another_seed_makes_other_people() -> None:
    seed_organization()
    seed_patients(10, seed=7, anchor=ANCHOR)
    first = people()
    forget_generated_people()
    seed_patients(10, seed=8, anchor=ANCHOR)
    assert {row[0] for row in people()}.isdisjoint({row[0] for row in first})


@pytest.mark.django_db
def test_it_gives_every_patient_an_eight_digit_clinic_number_and_care() -> None:
    seed_organization()
    report = seed_patients(40, seed=1, anchor=ANCHOR)
    numbers = [row[0] for row in people()]
    assert report.patients == 40
    assert len(set(numbers)) == 40
    assert all(len(number) == 8 and number.isdigit() for number in numbers)
    for patient in Patient.objects.all():
        teams = CareRelationship.objects.filter(patient=patient)
        assert 1 <= teams.count() <= 2
        assert all(team.care_team.kind == CareTeam.Kind.CLINICAL for team in teams)
        assert patient.birth_date < ANCHOR.date()


@pytest.mark.django_db
def test_it_dates_inboxes_before_the_anchor_and_only_for_account_holders() -> None:
    seed_organization()
    seed_patients(60, seed=3, anchor=ANCHOR)
    notifications = Notification.objects.select_related("patient")
    assert notifications.exists()
    assert all(note.created_at <= ANCHOR for note in notifications)
    assert all(
        note.patient is not None and note.recipient_id == note.patient.account_id for note in notifications
    )
    assert not Task.objects.filter(patient__account__isnull=True).exists()


@pytest.mark.django_db
def test_seeding_again_adds_new_people() -> None:
    seed_organization()
    seed_patients(10, seed=7, anchor=ANCHOR)
    first = people()
    seed_patients(10, seed=7, anchor=ANCHOR)
    second = people()[10:]
    assert Patient.objects.count() == 20
    assert {row[1:] for row in second}.isdisjoint({row[1:] for row in first})


@pytest.mark.django_db
def test_the_organisation_loads_idempotently() -> None:
    seed_organization()
    counts = (Campus.objects.count(), CareTeam.objects.count(), Practitioner.objects.count())
    hours = OpeningHours.objects.count()
    seed_organization()
    assert (Campus.objects.count(), CareTeam.objects.count(), Practitioner.objects.count()) == (counts)
    assert OpeningHours.objects.count() == hours
    assert Campus.objects.get(slug="phoenix").time_zone == "America/Phoenix"
    desks = CareTeam.objects.filter(kind=CareTeam.Kind.SCHEDULING_DESK)
    assert sorted(desks.values_list("campus__slug", flat=True)) == sorted(
        Campus.objects.values_list("slug", flat=True)
    )


@pytest.mark.django_db
def test_demo_sign_ins_have_the_demo_password_and_a_verified_email() -> None:
    seed_organization()
    create_demo_users()
    for sign_in in SIGN_INS:
        user = User.objects.get(username=sign_in.username)
        assert user.check_password(settings.DEMO_PASSWORD)
        assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
    assert User.objects.get(username="demo-admin").is_superuser


@pytest.mark.django_db
def test_demo_parent_acts_for_a_child_and_a_dependent_adult() -> None:
    seed_organization()
    create_demo_users()
    parent = User.objects.get(username="demo-parent")
    accesses = portal_patients(parent)
    assert [access.role for access in accesses] == [Role.SELF, Role.PROXY, Role.PROXY]
    relationships = set(ProxyGrant.objects.filter(grantee=parent).values_list("relationship", flat=True))
    assert relationships == {"parent", "caregiver"}
    assert all(
        set(scopes) == {"view", "message", "schedule", "billing"}
        for scopes in ProxyGrant.objects.values_list("scopes", flat=True)
    )


@pytest.mark.django_db
def test_demo_staff_reach_patients_through_their_teams() -> None:
    seed_organization()
    create_demo_users()
    clinician = User.objects.get(username="demo-clinician")
    for number in ("10000001", "10000003"):  # demo-patient and the child
        access = decide(clinician, Patient.objects.get(clinic_number=number))
        assert access is not None and access.role is Role.STAFF
    scheduler = Practitioner.objects.get(user__username="demo-scheduler")
    assert scheduler.care_teams.filter(slug="rochester-scheduling").exists()
    billing = Practitioner.objects.get(user__username="demo-billing")
    assert billing.care_teams.filter(kind=CareTeam.Kind.BILLING_OFFICE).exists()


@pytest.mark.django_db
def test_refreshing_demo_users_duplicates_nothing() -> None:
    seed_organization()
    create_demo_users()
    counts = (ProxyGrant.objects.count(), Notification.objects.count(), Task.objects.count())
    create_demo_users()
    assert (ProxyGrant.objects.count(), Notification.objects.count(), Task.objects.count()) == (counts)
    assert verify_chain()[1] == []


@pytest.mark.django_db
def test_demo_patient_sees_their_to_dos_on_the_dashboard(client: Client) -> None:
    seed_organization()
    create_demo_users()
    assert client.login(username="demo-patient", password=settings.DEMO_PASSWORD)
    page = client.get("/")
    assert page.status_code == 200
    assert "Confirm your contact details" in page.content.decode()


@pytest.mark.django_db
def test_demo_command_sets_up_without_serving(settings: Any, tmp_path: Path) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 14  # the slots are tested in scheduling; keep this quick
    settings.MEDIA_ROOT = tmp_path / "media"  # the demo's message attachment
    call_command("demo", "--no-serve", "--patients", "5", verbosity=0)
    assert Patient.objects.filter(clinic_number__startswith="1000000").count() == 4
    assert Patient.objects.count() == 5 + 4
    call_command("demo", "--no-serve", "--patients", "5", verbosity=0)
    assert Patient.objects.count() == 5 + 4


@pytest.mark.django_db
@override_settings(PRODUCTION=True)
def test_demo_refuses_to_run_in_production() -> None:
    with pytest.raises(CommandError):
        call_command("demo", "--no-serve", verbosity=0)
    with pytest.raises(DemoRefused):
        create_demo_users()
    assert not User.objects.filter(username__startswith="demo-").exists()
