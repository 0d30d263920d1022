"""The patient's appointments pages: the list, one visit, cancel, reschedule, notices, the
home page card; tried as each persona, inside and outside the online-change cutoff."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.organization.models import Campus
from portal.patients.models import Scope
from portal.scheduling.models import Appointment, PatientNotice, Slot
from portal.scheduling.tests.support import (
    SchedulingWorld,
    book,
    local_moment,
    make_slot,
    make_visit_type,
    scheduling_world,
)
from portal.scheduling.views_appointments import PER_PAGE, SLOTS_PER_PAGE
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def let_proxy_schedule(world: World) -> None:
    world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    world.proxy_grant.save()


def visit(sw: SchedulingWorld, days: int = 10, hour: int = 9, **fields: Any) -> Appointment:
    """A visit written directly (past ones cannot be booked); upcoming ones use `book`."""
    starts_at = fields.pop("starts_at", local_moment(sw.world.campus, days, hour))
    return Appointment.objects.create(
        patient=fields.pop("patient", sw.world.alice),
        visit_type=fields.pop("visit_type", sw.follow_up),
        practitioner=sw.clinician,
        campus=sw.world.campus,
        department=sw.department,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=30),
        status=fields.pop("status", Appointment.Status.BOOKED),
        **fields,
    )


def booked(sw: SchedulingWorld, days: int = 10, hour: int = 9, **options: Any) -> Appointment:
    return book(sw, make_slot(sw, local_moment(sw.world.campus, days, hour)), **options)


def make_campus(slug: str, zone: str) -> Campus:
    return Campus.objects.create(
        slug=slug,
        name=slug.title(),
        short_name=slug.title(),
        address_line="1 Main Street",
        city=slug.title(),
        postal_code="00000",
        time_zone=zone,
        zone_label="Local time",
        main_phone="555-0100",
        appointments_phone="555-0101",
    )


def urls_for(appointment_id: int) -> dict[str, str]:
    return {
        name: reverse(f"appointments:{name}", args=[appointment_id])
        for name in ("detail", "cancel", "reschedule", "ics", "notice")
    }


# The list ---------------------------------------------------------------------------------


def test_the_list_shows_upcoming_and_past_visits_in_campus_time(client: Client, sw: SchedulingWorld) -> None:
    soon = booked(sw, days=5, hour=9)
    visit(sw, days=-30, status=Appointment.Status.FULFILLED, reason="")
    cancelled = visit(sw, days=12, status=Appointment.Status.CANCELLED)
    client.force_login(sw.world.alice_user)
    response = client.get(reverse("appointments:list"))
    assert response.status_code == 200
    page = response.content.decode()
    upcoming, past = page.split("Past and cancelled visits")
    assert reverse("appointments:detail", args=[soon.pk]) in upcoming
    assert "9:00 AM" in upcoming and "(Central time)" in upcoming
    assert "Dr. Carol Staff" in upcoming and "Family Medicine" in upcoming and "In person" in upcoming
    assert "Scheduled" in upcoming
    assert reverse("appointments:detail", args=[cancelled.pk]) in past
    assert "Completed" in past and "Cancelled" in past
    assert AuditEvent.objects.filter(action="appointment.list_view", patient=sw.world.alice).count() == 1


def test_a_visit_earlier_today_is_still_upcoming(client: Client, sw: SchedulingWorld) -> None:
    campus = sw.world.campus
    local_now = timezone.now().astimezone(campus.zone)
    start_of_today = dt.datetime.combine(local_now.date(), dt.time(), tzinfo=campus.zone)
    earlier = visit(sw, starts_at=max(start_of_today, local_now - dt.timedelta(minutes=40)))
    yesterday = visit(sw, starts_at=start_of_today - dt.timedelta(hours=1))
    client.force_login(sw.world.alice_user)
    upcoming, past = client.get(reverse("appointments:list")).content.decode().split("Past and cancelled")
    assert reverse("appointments:detail", args=[earlier.pk]) in upcoming
    assert reverse("appointments:detail", args=[yesterday.pk]) in past


def test_past_visits_are_paged(client: Client, sw: SchedulingWorld) -> None:
    visits = [visit(sw, days=-day, status=Appointment.Status.FULFILLED) for day in range(1, PER_PAGE + 6)]
    client.force_login(sw.world.alice_user)
    first = client.get(reverse("appointments:list")).content.decode()
    assert reverse("appointments:detail", args=[visits[0].pk]) in first
    assert reverse("appointments:detail", args=[visits[-1].pk]) not in first
    assert "Show earlier visits" in first
    cursor = first.split("after=")[1].split('"')[0]
    second = client.get(reverse("appointments:list"), {"after": cursor}).content.decode()
    assert reverse("appointments:detail", args=[visits[-1].pk]) in second
    assert reverse("appointments:detail", args=[visits[0].pk]) not in second
    assert "Upcoming visits" not in second
    assert client.get(reverse("appointments:list"), {"after": "x" * 5000}).status_code == 200


def test_the_list_costs_the_same_for_a_long_history(client: Client, sw: SchedulingWorld) -> None:
    for day in range(3):
        visit(sw, days=-day - 1, status=Appointment.Status.FULFILLED)
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:list")
    client.get(url)  # the first request after signing in also settles the session
    small = query_count(lambda: client.get(url))
    for day in range(27):
        visit(sw, days=-day - 10 if day % 2 else day + 3, status=Appointment.Status.BOOKED)
    assert Appointment.objects.filter(patient=sw.world.alice).count() == 30
    assert query_count(lambda: client.get(url)) == small


def test_proxies_see_the_list_and_only_schedulers_get_controls(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw)
    client.force_login(sw.world.proxy_user)
    detail = client.get(reverse("appointments:detail", args=[appointment.pk]))
    assert client.get(reverse("appointments:list")).status_code == 200
    assert detail.status_code == 200
    assert reverse("appointments:cancel", args=[appointment.pk]) not in detail.content.decode()
    let_proxy_schedule(sw.world)
    detail = client.get(reverse("appointments:detail", args=[appointment.pk]))
    assert reverse("appointments:cancel", args=[appointment.pk]) in detail.content.decode()
    assert reverse("appointments:reschedule", args=[appointment.pk]) in detail.content.decode()


def test_a_proxy_without_view_or_schedule_is_told_so(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw)
    sw.world.proxy_grant.scopes = [Scope.MESSAGE]
    sw.world.proxy_grant.save()
    client.force_login(sw.world.proxy_user)
    assert client.get(reverse("appointments:list")).status_code == 403
    refused = client.get(reverse("appointments:detail", args=[appointment.pk]))
    missing = client.get(reverse("appointments:detail", args=[MISSING]))
    assert_same_as_missing(refused, missing)


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw)
    for url in [reverse("appointments:list"), *urls_for(appointment.pk).values()]:
        response = client.post(url) if url.endswith("/notice/") else client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_unassigned_staff_get_nothing(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw)
    client.force_login(sw.world.unassigned_staff)
    for url in [reverse("appointments:list"), *urls_for(appointment.pk).values()]:
        response = client.post(url) if url.endswith(("/notice/", "/cancel/")) else client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("staff:home")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert not PatientNotice.objects.exists()


def test_another_patient_gets_the_same_404_as_a_missing_visit(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw)
    client.force_login(sw.world.bob_user)
    mine, missing = urls_for(appointment.pk), urls_for(MISSING)
    for name in mine:
        if name in ("notice", "cancel"):
            data = {"kind": "late", "minutes": "15"}
            assert_same_as_missing(client.post(mine[name], data), client.post(missing[name], data))
        else:
            assert_same_as_missing(client.get(mine[name]), client.get(missing[name]))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert not PatientNotice.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", patient=sw.world.alice).exists()


def test_ids_too_long_for_the_database_are_missing(client: Client, sw: SchedulingWorld) -> None:
    client.force_login(sw.world.alice_user)
    assert client.get("/appointments/99999999999999999999999/").status_code == 404
    assert client.get(f"/appointments/{2**63 - 1}/").status_code == 404


# One visit --------------------------------------------------------------------------------


def test_the_detail_page_says_everything_about_the_visit(client: Client, sw: SchedulingWorld) -> None:
    sw.follow_up.preparation = "Bring your blood pressure diary."
    sw.follow_up.save()
    appointment = booked(sw, reason="Blood pressure check")
    client.force_login(sw.world.alice_user)
    response = client.get(reverse("appointments:detail", args=[appointment.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "(Central time)" in page
    assert "200 First Street SW" in page
    assert "https://www.openstreetmap.org/search?query=200+First+Street+SW%2C+Rochester%2C+MN+55905" in page
    assert 'href="tel:507-555-0101"' in page
    assert "Bring your blood pressure diary." in page
    assert "Blood pressure check" in page
    assert "Booked online" in page
    assert reverse("appointments:ics", args=[appointment.pk]) in page
    assert "opens 15 minutes before" not in page
    assert AuditEvent.objects.filter(action="appointment.view", object_id=str(appointment.pk)).count() == 1


def test_a_video_visit_says_when_it_opens(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, visit_type=sw.video)
    client.force_login(sw.world.alice_user)
    page = client.get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
    assert "opens 15 minutes before" in page
    assert "openstreetmap" not in page


def test_the_detail_page_costs_the_same_with_many_notices(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=1)
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:detail", args=[appointment.pk])
    client.get(url)
    small = query_count(lambda: client.get(url))
    for _ in range(5):
        PatientNotice.objects.create(
            appointment=appointment, kind=PatientNotice.Kind.RUNNING_LATE, minutes_late=10
        )
    assert query_count(lambda: client.get(url)) == small


# Cancel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_cancelling_outside_the_cutoff(client: Client, sw: SchedulingWorld, persona: str) -> None:
    let_proxy_schedule(sw.world)
    appointment = booked(sw, days=3)
    client.force_login(sw.world.persona(persona))
    url = reverse("appointments:cancel", args=[appointment.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Cancel the visit" in confirm.content.decode()
    response = client.post(url, {"reason": "Feeling better"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("appointments:list")
    assert "is cancelled" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_reason == "Feeling better"
    assert appointment.slot is not None and appointment.slot.status == Slot.Status.OPEN
    event = AuditEvent.objects.get(action="appointment.cancel")
    assert event.actor_role == ("proxy" if persona == "proxy" else "patient")


def test_a_view_only_proxy_cannot_cancel(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=3)
    client.force_login(sw.world.proxy_user)
    url = reverse("appointments:cancel", args=[appointment.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": ""}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_no_online_cancel_inside_the_cutoff(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=30)))
    url = reverse("appointments:cancel", args=[appointment.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(hours=10), tick=False):
        client.force_login(sw.world.alice_user)
        detail = client.get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
        assert "too close to the visit" in detail and url not in detail
        page = client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "24 hours before" in text
        assert 'href="tel:507-555-0101"' in text
        assert "<form" not in text.split("<main")[1].split("</main>")[0]
        refused = client.post(url, {"reason": "late"})
        assert refused.status_code == 409
        assert "too close to the visit to cancel online" in refused.content.decode()
        assert 'href="tel:507-555-0101"' in refused.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert not AuditEvent.objects.filter(action="appointment.cancel").exists()


def test_a_cancelled_visit_cannot_be_cancelled_again(client: Client, sw: SchedulingWorld) -> None:
    appointment = visit(sw, days=5, status=Appointment.Status.CANCELLED)
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:cancel", args=[appointment.pk])
    assert "can no longer be changed" in client.get(url).content.decode()
    assert client.post(url).status_code == 409


def test_a_cancel_reason_that_is_too_long_changes_nothing(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=3)
    client.force_login(sw.world.alice_user)
    response = client.post(reverse("appointments:cancel", args=[appointment.pk]), {"reason": "x" * 5000})
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


# Reschedule -------------------------------------------------------------------------------


def test_rescheduling_to_a_shown_time(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=10)
    new_slot = make_slot(sw, local_moment(sw.world.campus, 12, 14))
    other_clinician = make_staff("erin", "physician").practitioner
    theirs = make_slot(sw, local_moment(sw.world.campus, 11, 10), practitioner=other_clinician)
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:reschedule", args=[appointment.pk])
    page = client.get(url).content.decode()
    assert f'value="{new_slot.pk}"' in page and "2:00 PM" in page
    assert f'value="{theirs.pk}"' not in page
    assert f'value="{theirs.pk}"' in client.get(url, {"clinician": "any"}).content.decode()
    response = client.post(url, {"slot": new_slot.pk})
    moved = Appointment.objects.get(slot=new_slot)
    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:detail", args=[moved.pk])
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert moved.rescheduled_from == appointment
    assert AuditEvent.objects.filter(action="appointment.reschedule", patient=sw.world.alice).exists()


def test_a_time_just_taken_shows_other_times(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=10)
    taken = make_slot(sw, local_moment(sw.world.campus, 12, 9))
    other = make_slot(sw, local_moment(sw.world.campus, 13, 9))
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:reschedule", args=[appointment.pk])
    assert f'value="{taken.pk}"' in client.get(url).content.decode()
    book(sw, taken, patient=sw.world.bob)
    response = client.post(url, {"slot": taken.pk})
    assert response.status_code == 409
    page = response.content.decode()
    assert "That time was just taken" in page
    assert f'value="{other.pk}"' in page and f'value="{taken.pk}"' not in page
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_later_times_are_paged(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=5)
    slots = [make_slot(sw, local_moment(sw.world.campus, 6 + day, 9)) for day in range(SLOTS_PER_PAGE + 2)]
    client.force_login(sw.world.alice_user)
    url = reverse("appointments:reschedule", args=[appointment.pk])
    first = client.get(url).content.decode()
    assert f'value="{slots[0].pk}"' in first and f'value="{slots[-1].pk}"' not in first
    assert "Later times" in first
    later = client.get(
        url, {"after": str(slots[SLOTS_PER_PAGE - 1].pk), "clinician": "same"}
    ).content.decode()
    assert f'value="{slots[-1].pk}"' in later and f'value="{slots[0].pk}"' not in later
    assert client.get(url, {"after": "nonsense", "clinician": "<b>"}).status_code == 200


@pytest.mark.parametrize("value", ["", "abc", "-1", str(2**70), "{other}"])
def test_a_bad_or_foreign_slot_changes_nothing(client: Client, sw: SchedulingWorld, value: str) -> None:
    elsewhere = make_slot(
        sw, local_moment(sw.world.campus, 12, 9), campus=make_campus("phoenix", "America/Phoenix")
    )
    appointment = booked(sw, days=10)
    client.force_login(sw.world.alice_user)
    slot = value.replace("{other}", str(elsewhere.pk))
    response = client.post(reverse("appointments:reschedule", args=[appointment.pk]), {"slot": slot})
    assert response.status_code == 400
    assert "Choose one of the times shown" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_no_online_reschedule_inside_the_cutoff(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=30)))
    new_slot = make_slot(sw, local_moment(sw.world.campus, 12, 9))
    url = reverse("appointments:reschedule", args=[appointment.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(hours=10), tick=False):
        client.force_login(sw.world.alice_user)
        page = client.get(url).content.decode()
        assert "too close to the visit" in page and 'href="tel:507-555-0101"' in page
        assert f'value="{new_slot.pk}"' not in page
        assert client.post(url, {"slot": new_slot.pk}).status_code == 409
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_desk_only_visits_are_changed_by_the_desk(client: Client, sw: SchedulingWorld) -> None:
    desk_only = make_visit_type(sw.department, "procedure", "Minor procedure")
    appointment = visit(sw, days=10, visit_type=desk_only)
    client.force_login(sw.world.alice_user)
    response = client.get(reverse("appointments:reschedule", args=[appointment.pk]))
    assert "arranged by the scheduling desk" in response.content.decode()


def test_a_view_only_proxy_cannot_reschedule(client: Client, sw: SchedulingWorld) -> None:
    appointment = booked(sw, days=10)
    new_slot = make_slot(sw, local_moment(sw.world.campus, 12, 9))
    client.force_login(sw.world.proxy_user)
    url = reverse("appointments:reschedule", args=[appointment.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"slot": new_slot.pk}).status_code == 404
    let_proxy_schedule(sw.world)
    assert client.post(url, {"slot": new_slot.pk}).status_code == 302
    assert Appointment.objects.get(slot=new_slot).booked_by == sw.world.proxy_user


# Notices ----------------------------------------------------------------------------------


def test_running_late_is_sent_and_audited(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=3)))
    client.force_login(sw.world.alice_user)
    detail = reverse("appointments:detail", args=[appointment.pk])
    assert "Running late or cannot come?" in client.get(detail).content.decode()
    response = client.post(
        reverse("appointments:notice", args=[appointment.pk]),
        {"kind": "late", "minutes": "15", "note": "Traffic on 52"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == detail
    notice = PatientNotice.objects.get(appointment=appointment)
    assert (notice.kind, notice.minutes_late, notice.note) == ("late", 15, "Traffic on 52")
    assert notice.created_by == sw.world.alice_user
    page = response.content.decode()
    assert "has your message" in page and "15 minutes" in page and "Traffic on 52" in page
    event = AuditEvent.objects.get(action="appointment.notice")
    assert event.patient_id == sw.world.alice.pk and event.detail["minutes"] == 15


def test_cannot_come_inside_the_cutoff_goes_to_the_desk(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=5)))
    client.force_login(sw.world.alice_user)
    page = client.get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
    assert "cancel or move the visit for you" in page
    response = client.post(reverse("appointments:notice", args=[appointment.pk]), {"kind": "cannot_come"})
    assert response.status_code == 302
    notice = PatientNotice.objects.get(appointment=appointment)
    assert notice.kind == "cannot_come" and notice.minutes_late is None


def test_outside_the_cutoff_cancelling_is_suggested(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=40)))
    client.force_login(sw.world.alice_user)
    page = client.get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
    assert "please cancel the visit instead" in page


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"kind": "late"},
        {"kind": "late", "minutes": "7"},
        {"kind": "gone"},
        {"kind": "late", "minutes": "15", "note": "x" * 501},
    ],
)
def test_a_bad_notice_changes_nothing(client: Client, sw: SchedulingWorld, data: dict[str, str]) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=3)))
    client.force_login(sw.world.alice_user)
    response = client.post(reverse("appointments:notice", args=[appointment.pk]), data)
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()
    assert not PatientNotice.objects.exists()


def test_notices_are_for_visits_coming_up_soon(client: Client, sw: SchedulingWorld) -> None:
    far = booked(sw, days=10)
    client.force_login(sw.world.alice_user)
    assert (
        "Running late or cannot come?"
        not in client.get(reverse("appointments:detail", args=[far.pk])).content.decode()
    )
    response = client.post(reverse("appointments:notice", args=[far.pk]), {"kind": "cannot_come"})
    assert response.status_code == 409
    assert "coming up soon" in response.content.decode()
    assert client.get(reverse("appointments:notice", args=[far.pk])).status_code == 405
    assert not PatientNotice.objects.exists()


def test_a_view_only_proxy_cannot_send_notices(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=3)))
    client.force_login(sw.world.proxy_user)
    page = client.get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
    assert reverse("appointments:notice", args=[appointment.pk]) not in page
    response = client.post(reverse("appointments:notice", args=[appointment.pk]), {"kind": "cannot_come"})
    assert response.status_code == 404
    let_proxy_schedule(sw.world)
    response = client.post(reverse("appointments:notice", args=[appointment.pk]), {"kind": "cannot_come"})
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="appointment.notice").actor_role == "proxy"


# The home page card -----------------------------------------------------------------------


def test_the_home_card_shows_the_next_three_visits(client: Client, sw: SchedulingWorld) -> None:
    visits = [visit(sw, days=day + 2, hour=10) for day in range(4)]
    visit(sw, days=-3, status=Appointment.Status.FULFILLED)
    client.force_login(sw.world.alice_user)
    page = client.get(reverse("home")).content.decode()
    card = page.split("Upcoming appointments")[1]
    for shown in visits[:3]:
        assert reverse("appointments:detail", args=[shown.pk]) in card
    assert reverse("appointments:detail", args=[visits[3].pk]) not in card
    assert "10:00 AM" in card and "(Central time)" in card
    assert reverse("appointments:list") in card


def test_the_home_card_costs_the_same_for_a_long_history(client: Client, sw: SchedulingWorld) -> None:
    visit(sw, days=3)
    client.force_login(sw.world.alice_user)
    client.get(reverse("home"))
    small = query_count(lambda: client.get(reverse("home")))
    for day in range(20):
        visit(sw, days=day + 4)
        visit(sw, days=-day - 1, status=Appointment.Status.FULFILLED)
    assert query_count(lambda: client.get(reverse("home"))) == small


def test_no_card_without_visits_or_without_access(client: Client, sw: SchedulingWorld) -> None:
    client.force_login(sw.world.alice_user)
    assert "Upcoming appointments" not in client.get(reverse("home")).content.decode()
    visit(sw, days=3)
    assert "Upcoming appointments" in client.get(reverse("home")).content.decode()
    sw.world.proxy_grant.scopes = [Scope.MESSAGE]
    sw.world.proxy_grant.save()
    client.force_login(sw.world.proxy_user)
    assert "Upcoming appointments" not in client.get(reverse("home")).content.decode()
