from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.patients.models import BreakGlassAccess, Patient
from portal.registration import codes
from portal.registration.actions import (
    RegistrationRefused,
    do_issue_activation_code,
    do_revoke_activation_code,
)
from portal.registration.matching import Claim, Mismatch, check_claim
from portal.registration.models import ActivationCode
from portal.registration.tests.personas import issue, make_newcomer
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(world: World) -> Patient:
    return make_newcomer(world)


def _claim(patient: Patient, code: str) -> Claim:
    return Claim(patient.clinic_number, patient.given_name, patient.family_name, patient.birth_date, code)


def test_only_a_keyed_hash_of_the_code_is_stored(world: World, newcomer: Patient) -> None:
    issued = issue(world, newcomer)
    stored = ActivationCode.objects.get()
    assert stored.code_hash == codes.code_hash(issued.text) != issued.text
    assert issued.text not in str(ActivationCode.objects.values().get())
    assert len(issued.display) == 14 and issued.display.count("-") == 2


def test_codes_forgive_case_spaces_and_look_alike_letters() -> None:
    assert codes.code_hash("ab0c-1d1e-FGHJ") == codes.code_hash(" ABOC 1DIE fghj ")
    assert codes.code_hash("AB0C1D1EFGHJ") == codes.code_hash("ab0c-1dle-fghj")


def test_a_code_expires_after_thirty_days(world: World, newcomer: Patient) -> None:
    issued = issue(world, newcomer)
    assert issued.code.expires_at == issued.code.created_at + dt.timedelta(days=30)
    with time_machine.travel(issued.code.expires_at - dt.timedelta(minutes=1)):
        assert check_claim(_claim(newcomer, issued.text)).matched
    with time_machine.travel(issued.code.expires_at + dt.timedelta(minutes=1)):
        assert check_claim(_claim(newcomer, issued.text)).mismatch is Mismatch.CODE_EXPIRED


def test_a_code_can_be_revoked_once_and_is_audited(world: World, newcomer: Patient) -> None:
    issued = issue(world, newcomer)
    actor = Actor(user=world.clinician)
    do_revoke_activation_code(actor, issued.code)
    do_revoke_activation_code(actor, issued.code)
    assert check_claim(_claim(newcomer, issued.text)).mismatch is Mismatch.CODE_REVOKED
    assert AuditEvent.objects.filter(action="activation_code.revoke", patient_id=newcomer.pk).count() == 1


def test_a_new_code_replaces_the_old_one(world: World, newcomer: Patient) -> None:
    first = issue(world, newcomer)
    second = issue(world, newcomer)
    assert check_claim(_claim(newcomer, first.text)).mismatch is Mismatch.CODE_REVOKED
    assert check_claim(_claim(newcomer, second.text)).matched
    event = AuditEvent.objects.filter(action="activation_code.issue").last()
    assert event is not None and event.detail["replaced"] == 1 and event.actor_id == world.clinician.pk


def test_a_code_binds_to_its_patient(world: World, newcomer: Patient) -> None:
    issued = issue(world, newcomer)
    someone_else = Patient.objects.get(pk=world.bob.pk)
    assert check_claim(_claim(someone_else, issued.text)).mismatch is Mismatch.OTHER_PATIENTS_CODE


def test_codes_are_refused_for_patients_with_accounts_or_too_young(world: World) -> None:
    with pytest.raises(RegistrationRefused, match="already has a portal account"):
        issue(world, world.alice)
    child = make_newcomer(world, birth_date=dt.date(timezone.now().year - 5, 1, 1))
    with pytest.raises(RegistrationRefused, match="under 13"):
        issue(world, child)
    assert not ActivationCode.objects.exists()


def test_only_staff_issue_or_revoke_codes(world: World, newcomer: Patient) -> None:
    with pytest.raises(RegistrationRefused):
        do_issue_activation_code(Actor(user=world.alice_user), newcomer)
    with pytest.raises(RegistrationRefused):
        do_issue_activation_code(Actor(user=None, client_ip="10.0.0.1"), newcomer)
    issued = issue(world, newcomer)
    with pytest.raises(RegistrationRefused):
        do_revoke_activation_code(Actor(user=world.alice_user), issued.code)


# The staff screens -------------------------------------------------------------


def test_a_clinician_issues_a_code_shown_once_as_a_letter(
    client: Client, world: World, newcomer: Patient
) -> None:
    client.force_login(world.clinician)
    page = client.get(reverse("registration_staff:find_patient"), {"q": "Newman"})
    assert reverse("registration_staff:patient", args=[newcomer.pk]) in page.content.decode()
    page = client.get(reverse("registration_staff:patient", args=[newcomer.pk]))
    assert page.status_code == 200 and "No codes have been issued" in page.content.decode()
    assert AuditEvent.objects.filter(action="activation_code.view", patient_id=newcomer.pk).exists()

    letter = client.post(reverse("registration_staff:issue", args=[newcomer.pk]))
    assert letter.status_code == 200
    html = letter.content.decode()
    code = ActivationCode.objects.get()
    shown = html.split("data-activation-code>")[1].split("<")[0]
    assert codes.code_hash(shown) == code.code_hash
    assert "10000042" in html and "http://testserver/register/" in html

    listing = client.get(reverse("registration_staff:patient", args=[newcomer.pk])).content.decode()
    assert shown not in listing and "Active" in listing

    response = client.post(reverse("registration_staff:revoke", args=[code.pk]))
    assert response.status_code == 302
    code.refresh_from_db()
    assert code.revoked_at is not None and code.revoked_by == world.clinician


def test_the_scheduling_desk_may_issue_codes_for_any_patient(
    client: Client, world: World, newcomer: Patient
) -> None:
    client.force_login(world.scheduler)
    assert client.post(reverse("registration_staff:issue", args=[newcomer.pk])).status_code == 200


def test_issuing_for_a_patient_with_an_account_explains_itself(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    response = client.post(reverse("registration_staff:issue", args=[world.alice.pk]), follow=True)
    assert "already has a portal account" in response.content.decode()
    assert not ActivationCode.objects.exists()


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient", "unassigned_staff", "admin"])
def test_others_cannot_reach_a_patients_codes(
    client: Client, world: World, newcomer: Patient, persona: str
) -> None:
    issued = issue(world, newcomer)
    client.force_login(world.persona(persona))
    for name, args in (("patient", [newcomer.pk]), ("issue", [newcomer.pk]), ("revoke", [issued.code.pk])):
        url = reverse(f"registration_staff:{name}", args=args)
        missing = reverse(f"registration_staff:{name}", args=[987654])
        call = client.get if name == "patient" else client.post
        assert_same_as_missing(call(url), call(missing))
    assert ActivationCode.objects.get().is_usable()
    assert ActivationCode.objects.count() == 1


def test_break_glass_is_not_enough_to_issue_codes(client: Client, world: World, newcomer: Patient) -> None:
    BreakGlassAccess.objects.create(
        user=world.unassigned_staff,
        patient=newcomer,
        reason="Unconscious in the emergency department",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    client.force_login(world.unassigned_staff)
    assert client.post(reverse("registration_staff:issue", args=[newcomer.pk])).status_code == 404
    assert not ActivationCode.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World, newcomer: Patient) -> None:
    issued = issue(world, newcomer)
    for url in (
        reverse("registration_staff:patient", args=[newcomer.pk]),
        reverse("registration_staff:issue", args=[newcomer.pk]),
        reverse("registration_staff:revoke", args=[issued.code.pk]),
    ):
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert ActivationCode.objects.get().is_usable()
