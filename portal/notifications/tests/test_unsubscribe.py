"""Unsubscribing from one kind of email from the link in the email: an opaque random token
per email that names nothing, a page with a button, RFC 8058 one-click, no sign-in; the
link works only for a recipient who still acts for the patient and for 90 days; bad
links get one generic page and change nothing."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.notifications import outbox
from portal.notifications.models import Kind, OutboxMessage
from portal.notifications.outbound import outbound_text
from portal.notifications.tests.delivery_support import queue_message
from portal.notifications.unsubscribe import ACTION, MAX_AGE
from portal.patients.models import CommunicationPreference, Patient, Scope
from portal.test import World, make_user, query_count

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://127\.0\.0\.1:8000(/notifications/unsubscribe/([^/\s]+)/)")
INVALID = "This link does not work"


def sent_email(world: World, kind: str = Kind.RESULTS, **fields: object) -> tuple[OutboxMessage, str]:
    """Deliver one email about Alice's news; the row and its unsubscribe path."""
    message = queue_message(world, OutboxMessage.Channel.EMAIL, kind=kind, **fields)
    before = len(mail.outbox)
    assert outbox.deliver_due() == 1
    assert len(mail.outbox) == before + 1
    message.refresh_from_db()
    return message, reverse("notifications:unsubscribe", args=[message.unsubscribe_token])


def email_kinds(world: World) -> list[str]:
    preference = CommunicationPreference.objects.filter(patient=world.alice).first()
    return list(preference.email_kinds) if preference is not None else list(Kind.values)


def unsubscribe_events() -> int:
    return AuditEvent.objects.filter(action=ACTION).count()


def page_of(method: str, path: str) -> tuple[int, str]:
    """The status and page, less what differs from one visit to the next (the language
    form's CSRF token and its way back to the page)."""
    response = getattr(Client(), method)(path)
    content = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return response.status_code, content.replace(path, "PATH")


# The link in the email ---------------------------------------------------------------------


def test_each_email_about_news_carries_its_own_random_token(world: World) -> None:
    first, path = sent_email(world)
    second, _path = sent_email(world)
    one, two = mail.outbox
    match = LINK.search(str(one.body))
    assert match is not None and match.group(1) == path
    assert match.group(2) == first.unsubscribe_token and len(first.unsubscribe_token) == 32
    assert one.extra_headers["List-Unsubscribe"] == f"<{match.group(0)}>"
    assert one.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A fresh random key per email, not something derived from the patient and kind.
    assert second.unsubscribe_token not in ("", first.unsubscribe_token)
    assert second.unsubscribe_token in str(two.body)
    response = Client().post(match.group(1))
    assert response.status_code == 200
    assert Kind.RESULTS not in email_kinds(world)


@pytest.mark.parametrize("kind", Kind.values)
def test_the_email_names_neither_the_patient_nor_the_kind(world: World, kind: str) -> None:
    # A patient whose database id is a number that could not turn up by chance.
    account = make_user("quinn")
    patient = Patient.objects.create(
        pk=48151623,
        clinic_number="10000077",
        given_name="Quinn",
        family_name="Example",
        birth_date=dt.date(1980, 5, 17),
        sex_at_birth=Patient.Sex.FEMALE,
        primary_campus=world.campus,
        account=account,
    )
    subject, body = outbound_text(kind)
    message = queue_message(
        world,
        OutboxMessage.Channel.EMAIL,
        recipient=account,
        patient=patient,
        kind=kind,
        # The link into the portal is the notifying code's; a neutral one here, so that
        # what is checked is what the outbox adds.
        link="/notifications/",
        subject=subject,
        body=body,
    )
    assert outbox.deliver_due() == 1
    (email,) = mail.outbox
    assert isinstance(email, EmailMessage)
    raw = email.message()
    # The subject is the fixed wording ("Billing news ..."), checked in test_no_health_information.
    headers = "\n".join(f"{name}: {value}" for name, value in raw.items() if name != "Subject")
    message.refresh_from_db()
    assert message.unsubscribe_token and message.unsubscribe_token in headers
    for text in (headers, str(email.body)):
        assert str(patient.pk) not in text
        assert not [slug for slug in Kind.values if slug in text.lower()], text
    assert f"Sign in to see it: {settings.SITE_ROOT}/notifications/\n" in str(email.body)


