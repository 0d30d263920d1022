"""Choosing channels per kind of news, text-message consent and quiet hours, and what they do
to the email and texts that go out (the portal always shows everything)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.notifications import send
from portal.notifications.models import Kind, Notification, OutboxMessage
from portal.patients.models import CommunicationPreference, Patient, ProxyGrant, Scope
from portal.scheduling.tests.support import book, local_moment, make_slot, phoenix_campus, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
MOBILE = "507-555-0142"


def grid(**choices: Any) -> dict[str, Any]:
    """A submission of the preferences page: email on for every kind unless told otherwise."""
    data: dict[str, Any] = {"email_updates": "on"}
    data.update({f"email_{kind}": "on" for kind in Kind.values})
    for name, value in choices.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def preference(world: World, **fields: Any) -> CommunicationPreference:
    return CommunicationPreference.objects.create(patient=world.alice, **fields)


def consented(world: World, sms_kinds: list[str], **fields: Any) -> CommunicationPreference:
    Patient.objects.filter(pk=world.alice.pk).update(mobile_phone=MOBILE)
    world.alice.refresh_from_db()
    return preference(
        world,
        sms_updates=True,
        sms_consented_at=timezone.now(),
        sms_consented_by=world.alice_user,
        sms_consent_phone=MOBILE,
        sms_kinds=sms_kinds,
        **fields,
    )


def tell(world: World, kind: str, key: str = "test.news:1", patient: Patient | None = None) -> int:
    return send.notify_patient(
        patient or world.alice,
        kind=kind,
        key=key,
        link="/notifications/",
        compose=lambda: ("Something new", "Open it to see."),
    )


def outbound(channel: str, **filters: Any) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(channel=channel, **filters).order_by("pk"))


# The page ----------------------------------------------------------------------------------


def test_the_page_shows_a_grid_of_kinds_with_email_and_text_for_each(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    page = client.get(reverse("profile:communication")).content.decode()
    for kind, label in Kind.choices:
        assert f'id="kind-{kind}"' in page
        assert f"<legend>{label}</legend>" in page
        assert f'name="email_{kind}"' in page and f'name="sms_{kind}"' in page
    assert 'name="quiet_start"' in page and 'type="time"' in page
    assert "Quiet hours use Central time, the time at your home campus (Rochester, Minnesota)." in page
    # By default every kind is ticked for email and none for texts.
    for kind in Kind.values:
        assert f'name="email_{kind}" id="id_email_{kind}" checked>' in page
        assert f'name="sms_{kind}" id="id_sms_{kind}">' in page


def test_choices_per_kind_and_quiet_hours_are_saved_and_audited(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    data = grid(email_billing=None, sms_results="on", quiet_start="22:00", quiet_end="07:00")
    response = client.post(reverse("profile:communication"), data)
    assert response.status_code == 302
    saved = CommunicationPreference.objects.get(patient=world.alice)
    assert saved.email_kinds == ["messages", "results", "appointments"]
    assert saved.sms_kinds == ["results"]
    assert (saved.quiet_start, saved.quiet_end) == (dt.time(22), dt.time(7))
    changes = AuditEvent.objects.get(action="profile.communication").detail["changes"]
    assert changes["email_kinds"]["after"] == ["messages", "results", "appointments"]
    assert changes["quiet_start"] == {"before": None, "after": "22:00"}
    # The page shows the choices back, and the details page sums them up.
    page = client.get(reverse("profile:communication")).content.decode()
    assert 'name="quiet_start" value="22:00"' in page
    assert 'id="id_sms_results" checked>' in page and 'id="id_email_billing">' in page
    details = client.get(reverse("profile:details")).content.decode()
    assert "Quiet hours: 22:00 to 07:00" in details and "(Central time)" in details


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("22:00", "", "Give both times"),
        ("", "07:00", "Give both times"),
        ("22:00", "22:00", "must end at a different time"),
        ("25:00", "07:00", "Enter a valid time"),
        ("x" * 5000, "07:00", "Enter a valid time"),
    ],
)
def test_quiet_hours_need_both_ends(client: Client, world: World, start: str, end: str, error: str) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("profile:communication"), grid(quiet_start=start, quiet_end=end))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not CommunicationPreference.objects.exists()


def test_removing_quiet_hours(client: Client, world: World) -> None:
    preference(world, quiet_start=dt.time(22), quiet_end=dt.time(7))
    client.force_login(world.alice_user)
    client.post(reverse("profile:communication"), grid(quiet_start="", quiet_end=""))
    saved = CommunicationPreference.objects.get(patient=world.alice)
    assert saved.quiet_start is None and saved.quiet_end is None


def test_text_kinds_are_kept_but_do_nothing_without_consent(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    client.post(reverse("profile:communication"), grid(sms_messages="on"))
    saved = CommunicationPreference.objects.select_related("patient").get(patient=world.alice)
    assert saved.sms_kinds == ["messages"] and not saved.sms_allowed
    assert not saved.wants("sms", Kind.MESSAGES)


@pytest.mark.parametrize("persona", ["proxy", "other_patient"])
def test_others_cannot_change_alices_preferences(client: Client, world: World, persona: str) -> None:
    client.force_login(world.persona(persona))
    client.post(
        reverse("profile:communication"), grid(email_messages=None, quiet_start="1:00", quiet_end="2:00")
    )
    assert not CommunicationPreference.objects.filter(patient=world.alice).exists()


def test_staff_and_anonymous_visitors_do_not_reach_the_page(client: Client, world: World) -> None:
    anonymous = client.get(reverse("profile:communication"))
    assert anonymous.status_code == 302 and reverse("account_login") in anonymous["Location"]
    client.force_login(world.unassigned_staff)
    assert client.get(reverse("profile:communication")).status_code == 302  # to the staff workspace
    client.post(reverse("profile:communication"), grid(quiet_start="1:00", quiet_end="2:00"))
    assert not CommunicationPreference.objects.exists()


# What goes out -----------------------------------------------------------------------------


def test_a_kind_turned_off_for_email_still_shows_in_the_portal(world: World) -> None:
    preference(world, email_kinds=["messages"])
    tell(world, Kind.RESULTS)
    assert Notification.objects.filter(recipient=world.alice_user).count() == 1
    assert outbound(OutboxMessage.Channel.EMAIL) == []
    tell(world, Kind.MESSAGES, key="test.news:2")
    assert [message.kind for message in outbound(OutboxMessage.Channel.EMAIL)] == ["messages", "messages"]


def test_email_off_altogether_sends_no_email(world: World) -> None:
    preference(world, email_updates=False)
    tell(world, Kind.MESSAGES)
    assert outbound(OutboxMessage.Channel.EMAIL) == []
    assert Notification.objects.count() == 2  # Alice and Pat, in the portal


def test_texts_go_only_with_consent_for_the_kinds_chosen(world: World) -> None:
    consented(world, ["messages"])
    tell(world, Kind.MESSAGES)
    tell(world, Kind.RESULTS, key="test.news:2")
    texts = outbound(OutboxMessage.Channel.SMS)
    assert [(text.recipient, text.kind) for text in texts] == [(world.alice_user, "messages")]
    assert texts[0].body == "You have a new message in the patient portal."


def test_no_text_without_consent_or_after_the_number_changed(world: World) -> None:
    Patient.objects.filter(pk=world.alice.pk).update(mobile_phone=MOBILE)
    preference(world, sms_updates=True, sms_kinds=list(Kind.values))  # never agreed
    tell(world, Kind.MESSAGES)
    assert outbound(OutboxMessage.Channel.SMS) == []
    CommunicationPreference.objects.filter(patient=world.alice).update(
        sms_consented_at=timezone.now(), sms_consent_phone="507-555-0000"
    )
    tell(world, Kind.MESSAGES, key="test.news:2")
    assert outbound(OutboxMessage.Channel.SMS) == []


def test_a_proxy_without_the_billing_scope_is_not_told_about_billing(world: World) -> None:
    assert tell(world, Kind.BILLING) == 1
    assert set(Notification.objects.values_list("recipient", flat=True)) == {world.alice_user.pk}
    assert {message.recipient for message in outbound(OutboxMessage.Channel.EMAIL)} == {world.alice_user}
    ProxyGrant.objects.filter(pk=world.proxy_grant.pk).update(scopes=[Scope.VIEW, Scope.BILLING])
    assert tell(world, Kind.BILLING, key="test.news:2") == 2


def test_a_text_is_not_sent_to_a_proxy_who_may_not_hear_the_news(world: World) -> None:
    """A child's texts go to the managing parent only for news the parent may hear."""
    child = Patient.objects.create(
        clinic_number="10000031",
        given_name="Kit",
        family_name="Able",
        birth_date=timezone.localdate() - dt.timedelta(days=365 * 6),
        sex_at_birth=Patient.Sex.MALE,
        primary_campus=world.campus,
        mobile_phone=MOBILE,
    )
    ProxyGrant.objects.create(
        grantee=world.proxy_user,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    CommunicationPreference.objects.create(
        patient=child,
        sms_updates=True,
        sms_consented_at=timezone.now(),
        sms_consented_by=world.proxy_user,
        sms_consent_phone=MOBILE,
        sms_kinds=list(Kind.values),
    )
    tell(world, Kind.BILLING, patient=child)
    assert outbound(OutboxMessage.Channel.SMS) == []
    tell(world, Kind.RESULTS, key="test.news:2", patient=child)
    assert [text.recipient for text in outbound(OutboxMessage.Channel.SMS)] == [world.proxy_user]


# Quiet hours --------------------------------------------------------------------------------


def chicago(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CHICAGO)


@pytest.mark.parametrize(
    ("now_hour", "held_until"),
    [
        (23, (1, 7)),  # late evening: until 07:00 the next morning
        (2, (0, 7)),  # after midnight: until 07:00 the same day
        (21, None),  # before the quiet hours: at once
        (7, None),  # the moment they end: at once
    ],
)
def test_quiet_hours_across_midnight_hold_email_and_texts_until_they_end(
    world: World, now_hour: int, held_until: tuple[int, int] | None
) -> None:
    consented(world, list(Kind.values), quiet_start=dt.time(22), quiet_end=dt.time(7))
    day = dt.date(timezone.now().year + 1, 1, 14)  # winter, in the future: the proxy grant holds
    moment = chicago(day, now_hour)
    with time_machine.travel(moment, tick=False):
        tell(world, Kind.MESSAGES)
        assert Notification.objects.filter(recipient=world.alice_user).exists()  # the portal: at once
    expected = (
        moment if held_until is None else chicago(day + dt.timedelta(days=held_until[0]), held_until[1])
    )
    messages = outbound(OutboxMessage.Channel.EMAIL) + outbound(OutboxMessage.Channel.SMS)
    assert len(messages) == 3  # email to Alice and Pat, a text to Alice
    assert {message.send_after for message in messages} == {expected}


def test_quiet_hours_use_the_patients_campus_zone(world: World) -> None:
    """In Phoenix (no daylight saving) 22:00-07:00 is 05:00-14:00 UTC in July, not Chicago's 03:00-12:00."""
    Patient.objects.filter(pk=world.alice.pk).update(primary_campus=phoenix_campus())
    world.alice.refresh_from_db()
    preference(world, quiet_start=dt.time(22), quiet_end=dt.time(7))
    year = timezone.now().year + 1
    with time_machine.travel(dt.datetime(year, 7, 1, 12, 30, tzinfo=dt.UTC), tick=False):
        tell(world, Kind.MESSAGES)  # 05:30 in Phoenix: quiet (07:30 in Chicago would not be)
    emails = outbound(OutboxMessage.Channel.EMAIL)
    assert {email.send_after for email in emails} == {dt.datetime(year, 7, 1, 14, 0, tzinfo=dt.UTC)}


def test_daytime_quiet_hours_hold_until_they_end_the_same_day(world: World) -> None:
    preference(world, quiet_start=dt.time(9), quiet_end=dt.time(17, 30))
    day = dt.date(timezone.now().year + 1, 7, 14)  # summer: Central daylight time
    with time_machine.travel(chicago(day, 12), tick=False):
        tell(world, Kind.RESULTS)
    assert {email.send_after for email in outbound(OutboxMessage.Channel.EMAIL)} == {chicago(day, 17, 30)}


# Reminders ---------------------------------------------------------------------------------


def test_reminders_by_email_and_text_follow_the_preferences(world: World) -> None:
    consented(world, [Kind.APPOINTMENTS], email_kinds=[Kind.MESSAGES])
    sw = scheduling_world(world)
    appointment = book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    reminders = OutboxMessage.objects.filter(topic="scheduling.reminder")
    assert reminders.filter(channel=OutboxMessage.Channel.IN_APP).count() == 2  # a week and a day before
    assert not reminders.filter(channel=OutboxMessage.Channel.EMAIL).exists()  # email off for appointments
    texts = reminders.filter(channel=OutboxMessage.Channel.SMS)
    assert texts.count() == 2
    for text in texts:
        assert text.subject == "Appointment reminder from your patient portal"
        assert sw.follow_up.name not in text.body and "Alice" not in text.body
        assert text.kind == Kind.APPOINTMENTS
    assert {text.send_after for text in texts} == {
        appointment.starts_at - dt.timedelta(hours=hours) for hours in (168, 24)
    }


def test_reminder_email_waits_for_quiet_hours_but_the_portal_reminder_does_not(world: World) -> None:
    preference(world, quiet_start=dt.time(8), quiet_end=dt.time(10))
    sw = scheduling_world(world)
    appointment = book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    day_before = appointment.starts_at - dt.timedelta(hours=24)
    in_app = OutboxMessage.objects.get(channel=OutboxMessage.Channel.IN_APP, send_after=day_before)
    assert in_app.recipient == world.alice_user
    email = OutboxMessage.objects.get(
        channel=OutboxMessage.Channel.EMAIL, send_after__gt=day_before, send_after__lt=appointment.starts_at
    )
    local = email.send_after.astimezone(CHICAGO)
    assert (local.hour, local.minute) == (10, 0)
    assert local.date() == day_before.astimezone(CHICAGO).date()


@override_settings(PORTAL_REMINDER_HOURS=(1,))
def test_a_reminder_held_past_the_visit_by_quiet_hours_is_not_sent(world: World) -> None:
    preference(world, quiet_start=dt.time(7), quiet_end=dt.time(12))
    sw = scheduling_world(world)
    book(sw, make_slot(sw, local_moment(world.campus, 3, 9)))
    reminders = OutboxMessage.objects.filter(topic="scheduling.reminder")
    assert list(reminders.values_list("channel", flat=True)) == [OutboxMessage.Channel.IN_APP]


def test_reminders_go_only_to_those_with_the_schedule_scope(world: World) -> None:
    sw = scheduling_world(world)
    book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    recipients = set(OutboxMessage.objects.values_list("recipient", flat=True))
    assert recipients == {world.alice_user.pk}  # Pat may view and message, not schedule
