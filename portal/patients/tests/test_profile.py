"""My details: contact details, email (re-verified), language, contact preferences, closing the account."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.patients.models import CommunicationPreference, Patient, ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.test import PASSWORD, World, make_patient, query_count

pytestmark = pytest.mark.django_db

CONTACT = {
    "mobile_phone": "507-555-0199",
    "home_phone": "",
    "address_line": "1 Main Street",
    "city": "Rochester",
    "region": "MN",
    "postal_code": "55901",
    "country": "us",
}


def _alice(world: World) -> Patient:
    return Patient.objects.get(pk=world.alice.pk)


def test_the_patient_sees_their_details_and_the_read_is_audited(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    page = client.get(reverse("profile:details")).content.decode()
    assert "alice@example.org" in page
    assert reverse("profile:contact") in page
    assert AuditEvent.objects.filter(action="profile.view", patient=world.alice.pk).exists()


def test_a_contact_change_is_applied_and_audited_with_before_and_after(client: Client, world: World) -> None:
    sign_in_recently(client, world.alice_user)
    response = client.post(reverse("profile:contact"), CONTACT)
    assert response.status_code == 302
    alice = _alice(world)
    assert (alice.mobile_phone, alice.address_line, alice.country) == ("507-555-0199", "1 Main Street", "US")
    event = AuditEvent.objects.get(action="profile.update")
    assert event.actor_id == world.alice_user.pk and event.patient_id == alice.pk
    assert event.detail["changes"]["mobile_phone"] == {"before": "", "after": "507-555-0199"}
    assert event.detail["changes"]["address_line"] == {"before": "", "after": "1 Main Street"}
    assert "city" in event.detail["changes"]
    assert "home_phone" not in event.detail["changes"]


def test_staff_see_what_changed(client: Client, world: World) -> None:
    sign_in_recently(client, world.alice_user)
    client.post(reverse("profile:contact"), CONTACT)
    client.force_login(world.clinician)
    page = client.get(reverse("staff:patient", args=[world.alice.pk])).content.decode()
    assert "Recent changes" in page
    assert "changed your phone numbers or address" in page
    assert "Mobile phone: (empty) → 507-555-0199" in page


def test_saving_without_changes_writes_nothing(client: Client, world: World) -> None:
    sign_in_recently(client, world.alice_user)
    client.post(reverse("profile:contact"), CONTACT)
    client.post(reverse("profile:contact"), CONTACT)
    assert AuditEvent.objects.filter(action="profile.update").count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"mobile_phone": "call me maybe"},
        {"mobile_phone": "12"},
        {"home_phone": "+1 (507) 555-0100 ext. 4"},
        {"country": "USA"},
        {"postal_code": "9" * 50},
        {"city": "x" * 500},
    ],
)
def test_bad_input_changes_nothing(client: Client, world: World, bad: dict[str, str]) -> None:
    sign_in_recently(client, world.alice_user)
    response = client.post(reverse("profile:contact"), {**CONTACT, **bad})
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    alice = _alice(world)
    assert alice.mobile_phone == "" and alice.address_line == ""
    assert not AuditEvent.objects.filter(action="profile.update").exists()


def test_changing_contact_details_needs_a_recent_sign_in(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("profile:contact"), CONTACT)
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert _alice(world).mobile_phone == ""


def test_a_proxy_of_an_adult_may_look_but_not_change(client: Client, world: World) -> None:
    sign_in_recently(client, world.proxy_user)
    page = client.get(reverse("profile:details")).content.decode()
    assert "only Alice Able (or the clinic) can change them" in page
    assert reverse("profile:contact") not in page
    for name in ["contact", "email", "language", "communication"]:
        assert client.get(reverse(f"profile:{name}")).status_code == 403
    assert client.post(reverse("profile:contact"), CONTACT).status_code == 403
    assert _alice(world).mobile_phone == ""


def test_a_proxy_without_the_view_scope_does_not_see_the_details(client: Client, world: World) -> None:
    ProxyGrant.objects.filter(pk=world.proxy_grant.pk).update(scopes=[Scope.MESSAGE])
    client.force_login(world.proxy_user)
    assert client.get(reverse("profile:details")).status_code == 403


def _child_of_alice(world: World, age: int) -> Patient:
    child = make_patient(f"2000{age:04d}", "Charlie", "Able", world.campus)
    today = timezone.localdate()
    child.birth_date = (
        dt.date(today.year - age - 1, 12, 31)
        if today < dt.date(today.year, 12, 31)
        else dt.date(today.year - age, 12, 31)
    )
    child.save(update_fields=["birth_date"])
    ProxyGrant.objects.create(
        grantee=world.alice_user,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=list(Scope.values),
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    return child


def _switch(client: Client, patient: Patient) -> None:
    client.post(reverse("switch_patient"), {"patient": patient.pk, "next": "/"})


def test_a_parent_changes_a_young_childs_details_but_not_a_teenagers(client: Client, world: World) -> None:
    young, teen = _child_of_alice(world, 7), _child_of_alice(world, 15)
    sign_in_recently(client, world.alice_user)
    _switch(client, young)
    assert client.post(reverse("profile:contact"), CONTACT).status_code == 302
    assert Patient.objects.get(pk=young.pk).mobile_phone == "507-555-0199"
    event = AuditEvent.objects.get(action="profile.update")
    assert event.actor_role == "proxy" and event.patient_id == young.pk
    _switch(client, teen)
    assert client.post(reverse("profile:contact"), CONTACT).status_code == 403
    assert Patient.objects.get(pk=teen.pk).mobile_phone == ""


def _request_email(client: Client, email: str, django_capture_on_commit_callbacks: Any) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("profile:email"), {"email": email})
    assert response.status_code == 302
    match = re.search(r"https?://[^/\s]+(/profile/email/confirm/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def test_a_new_email_takes_effect_only_once_confirmed(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sign_in_recently(client, world.alice_user)
    link = _request_email(client, "alice.new@example.org", django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == ["alice.new@example.org"]
    assert _alice(world).email == "alice@example.org"
    assert (
        "Waiting for you to confirm alice.new@example.org"
        in client.get(reverse("profile:details")).content.decode()
    )
    assert client.get(link).status_code == 200
    assert _alice(world).email == "alice@example.org"  # opening the page changes nothing
    response = client.post(link)
    assert response.status_code == 302
    assert _alice(world).email == "alice.new@example.org"
    world.alice_user.refresh_from_db()
    assert world.alice_user.email == "alice.new@example.org"
    assert list(
        EmailAddress.objects.filter(user=world.alice_user).values_list("email", "verified", "primary")
    ) == [("alice.new@example.org", True, True)]
    event = AuditEvent.objects.get(action="profile.email_change")
    assert event.detail["changes"]["email"] == {
        "before": "alice@example.org",
        "after": "alice.new@example.org",
    }
    # The link works once.
    assert client.post(link).status_code == 404


def test_only_the_person_who_asked_can_confirm(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sign_in_recently(client, world.alice_user)
    link = _request_email(client, "alice.new@example.org", django_capture_on_commit_callbacks)
    for persona in ["proxy", "other_patient", "clinician"]:
        other = Client()
        sign_in_recently(other, world.persona(persona))
        assert other.get(link).status_code == 404
        assert other.post(link).status_code == 404
    assert _alice(world).email == "alice@example.org"


def test_an_email_link_expires(client: Client, world: World, django_capture_on_commit_callbacks: Any) -> None:
    sign_in_recently(client, world.alice_user)
    link = _request_email(client, "alice.new@example.org", django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + dt.timedelta(days=4), tick=False):
        sign_in_recently(client, world.alice_user)
        assert client.post(link).status_code == 404
    assert _alice(world).email == "alice@example.org"


def test_a_newer_email_request_replaces_the_older(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sign_in_recently(client, world.alice_user)
    first = _request_email(client, "first@example.org", django_capture_on_commit_callbacks)
    second = _request_email(client, "second@example.org", django_capture_on_commit_callbacks)
    assert client.post(first).status_code == 404
    client.post(second)
    assert _alice(world).email == "second@example.org"


@pytest.mark.parametrize("bad", ["", "not-an-email", "alice@example.org", "ALICE@example.org"])
def test_a_bad_or_unchanged_email_sends_nothing(client: Client, world: World, bad: str) -> None:
    sign_in_recently(client, world.alice_user)
    response = client.post(reverse("profile:email"), {"email": bad})
    assert response.status_code == 200
    assert mail.outbox == []


def test_the_preferred_language_also_switches_the_site(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("profile:language"), {"preferred_language": "es"})
    assert response.status_code == 302
    assert _alice(world).preferred_language == "es"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert 'lang="es"' in client.get(reverse("profile:details")).content.decode()
    event = AuditEvent.objects.get(action="profile.language")
    assert event.detail["changes"]["preferred_language"] == {"before": "en", "after": "es"}


def test_an_unknown_language_is_refused(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    assert client.post(reverse("profile:language"), {"preferred_language": "xx"}).status_code == 200
    assert _alice(world).preferred_language == "en"


def test_text_messages_need_consent_recorded_with_a_timestamp(client: Client, world: World) -> None:
    Patient.objects.filter(pk=world.alice.pk).update(mobile_phone="507-555-0142")
    client.force_login(world.alice_user)
    url = reverse("profile:communication")
    refused = client.post(url, {"email_updates": "on", "sms_updates": "on"})
    assert refused.status_code == 200 and b"tick to agree" in refused.content
    assert not CommunicationPreference.objects.exists()
    moment = timezone.now()
    client.post(url, {"email_updates": "on", "sms_updates": "on", "sms_consent": "on"})
    preference = CommunicationPreference.objects.get(patient=world.alice)
    assert preference.sms_allowed
    assert preference.sms_consented_at is not None and preference.sms_consented_at >= moment
    assert preference.sms_consented_by == world.alice_user
    assert preference.sms_consent_phone == "507-555-0142"
    event = AuditEvent.objects.get(action="profile.communication")
    assert event.detail["changes"]["sms_updates"] == {"before": False, "after": True}
    # A new mobile number is not covered by the old consent.
    Patient.objects.filter(pk=world.alice.pk).update(mobile_phone="507-555-0000")
    preference = CommunicationPreference.objects.select_related("patient").get(patient=world.alice)
    assert not preference.sms_allowed
    # Turning texts off withdraws consent.
    client.post(url, {"email_updates": "on"})
    preference.refresh_from_db()
    assert not preference.sms_updates and preference.sms_consented_at is None


def test_text_messages_need_a_mobile_number(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("profile:communication"), {"sms_updates": "on", "sms_consent": "on"})
    assert b"Add a mobile phone number" in response.content
    assert not CommunicationPreference.objects.exists()


def test_deactivation_refuses_sign_in_and_ends_every_session(client: Client, world: World) -> None:
    EmailAddress.objects.create(
        user=world.alice_user, email=world.alice_user.email, verified=True, primary=True
    )
    elsewhere = Client()
    assert (
        elsewhere.post(reverse("account_login"), {"login": "alice", "password": PASSWORD}).status_code == 302
    )
    assert elsewhere.get(reverse("home")).status_code == 200
    elsewhere_key = elsewhere.session.session_key
    assert Session.objects.filter(session_key=elsewhere_key).exists()
    sign_in_recently(client, world.alice_user)
    assert client.post(reverse("profile:deactivate"), {}).status_code == 200  # not confirmed
    world.alice_user.refresh_from_db()
    assert world.alice_user.is_active
    response = client.post(reverse("profile:deactivate"), {"confirm": "on"})
    assert response.status_code == 200
    assert b"Your account is closed" in response.content
    world.alice_user.refresh_from_db()
    assert not world.alice_user.is_active
    # Both sessions are over (the other one deleted outright), and the password no longer signs in.
    assert not Session.objects.filter(session_key=elsewhere_key).exists()
    for session in (client, elsewhere):
        reply = session.get(reverse("home"))
        assert reply.status_code == 302 and reverse("account_login") in reply["Location"]
    fresh = Client()
    fresh.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert AUTH_SESSION_KEY not in fresh.session
    # Records are kept.
    assert Patient.objects.filter(pk=world.alice.pk, account=world.alice_user).exists()
    assert AuditEvent.objects.filter(action="account.deactivate", patient=world.alice.pk).exists()


def test_deactivation_needs_a_recent_sign_in(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("profile:deactivate"), {"confirm": "on"})
    assert reverse("account_reauthenticate") in response["Location"]
    world.alice_user.refresh_from_db()
    assert world.alice_user.is_active


def test_a_proxy_only_account_is_not_closed_here(client: Client, world: World) -> None:
    sign_in_recently(client, world.proxy_user)
    assert client.post(reverse("profile:deactivate"), {"confirm": "on"}).status_code == 403
    world.proxy_user.refresh_from_db()
    assert world.proxy_user.is_active


def _closed(world: World) -> None:
    world.alice_user.is_active = False
    world.alice_user.save(update_fields=["is_active"])


def test_staff_reopen_a_closed_account(client: Client, world: World) -> None:
    _closed(world)
    sign_in_recently(client, world.clinician)
    page = client.get(reverse("staff:patient", args=[world.alice.pk])).content.decode()
    assert "Reopen portal account" in page
    response = client.post(reverse("profile:staff_reactivate", args=[world.alice.pk]))
    assert response.status_code == 302
    world.alice_user.refresh_from_db()
    assert world.alice_user.is_active
    event = AuditEvent.objects.get(action="account.reactivate")
    assert event.actor_id == world.clinician.pk and event.patient_id == world.alice.pk


@pytest.mark.parametrize("persona", ["proxy", "other_patient", "unassigned_staff", "admin"])
def test_nobody_else_reopens_an_account(client: Client, world: World, persona: str) -> None:
    _closed(world)
    sign_in_recently(client, world.persona(persona))
    assert client.post(reverse("profile:staff_reactivate", args=[world.alice.pk])).status_code == 404
    world.alice_user.refresh_from_db()
    assert not world.alice_user.is_active


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    _closed(world)
    for url in [reverse("profile:details"), reverse("profile:contact"), reverse("profile:deactivate")]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("account_login") in response["Location"]
    client.post(reverse("profile:staff_reactivate", args=[world.alice.pk]))
    world.alice_user.refresh_from_db()
    assert not world.alice_user.is_active


def test_the_staff_patient_page_runs_a_fixed_number_of_queries_however_many_changes(
    client: Client, world: World
) -> None:
    sign_in_recently(client, world.alice_user)
    client.post(reverse("profile:contact"), CONTACT)
    staff = Client()
    staff.force_login(world.clinician)
    url = reverse("staff:patient", args=[world.alice.pk])
    staff.get(url)
    one = query_count(lambda: staff.get(url))
    for phone in ["507-555-0101", "507-555-0102", "507-555-0103", "507-555-0104"]:
        client.post(reverse("profile:contact"), {**CONTACT, "mobile_phone": phone})
    assert query_count(lambda: staff.get(url)) == one