def test_a_retried_email_keeps_its_link(world: World) -> None:
    message = queue_message(world, OutboxMessage.Channel.EMAIL, kind=Kind.RESULTS)
    with mock.patch.object(EmailMessage, "send", side_effect=OSError("connection refused")):
        outbox.deliver_due()
    message.refresh_from_db()
    token = message.unsubscribe_token
    assert token and message.sent_at is None
    assert outbox.deliver_due(now=timezone.now() + dt.timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.unsubscribe_token == token and token in str(mail.outbox[0].body)


def test_only_emails_about_a_patients_news_get_a_token(world: World) -> None:
    staff = queue_message(
        world, OutboxMessage.Channel.EMAIL, recipient=world.clinician, patient=None, kind="", for_staff=True
    )
    in_app = queue_message(world)
    assert outbox.deliver_due() == 2
    (email,) = mail.outbox
    assert "List-Unsubscribe" not in email.extra_headers
    assert not LINK.search(str(email.body))
    for message in (staff, in_app):
        message.refresh_from_db()
        assert message.sent_at is not None and message.unsubscribe_token == ""


# The page and the button -------------------------------------------------------------------


def test_the_link_shows_a_button_and_changes_nothing_by_itself(world: World) -> None:
    # Mail scanners open links: only the button (a POST) unsubscribes.
    _message, path = sent_email(world)
    response = Client().get(path)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Stop these emails?" in content and "New test results and record updates" in content
    assert f'action="{path}"' in content
    assert email_kinds(world) == list(Kind.values)
    assert unsubscribe_events() == 0


def test_the_page_does_not_say_whether_the_kind_is_already_off(world: World) -> None:
    _message, path = sent_email(world)
    on = page_of("get", path)
    CommunicationPreference.objects.create(patient=world.alice, email_kinds=[Kind.RESULTS])
    assert page_of("post", path) == page_of("post", path)  # now off, then already off
    assert page_of("get", path) == on


def test_pressing_the_button_turns_that_kind_off_and_is_audited(world: World) -> None:
    _message, path = sent_email(world)
    response = Client().post(path, HTTP_USER_AGENT="Mail/1.0")
    assert response.status_code == 200
    assert "are now off" in response.content.decode()
    assert email_kinds(world) == [Kind.MESSAGES, Kind.APPOINTMENTS, Kind.BILLING]
    event = AuditEvent.objects.get(action=ACTION)
    assert (event.actor_id, event.actor_role, event.patient_id, event.kind) == (
        None,
        AuditEvent.ActorRole.SYSTEM,
        world.alice.pk,
        AuditEvent.Kind.WRITE,
    )
    assert event.detail == {"kind": Kind.RESULTS, "channel": "email"}
    assert event.user_agent == "Mail/1.0"
    # Alice's later email of that kind is dropped; other kinds still go.
    results = queue_message(world, OutboxMessage.Channel.EMAIL, kind=Kind.RESULTS)
    queue_message(world, OutboxMessage.Channel.EMAIL, kind=Kind.MESSAGES)
    assert outbox.deliver_due() == 1
    results.refresh_from_db()
    assert results.cancelled_at is not None


def test_one_click_unsubscribe_needs_no_csrf_token_or_sign_in(world: World) -> None:
    _message, path = sent_email(world, Kind.BILLING)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Kind.BILLING not in email_kinds(world)


def test_pressing_it_when_already_off_changes_and_audits_nothing(world: World) -> None:
    _message, path = sent_email(world)
    CommunicationPreference.objects.create(patient=world.alice, email_kinds=[Kind.MESSAGES])
    response = Client().post(path)
    assert response.status_code == 200 and "are now off" in response.content.decode()
    assert email_kinds(world) == [Kind.MESSAGES]
    assert unsubscribe_events() == 0


def test_the_page_runs_a_bounded_number_of_queries(world: World) -> None:
    _message, path = sent_email(world)
    _message, proxys_path = sent_email(world, Kind.MESSAGES, recipient=world.proxy_user)
    assert query_count(lambda: Client().get(path)) <= 3
    assert query_count(lambda: Client().get(proxys_path)) <= 4


# Who may use it ----------------------------------------------------------------------------


def test_a_proxys_link_works_while_their_access_covers_the_kind(world: World) -> None:
    _message, path = sent_email(world, Kind.MESSAGES, recipient=world.proxy_user)
    assert Client().get(path).status_code == 200
    assert Client().post(path).status_code == 200
    # The preferences are Alice's: the emails stop for everyone who gets them.
    assert Kind.MESSAGES not in email_kinds(world)


def test_a_proxy_whose_access_was_revoked_cannot_use_their_old_link(world: World) -> None:
    _message, path = sent_email(world, Kind.MESSAGES, recipient=world.proxy_user)
    unknown = reverse("notifications:unsubscribe", args=["x" * 32])
    world.proxy_grant.revoked_at = timezone.now()
    world.proxy_grant.save(update_fields=["revoked_at"])
    for method in ("get", "post"):
        status, content = page_of(method, path)
        # The same page as a link that never existed.
        assert (status, content) == page_of(method, unknown)
        assert status == 400 and INVALID in content
    assert email_kinds(world) == list(Kind.values)
    assert unsubscribe_events() == 0


def test_a_proxy_who_lost_the_kinds_scope_cannot_use_their_old_link(world: World) -> None:
    _message, path = sent_email(world, Kind.MESSAGES, recipient=world.proxy_user)
    world.proxy_grant.scopes = [Scope.VIEW]
    world.proxy_grant.save(update_fields=["scopes"])
    response = Client().post(path)
    assert response.status_code == 400 and INVALID in response.content.decode()
    assert email_kinds(world) == list(Kind.values)


def test_a_closed_account_cannot_use_its_old_link(world: World) -> None:
    _message, path = sent_email(world)
    world.alice_user.is_active = False
    world.alice_user.save(update_fields=["is_active"])
    assert Client().post(path).status_code == 400
    assert email_kinds(world) == list(Kind.values)


@pytest.mark.parametrize("persona", ["other_patient", "unassigned_staff", "proxy"])
def test_a_signed_in_visitor_changes_only_the_links_patient(world: World, persona: str) -> None:
    _message, path = sent_email(world)
    client = Client()
    client.force_login(world.persona(persona))
    assert client.post(path).status_code == 200
    assert Kind.RESULTS not in email_kinds(world)
    assert CommunicationPreference.objects.exclude(patient=world.alice).count() == 0


# Links that do not work --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "x" * 32,  # well formed, never issued
        "not-a-token",  # too short
        "A" * 65,  # too long
        "é" * 30,
        "abc:def:ghi.jkl-mno_pqr-stu",  # the shape of the old signed tokens
    ],
)
def test_a_bad_link_gets_the_generic_page_and_changes_nothing(world: World, token: str) -> None:
    sent_email(world)
    path = reverse("notifications:unsubscribe", args=[token])
    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        assert response.status_code == 400
        assert INVALID in response.content.decode()
    assert email_kinds(world) == list(Kind.values)


