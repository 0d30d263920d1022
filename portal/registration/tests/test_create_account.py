from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.patients.models import Patient
from portal.registration.actions import do_revoke_activation_code
from portal.registration.forms import MISMATCH_MESSAGE
from portal.registration.models import ActivationCode
from portal.registration.tests.personas import identity, issue, make_newcomer, masked
from portal.test import World

pytestmark = pytest.mark.django_db
CREATE = reverse("registration:create_account")
STEP_TWO = reverse("registration:choose_sign_in")
GOOD_PASSWORD = "lantern orchard velvet 42"
PENDING = "registration_pending"


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


@pytest.fixture
def newcomer(world: World) -> Patient:
    return make_newcomer(world)


def _step_two(client: Client, username: str = "nina", password: str = GOOD_PASSWORD) -> Any:
    return client.post(STEP_TWO, {"username": username, "password1": password, "password2": password})


def _mismatch_text() -> str:
    return str(MISMATCH_MESSAGE)


def test_a_patient_creates_an_account_that_waits_for_email_verification(
    client: Client, world: World, newcomer: Patient
) -> None:
    code = issue(world, newcomer)
    response = client.post(CREATE, identity(newcomer, code.display.lower().replace("-", " ")))
    assert response.status_code == 302 and response["Location"] == STEP_TWO
    assert "Thank you, Nina" in client.get(STEP_TWO).content.decode()

    response = _step_two(client)
    assert response.status_code == 302 and response["Location"] == reverse("registration:check_email")
    newcomer.refresh_from_db()
    user = User.objects.get(username="nina")
    assert newcomer.account == user
    assert (user.email, user.first_name, user.last_name) == ("nina@example.net", "Nina", "Newman")
    assert user.check_password(GOOD_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == ("nina@example.net", False, True)
    code.code.refresh_from_db()
    assert code.code.used_at is not None
    assert "nina@example.net" in client.get(reverse("registration:check_email")).content.decode()

    # Mandatory verification: no sign-in until the link in the email is followed.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nina@example.net"]
    signed_in = Client()
    response = signed_in.post(reverse("account_login"), {"login": "nina", "password": GOOD_PASSWORD})
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    assert signed_in.get("/").status_code == 302
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(mail.outbox[0].body))
    assert link is not None
    path = link.group(0).split("testserver", 1)[1]
    assert client.post(path).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    response = signed_in.post(reverse("account_login"), {"login": "nina", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert signed_in.get("/").status_code == 200


def test_registration_is_audited_without_secrets(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    client.post(CREATE, identity(newcomer, code.text))
    _step_two(client)
    attempt = AuditEvent.objects.get(action="registration.attempt")
    assert (attempt.kind, attempt.outcome, attempt.patient_id) == ("auth", "success", newcomer.pk)
    complete = AuditEvent.objects.get(action="registration.complete")
    user = User.objects.get(username="nina")
    assert (complete.kind, complete.actor_id, complete.patient_id) == ("auth", user.pk, newcomer.pk)
    trail = str([event.detail for event in AuditEvent.objects.all()])
    for secret in (code.text, code.display, GOOD_PASSWORD, "1990-03-04"):
        assert secret not in trail


def test_a_code_works_once(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    client.post(CREATE, identity(newcomer, code.text))
    _step_two(client)
    other = Client()
    response = other.post(CREATE, identity(newcomer, code.text, email="someone@example.net"))
    assert response.status_code == 200
    assert _mismatch_text() in response.content.decode()
    assert User.objects.filter(email="someone@example.net").count() == 0


def _variants(world: World, newcomer: Patient) -> dict[str, Callable[[], None]]:
    """Ways the same typed details can fail, each set up on its own database state."""

    def unknown_clinic_number() -> None:
        Patient.objects.filter(pk=newcomer.pk).update(clinic_number="10000043")

    def wrong_birth_date() -> None:
        Patient.objects.filter(pk=newcomer.pk).update(birth_date=dt.date(1990, 3, 5))

    def wrong_name() -> None:
        Patient.objects.filter(pk=newcomer.pk).update(family_name="Newmann")

    def wrong_code() -> None:
        ActivationCode.objects.update(code_hash="0" * 64)

    def used_code() -> None:
        ActivationCode.objects.update(used_at=timezone.now())

    def expired_code() -> None:
        ActivationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    def revoked_code() -> None:
        ActivationCode.objects.update(revoked_at=timezone.now())

    def another_patients_code() -> None:
        ActivationCode.objects.update(patient=world.bob)

    def already_registered() -> None:
        Patient.objects.filter(pk=newcomer.pk).update(account=User.objects.create_user("someone-else"))

    return {
        "unknown clinic number": unknown_clinic_number,
        "wrong date of birth": wrong_birth_date,
        "wrong name": wrong_name,
        "wrong code": wrong_code,
        "used code": used_code,
        "expired code": expired_code,
        "revoked code": revoked_code,
        "another patient's code": another_patients_code,
        "already registered": already_registered,
    }


VARIANTS = [
    "unknown clinic number",
    "wrong date of birth",
    "wrong name",
    "wrong code",
    "used code",
    "expired code",
    "revoked code",
    "another patient's code",
    "already registered",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_mismatch_gets_the_same_response(
    client: Client, world: World, newcomer: Patient, variant: str
) -> None:
    code = issue(world, newcomer)
    typed = identity(newcomer, code.text)
    # The reference: a code that does not exist at all.
    reference = client.post(CREATE, {**typed, **identity(newcomer, "ZZZZ-ZZZZ-ZZZZ")})
    assert reference.status_code == 200
    assert _mismatch_text() in reference.content.decode()

    _variants(world, newcomer)[variant]()
    response = client.post(CREATE, identity(newcomer, code.text))
    assert response.status_code == reference.status_code
    assert masked(response.content) == masked(reference.content)
    assert code.text not in response.content.decode()
    assert PENDING not in client.session
    assert not User.objects.filter(email="nina@example.net").exists()
    event = AuditEvent.objects.filter(action="registration.attempt").last()
    assert event is not None and event.outcome == "failure" and event.detail["reason"]


def test_bad_input_is_explained_and_changes_nothing(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    for changes in (
        {"birth_date": "31/02/1990"},
        {"birth_date": "1850-01-01"},
        {"email": "not-an-email"},
        {"activation_code": "short"},
        {"clinic_number": "x" * 500},
        {"given_name": ""},
    ):
        response = client.post(CREATE, identity(newcomer, code.text, **changes))
        assert response.status_code == 200
        assert "There is a problem" in response.content.decode()
    assert not AuditEvent.objects.filter(action="registration.attempt").exists()
    assert ActivationCode.objects.usable().count() == 1


@override_settings(PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS=3, PORTAL_REGISTRATION_ATTEMPTS_PER_PATIENT=100)
def test_attempts_are_limited_per_address(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    for _attempt in range(3):
        assert client.post(CREATE, identity(newcomer, "ZZZZ-ZZZZ-ZZZZ")).status_code == 200
    # Even the right details are refused once the address has used its allowance.
    response = client.post(CREATE, identity(newcomer, code.text))
    assert response.status_code == 429
    assert "too many attempts" in response.content.decode()
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(CREATE, identity(newcomer, code.text)).status_code == 302
    reasons = list(
        AuditEvent.objects.filter(action="registration.attempt").values_list("detail__reason", flat=True)
    )
    assert reasons.count("rate_limited") == 1


@override_settings(PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS=100, PORTAL_REGISTRATION_ATTEMPTS_PER_PATIENT=2)
def test_attempts_are_limited_per_clinic_number_from_any_address(world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    for number in range(2):
        Client(REMOTE_ADDR=f"10.0.0.{number}").post(CREATE, identity(newcomer, "ZZZZ-ZZZZ-ZZZZ"))
    response = Client(REMOTE_ADDR="10.0.0.99").post(CREATE, identity(newcomer, code.text))
    assert response.status_code == 429
    # An unknown clinic number runs into the same limit in the same way.
    for number in range(3):
        response = Client(REMOTE_ADDR=f"10.0.1.{number}").post(
            CREATE, identity(newcomer, code.text, clinic_number="99999999")
        )
    assert response.status_code == 429


def test_a_patient_under_the_minimum_age_is_sent_to_a_parent(client: Client, world: World) -> None:
    today = timezone.now().date()
    child = make_newcomer(world, birth_date=dt.date(today.year - 11, 1, 1))
    # A code issued before (say, by mistake at the desk) still does not open an account.
    child.birth_date = dt.date(today.year - 20, 1, 1)
    child.save(update_fields=["birth_date"])
    code = issue(world, child)
    child.birth_date = dt.date(today.year - 11, 1, 1)
    child.save(update_fields=["birth_date"])

    response = client.post(CREATE, identity(child, code.text))
    assert response.status_code == 200
    assert "Ask a parent or guardian" in response.content.decode()
    assert PENDING not in client.session
    event = AuditEvent.objects.get(action="registration.attempt")
    assert (event.outcome, event.detail["reason"]) == ("failure", "under_age")


@override_settings(PORTAL_MIN_REGISTRATION_AGE=18)
def test_the_minimum_age_counts_birthdays_at_the_campus(client: Client, world: World) -> None:
    # 18 on 2026-03-10 in Rochester (Central time); at 03:00 UTC it is still the 9th there.
    patient = make_newcomer(world, birth_date=dt.date(2008, 3, 10))
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)):
        code = issue(world, patient)
    with time_machine.travel(dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)):
        response = client.post(CREATE, identity(patient, code.text))
        assert "Ask a parent or guardian" in response.content.decode()
    with time_machine.travel(dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)):
        cache.clear()
        response = client.post(CREATE, identity(patient, code.text))
        assert response.status_code == 302


def test_the_honeypot_fails_like_a_mismatch(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    reference = client.post(CREATE, identity(newcomer, "ZZZZ-ZZZZ-ZZZZ"))
    response = client.post(CREATE, identity(newcomer, code.text, website="http://spam.example"))
    assert masked(response.content) == masked(reference.content)
    assert PENDING not in client.session
    event = AuditEvent.objects.filter(action="registration.attempt").last()
    assert event is not None and event.detail == {"reason": "honeypot"}


def test_the_security_check_is_required(client: Client, world: World, newcomer: Patient) -> None:
    code = issue(world, newcomer)
    response = client.post(CREATE, identity(newcomer, code.text, challenge_proof="", challenge_answer="nope"))
    assert response.status_code == 200
    assert "Answer the security question" in response.content.decode()
    assert PENDING not in client.session


def test_step_two_needs_step_one(client: Client, world: World) -> None:
    response = client.get(STEP_TWO)
    assert response.status_code == 302 and response["Location"] == CREATE
    response = _step_two(client)
    assert response.status_code == 302 and response["Location"] == CREATE
    assert not User.objects.filter(username="nina").exists()


def test_a_code_revoked_between_the_steps_stops_the_registration(
    client: Client, world: World, newcomer: Patient
) -> None:
    code = issue(world, newcomer)
    client.post(CREATE, identity(newcomer, code.text))
    do_revoke_activation_code(Actor(user=world.clinician), code.code)
    response = _step_two(client)
    assert response.status_code == 302 and response["Location"] == CREATE
    assert not User.objects.filter(username="nina").exists()


def test_step_two_applies_the_username_and_password_rules(
    client: Client, world: World, newcomer: Patient
) -> None:
    code = issue(world, newcomer)
    client.post(CREATE, identity(newcomer, code.text))
    for username, password, message in (
        ("alice", GOOD_PASSWORD, "A user with that username already exists"),
        ("nina", "short", "at least 12 characters"),
        ("nina", "password1234", "too common"),
        ("nina", "nina@example.net!", "too similar"),
        ("no spaces allowed", GOOD_PASSWORD, "Enter a valid username"),
    ):
        response = _step_two(client, username, password)
        assert response.status_code == 200
        assert message in response.content.decode(), message
    mismatched = client.post(STEP_TWO, {"username": "nina", "password1": GOOD_PASSWORD, "password2": "other"})
    assert "not the same" in mismatched.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.account is None
    assert ActivationCode.objects.usable().count() == 1


def test_an_email_already_verified_elsewhere_is_refused_after_a_match(
    client: Client, world: World, newcomer: Patient
) -> None:
    EmailAddress.objects.create(user=world.bob_user, email="bob@example.org", verified=True, primary=True)
    code = issue(world, newcomer)
    response = client.post(CREATE, identity(newcomer, code.text, email="BOB@example.org"))
    assert response.status_code == 200
    assert "Another account uses this email address" in response.content.decode()


def test_signed_in_users_are_sent_home(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    for name in ("create_account", "choose_sign_in", "request_access", "international"):
        response = client.get(reverse(f"registration:{name}"))
        assert response.status_code == 302 and response["Location"] == reverse("home")
