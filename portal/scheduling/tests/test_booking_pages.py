"""Self-scheduling pages: choose a visit, campus and clinician, see open times, confirm and book."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.organization.models import Campus, CareTeam, Department, Practitioner
from portal.patients.models import Scope
from portal.scheduling.models import Appointment, Slot
from portal.scheduling.tests.support import (
    SchedulingWorld,
    book,
    local_moment,
    make_slot,
    make_visit_type,
    phoenix_campus,
    scheduling_world,
)
from portal.scheduling.views_booking import PER_PAGE
from portal.test import World, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def slots_url(sw: SchedulingWorld, **extra: Any) -> str:
    query = {"visit_type": sw.follow_up.pk, "campus": sw.world.campus.pk, **extra}
    return reverse("booking:slots") + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def confirm_url(slot: Slot, visit_type_id: Any = None) -> str:
    url = reverse("booking:confirm", kwargs={"slot_id": slot.pk})
    return url if visit_type_id is None else f"{url}?visit_type={visit_type_id}"


def second_campus(sw: SchedulingWorld) -> Campus:
    return phoenix_campus()


# Choosing what to book --------------------------------------------------------------------------


def test_the_start_page_offers_only_what_the_patient_may_book(sw: SchedulingWorld) -> None:
    cardiology = Department.objects.create(slug="cardiology", name="Cardiology")
    make_visit_type(
        cardiology, "cardio-follow-up", "Heart follow-up", self_schedulable=True, established_only=True
    )
    make_visit_type(sw.department, "annual", "Annual check", self_schedulable=True, established_only=True)
    make_visit_type(None, "flu-shot", "Flu shot", self_schedulable=True)
    make_visit_type(sw.department, "retired", "Old visit", self_schedulable=True, active=False)
    response = signed_in(sw.world).get(reverse("booking:start"))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("Follow-up visit", "Video follow-up", "Annual check", "Flu shot", "Family Medicine"):
        assert shown in page
    # Desk-only, inactive, and a follow-up of a department that does not care for Alice.
    for hidden in ("New patient consultation", "Old visit", "Heart follow-up"):
        assert hidden not in page


def test_a_follow_up_type_appears_once_the_department_cares_for_the_patient(sw: SchedulingWorld) -> None:
    cardiology = Department.objects.create(slug="cardiology", name="Cardiology")
    make_visit_type(
        cardiology, "cardio-follow-up", "Heart follow-up", self_schedulable=True, established_only=True
    )
    team = CareTeam.objects.create(
        slug="heart", name="Heart team", campus=sw.world.campus, department=cardiology
    )
    relationship = sw.world.alice.care_relationships.create(care_team=team, starts_on=dt.date(2021, 1, 1))
    assert "Heart follow-up" in signed_in(sw.world).get(reverse("booking:start")).content.decode()
    relationship.ends_on = timezone.localdate() - dt.timedelta(days=1)
    relationship.save()
    assert "Heart follow-up" not in signed_in(sw.world).get(reverse("booking:start")).content.decode()


def test_campuses_are_those_of_the_visit_types_department(sw: SchedulingWorld) -> None:
    phoenix = second_campus(sw)
    flu = make_visit_type(None, "flu-shot", "Flu shot", self_schedulable=True)
    client = signed_in(sw.world)
    page = client.get(reverse("booking:start"), {"visit_type": sw.follow_up.pk}).content.decode()
    assert "Rochester, Minnesota" in page
    assert "Phoenix, Arizona" not in page  # Family Medicine is not offered there
    assert "200 First Street SW" in page
    page = client.get(reverse("booking:start"), {"visit_type": flu.pk}).content.decode()
    assert "Rochester, Minnesota" in page and phoenix.name in page  # any campus gives a flu shot


def test_clinicians_are_those_with_sessions_for_the_visit_at_the_campus(sw: SchedulingWorld) -> None:
    make_slot(sw, local_moment(sw.world.campus, 5, 9))
    other = Practitioner.objects.create(
        given_name="Olga", family_name="Other", role=Practitioner.Role.PHYSICIAN
    )
    make_slot(sw, local_moment(sw.world.campus, 5, 9), practitioner=other, visit_types=[sw.consult])
    response = signed_in(sw.world).get(
        reverse("booking:start"), {"visit_type": sw.follow_up.pk, "campus": sw.world.campus.pk}
    )
    page = response.content.decode()
    assert "Any clinician: the soonest time" in page
    assert sw.clinician.display_name in page
    assert "Olga Other" not in page  # her session does not take follow-ups
    assert f'action="{reverse("booking:slots")}"' in page


@pytest.mark.parametrize(
    "query",
    [
        {"visit_type": "987654"},
        {"visit_type": "not-a-number"},
        {"visit_type": str(10**30)},
        {"visit_type": "<script>"},
    ],
)
def test_an_unknown_visit_type_is_a_form_error(sw: SchedulingWorld, query: dict[str, str]) -> None:
    response = signed_in(sw.world).get(reverse("booking:start"), query)
    assert response.status_code == 200
    assert "Choose one of the options shown." in response.content.decode()


def test_a_desk_only_visit_type_or_wrong_campus_is_refused(sw: SchedulingWorld) -> None:
    phoenix = second_campus(sw)
    client = signed_in(sw.world)
    response = client.get(reverse("booking:start"), {"visit_type": sw.consult.pk})
    assert "Choose one of the options shown." in response.content.decode()
    response = client.get(reverse("booking:slots"), {"visit_type": sw.follow_up.pk, "campus": phoenix.pk})
    assert response.status_code == 400
    assert "Choose one of the options shown." in response.content.decode()


@pytest.mark.parametrize(
    "extra",
    [{"clinician": "987654"}, {"clinician": "x"}, {"after": "-4"}, {"after": "abc"}, {"after": str(10**30)}],
)
def test_bad_slot_page_input_is_a_form_error(sw: SchedulingWorld, extra: dict[str, str]) -> None:
    response = signed_in(sw.world).get(slots_url(sw, **extra))
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()


def test_the_slots_page_needs_a_campus(sw: SchedulingWorld) -> None:
    response = signed_in(sw.world).get(reverse("booking:slots"), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 400
    assert "Choose where you would like to be seen." in response.content.decode()


# Open times ---------------------------------------------------------------------------------------


def test_open_times_are_grouped_by_campus_day_and_labelled(sw: SchedulingWorld) -> None:
    first = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    make_slot(sw, local_moment(sw.world.campus, 3, 14))
    make_slot(sw, local_moment(sw.world.campus, 4, 9))
    booked = make_slot(sw, local_moment(sw.world.campus, 4, 11))
    book(sw, booked, patient=sw.world.bob)
    response = signed_in(sw.world).get(slots_url(sw))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<section class="booking-day"') == 2
    assert "9:00 AM CST (Central time)" in page or "9:00 AM CDT (Central time)" in page
    assert "11:00 AM" not in page  # booked by Bob
    assert confirm_url(first, sw.follow_up.pk) in page
    assert "cost" not in page.lower() and "$" not in page


def test_a_chosen_clinician_narrows_the_times(sw: SchedulingWorld) -> None:
    other = Practitioner.objects.create(
        given_name="Olga", family_name="Other", role=Practitioner.Role.PHYSICIAN
    )
    make_slot(sw, local_moment(sw.world.campus, 3, 9))
    make_slot(sw, local_moment(sw.world.campus, 3, 10), practitioner=other)
    page = signed_in(sw.world).get(slots_url(sw, clinician=other.pk)).content.decode()
    assert "Olga Other" in page
    assert "9:00 AM" not in page


def test_later_times_page_on(sw: SchedulingWorld) -> None:
    slots = [make_slot(sw, local_moment(sw.world.campus, 2 + n // 8, 8 + n % 8)) for n in range(PER_PAGE + 3)]
    client = signed_in(sw.world)
    page = client.get(slots_url(sw)).content.decode()
    assert "Later times" in page
    assert confirm_url(slots[PER_PAGE - 1], sw.follow_up.pk) in page
    assert confirm_url(slots[PER_PAGE], sw.follow_up.pk) not in page
    later = client.get(slots_url(sw, after=slots[PER_PAGE - 1].pk)).content.decode()
    assert confirm_url(slots[PER_PAGE], sw.follow_up.pk) in later
    assert confirm_url(slots[0], sw.follow_up.pk) not in later
    assert "Later times" not in later
    assert "Back to the soonest times" in later


def test_no_open_times_points_to_the_request_form(sw: SchedulingWorld) -> None:
    page = signed_in(sw.world).get(slots_url(sw)).content.decode()
    assert "There are no open times online" in page
    assert reverse("appointment_requests:new") in page


def test_the_slots_page_query_count_does_not_grow(sw: SchedulingWorld) -> None:
    client = signed_in(sw.world)
    client.get(reverse("booking:start"))  # the session's first request does its own bookkeeping
    make_slot(sw, local_moment(sw.world.campus, 3, 9))
    few = query_count(lambda: client.get(slots_url(sw)))
    for n in range(30):
        make_slot(sw, local_moment(sw.world.campus, 4 + n // 6, 8 + n % 6))
    many = query_count(lambda: client.get(slots_url(sw)))
    assert few == many


# Confirming and booking -------------------------------------------------------------------------


def test_confirm_shows_the_summary(sw: SchedulingWorld) -> None:
    sw.follow_up.preparation = "Bring your blood pressure diary."
    sw.follow_up.save()
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    response = signed_in(sw.world).get(confirm_url(slot, sw.follow_up.pk))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        "Follow-up visit",
        sw.clinician.display_name,
        "Rochester, Minnesota",
        "200 First Street SW",
    ):
        assert shown in page
    assert "(Central time)" in page
    assert "Bring your blood pressure diary." in page
    assert f'name="visit_type" value="{sw.follow_up.pk}"' in page
    assert not Appointment.objects.exists()  # GET changes nothing


def test_booking_books_and_goes_to_the_appointment(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    response = signed_in(sw.world).post(
        confirm_url(slot), {"visit_type": sw.follow_up.pk, "reason": "Blood pressure check"}
    )
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:detail", kwargs={"appointment_id": appointment.pk})
    assert appointment.patient == sw.world.alice
    assert appointment.reason == "Blood pressure check"
    assert appointment.booked_via == Appointment.Via.SELF
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BOOKED


def test_a_slot_just_taken_is_409_with_other_times_and_books_nothing(sw: SchedulingWorld) -> None:
    other = Practitioner.objects.create(
        given_name="Olga", family_name="Other", role=Practitioner.Role.PHYSICIAN
    )
    wanted = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    elsewhere = make_slot(sw, local_moment(sw.world.campus, 6, 11), practitioner=other)
    same_clinician = make_slot(sw, local_moment(sw.world.campus, 9, 15))
    book(sw, wanted, patient=sw.world.bob)  # between Alice's GET and her POST
    response = signed_in(sw.world).post(confirm_url(wanted), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 409
    page = response.content.decode()
    assert "That time was just taken" in page
    assert page.index(confirm_url(same_clinician, sw.follow_up.pk)) < page.index(
        confirm_url(elsewhere, sw.follow_up.pk)
    )
    assert not Appointment.objects.filter(patient=sw.world.alice).exists()


def test_a_taken_slot_shows_as_taken_on_get(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    book(sw, slot, patient=sw.world.bob)
    response = signed_in(sw.world).get(confirm_url(slot, sw.follow_up.pk))
    assert response.status_code == 409


def test_a_refused_booking_is_400_with_its_reason(sw: SchedulingWorld) -> None:
    soon = make_slot(sw, timezone.now() + dt.timedelta(minutes=30))
    client = signed_in(sw.world)
    response = client.post(confirm_url(soon), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 400
    assert "too soon to book online" in response.content.decode()
    assert client.get(confirm_url(soon, sw.follow_up.pk)).status_code == 400
    assert not Appointment.objects.exists()


def test_a_clash_with_another_appointment_is_refused(sw: SchedulingWorld) -> None:
    first = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    other = Practitioner.objects.create(
        given_name="Olga", family_name="Other", role=Practitioner.Role.PHYSICIAN
    )
    same_time = make_slot(sw, local_moment(sw.world.campus, 6, 10), practitioner=other)
    book(sw, first)
    response = signed_in(sw.world).post(confirm_url(same_time), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 400
    assert "You already have an appointment at that time." in response.content.decode()
    assert Appointment.objects.count() == 1


def test_a_too_long_reason_changes_nothing(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    response = signed_in(sw.world).post(
        confirm_url(slot), {"visit_type": sw.follow_up.pk, "reason": "x" * 501}
    )
    assert response.status_code == 400
    assert "at most 500 characters" in response.content.decode()
    assert not Appointment.objects.exists()


def test_unbookable_slots_are_404(sw: SchedulingWorld) -> None:
    client = signed_in(sw.world)
    blocked = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    Slot.objects.filter(pk=blocked.pk).update(status=Slot.Status.BLOCKED)
    past = make_slot(sw, timezone.now() - dt.timedelta(hours=3))
    closed_campus = second_campus(sw)
    closed_campus.is_active = False
    closed_campus.save()
    at_closed = make_slot(sw, local_moment(sw.world.campus, 6, 12), campus=closed_campus)
    for slot in (blocked, past, at_closed):
        assert client.get(confirm_url(slot, sw.follow_up.pk)).status_code == 404
        assert client.post(confirm_url(slot), {"visit_type": sw.follow_up.pk}).status_code == 404
    assert client.get(f"/appointments/book/slot/{10**30}/?visit_type={sw.follow_up.pk}").status_code == 404
    assert client.get(f"/appointments/book/slot/987654/?visit_type={sw.follow_up.pk}").status_code == 404
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("visit_type", ["", "abc", "987654", str(10**30), "consult", "unlisted"])
def test_a_bad_visit_type_on_confirm_is_404(sw: SchedulingWorld, visit_type: str) -> None:
    unlisted = make_visit_type(sw.department, "unlisted", "Unlisted", self_schedulable=True)
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))  # takes follow-up, consult, video
    ids = {"consult": sw.consult.pk, "unlisted": unlisted.pk}
    value = ids.get(visit_type, visit_type)
    client = signed_in(sw.world)
    assert client.get(confirm_url(slot, value)).status_code == 404
    assert client.post(confirm_url(slot), {"visit_type": value}).status_code == 404
    assert not Appointment.objects.exists()


def test_other_methods_are_refused(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    client = signed_in(sw.world)
    assert client.put(confirm_url(slot, sw.follow_up.pk)).status_code == 405
    assert client.post(reverse("booking:start"), {"visit_type": sw.follow_up.pk}).status_code == 405
    assert client.post(slots_url(sw)).status_code == 405
    assert not Appointment.objects.exists()


# Who may book -----------------------------------------------------------------------------------


def test_a_proxy_with_the_schedule_scope_books_for_the_patient(sw: SchedulingWorld) -> None:
    sw.world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    sw.world.proxy_grant.save()
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    client = signed_in(sw.world, "proxy")
    assert client.get(reverse("booking:start")).status_code == 200
    assert client.get(slots_url(sw)).status_code == 200
    response = client.post(confirm_url(slot), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.patient == sw.world.alice
    assert appointment.booked_by == sw.world.proxy_user


def test_a_proxy_without_the_schedule_scope_is_refused(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    client = signed_in(sw.world, "proxy")
    for url in (reverse("booking:start"), slots_url(sw), confirm_url(slot, sw.follow_up.pk)):
        assert client.get(url).status_code == 403
    assert client.post(confirm_url(slot), {"visit_type": sw.follow_up.pk}).status_code == 403
    assert not Appointment.objects.exists()


def test_another_patient_books_only_for_themself(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    client = signed_in(sw.world, "other_patient")
    response = client.post(confirm_url(slot), {"visit_type": sw.follow_up.pk})
    assert response.status_code == 302
    assert Appointment.objects.get().patient == sw.world.bob


def test_a_follow_up_only_type_is_404_for_a_patient_not_under_care(sw: SchedulingWorld) -> None:
    annual = make_visit_type(
        sw.department, "annual", "Annual check", self_schedulable=True, established_only=True
    )
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10), visit_types=[annual])
    bob = signed_in(sw.world, "other_patient")
    assert bob.get(confirm_url(slot, annual.pk)).status_code == 404
    assert signed_in(sw.world).get(confirm_url(slot, annual.pk)).status_code == 200


def test_unassigned_staff_and_anonymous_cannot_book(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 6, 10))
    staff = signed_in(sw.world, "unassigned_staff")
    anonymous = Client()
    for url in (reverse("booking:start"), slots_url(sw), confirm_url(slot, sw.follow_up.pk)):
        assert staff.get(url)["Location"] == reverse("staff:home")
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    staff.post(confirm_url(slot), {"visit_type": sw.follow_up.pk})
    anonymous.post(confirm_url(slot), {"visit_type": sw.follow_up.pk})
    assert not Appointment.objects.exists()