def test_a_token_on_a_staff_email_does_nothing(world: World) -> None:
    staff = queue_message(
        world,
        OutboxMessage.Channel.EMAIL,
        recipient=world.clinician,
        patient=world.alice,
        kind=Kind.RESULTS,
        for_staff=True,
        unsubscribe_token="s" * 32,
    )
    response = Client().post(reverse("notifications:unsubscribe", args=[staff.unsubscribe_token]))
    assert response.status_code == 400
    assert email_kinds(world) == list(Kind.values)


def test_an_expired_link_sends_the_visitor_to_sign_in(world: World) -> None:
    _message, path = sent_email(world)
    with time_machine.travel(timezone.now() + MAX_AGE - dt.timedelta(minutes=1)):
        assert Client().get(path).status_code == 200
    assert MAX_AGE.days == 90
    with time_machine.travel(timezone.now() + MAX_AGE + dt.timedelta(minutes=1)):
        for method in ("get", "post"):
            response = getattr(Client(), method)(path)
            assert response.status_code == 410
            content = response.content.decode()
            assert "This link has expired" in content and "90 days" in content
            assert f'href="{reverse("account_login")}?next={reverse("profile:communication")}"' in content
    assert email_kinds(world) == list(Kind.values)
    assert unsubscribe_events() == 0


def test_other_methods_are_refused(world: World) -> None:
    _message, path = sent_email(world)
    assert Client().put(path).status_code == 405
