"""Appointment requests on the patient side: submit, follow, withdraw, and accept a desk's offer."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.organization.models import Campus, Department, Practitioner
from portal.patients.models import Patient, Scope
from portal.scheduling.models import Appointment, AppointmentRequest, SlotOffer
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def valid_form(sw: SchedulingWorld, **changes: Any) -> dict[str, Any]:
    today = timezone.localdate()
    form = {
        "campus": sw.world.campus.pk,
        "department": sw.department.pk,
        "practitioner": sw.clinician.pk,
        "mode": "either",
        "reason": "Knee pain when climbing stairs",
        "earliest_date": (today + dt.timedelta(days=7)).isoformat(),
        "latest_date": (today + dt.timedelta(days=40)).isoformat(),
        "time_of_day": "morning",
        "availability_notes": "Not on Mondays",
        "referred_by": "Dr Jones, Winona Clinic",
        "referral_details": "Referral 12345",
    }
    form.update(changes)
    return form


def make_request(sw: SchedulingWorld, patient: Patient | None = None, **fields: Any) -> AppointmentRequest:
    return AppointmentRequest.objects.create(
        patient=patient or sw.world.alice,
        campus=sw.world.campus,
        department=sw.department,
        reason=fields.pop("reason", "Knee pain"),
        **fields,
    )


def make_offer(
    sw: SchedulingWorld, appointment_request: AppointmentRequest, days: int = 8, **fields: Any
) -> SlotOffer:
    slot = fields.pop("slot", None) or make_slot(sw, local_moment(sw.world.campus, days, 9))
    appointment_request.status = AppointmentRequest.Status.OFFERED
    appointment_request.save(update_fields=["status"])
    return SlotOffer.objects.create(
        patient=appointment_request.patient,
        slot=slot,
        visit_type=sw.consult,
        kind=SlotOffer.Kind.REQUEST,
        request=appointment_request,
        expires_at=fields.pop("expires_at", timezone.now() + dt.timedelta(days=3)),
        **fields,
    )


def detail_url(request_id: int) -> str:
    return reverse("appointment_requests:detail", kwargs={"request_id": request_id})


def accept_url(offer_id: int) -> str:
    return reverse("appointment_requests:accept", kwargs={"offer_id": offer_id})


def withdraw_url(request_id: int) -> str:
    return reverse("appointment_requests:withdraw", kwargs={"request_id": request_id})


# Submitting ----------------------------------------------------------------------------------------


def test_the_form_guides_the_choice_of_campus(sw: SchedulingWorld) -> None:
    response = signed_in(sw.world).get(reverse("appointment_requests:new"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose the campus with the specialty you need, not the nearest one" in page
    assert "200 First Street SW" in page and "507-555-0101" in page
    assert "Family Medicine" in page


def test_the_form_takes_campus_and_specialty_from_the_link(sw: SchedulingWorld) -> None:
    url = reverse("appointment_requests:new")
    client = signed_in(sw.world)
    page = client.get(url, {"campus": sw.world.campus.pk, "department": sw.department.pk}).content.decode()
    assert re.search(rf'name="campus" value="{sw.world.campus.pk}"[^>]*checked', page)
    assert re.search(rf'<option value="{sw.department.pk}" selected>', page)
    page = client.get(url, {"campus": "x", "department": "<b>"}).content.decode()
    assert not re.search(r'name="campus"[^>]*checked', page)


def test_submitting_sends_the_request_to_the_campus_desk(sw: SchedulingWorld) -> None:
    response = signed_in(sw.world).post(reverse("appointment_requests:new"), valid_form(sw))
    appointment_request = AppointmentRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(appointment_request.pk)
    assert appointment_request.patient == sw.world.alice
    assert appointment_request.campus == sw.world.campus
    assert appointment_request.department == sw.department
    assert appointment_request.practitioner == sw.clinician
    assert appointment_request.mode == ""
    assert appointment_request.time_of_day == "morning"
    assert appointment_request.referred_by == "Dr Jones, Winona Clinic"
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED
    assert appointment_request.created_by == sw.world.alice_user
    event = AuditEvent.objects.get(action="appointment_request.submit")
    assert event.patient_id == sw.world.alice.pk


def test_only_the_reason_and_campus_are_needed(sw: SchedulingWorld) -> None:
    data = {"campus": sw.world.campus.pk, "mode": "video", "time_of_day": "any", "reason": "Rash"}
    response = signed_in(sw.world).post(reverse("appointment_requests:new"), data)
    assert response.status_code == 302
    appointment_request = AppointmentRequest.objects.get()
    assert appointment_request.department is None and appointment_request.mode == "video"


def invalid_inputs(sw: SchedulingWorld) -> list[tuple[dict[str, Any], str]]:
    cardiology = Department.objects.create(slug="cardiology", name="Cardiology")
    phoenix = Campus.objects.create(
        slug="phoenix", name="Phoenix", short_name="Phoenix", address_line="1 Road", city="Phoenix",
        postal_code="85054", time_zone="America/Phoenix", zone_label="Arizona time",
        main_phone="1", appointments_phone="2",
    )  # fmt: skip
    cardiology.campuses.add(phoenix)
    stranger = Practitioner.objects.create(
        given_name="Pia", family_name="Far", role=Practitioner.Role.PHYSICIAN
    )
    stranger.campuses.add(phoenix)
    today = timezone.localdate()
    return [
        ({"reason": ""}, "Tell the scheduling desk what the visit is for."),
        ({"reason": "x" * 2001}, "at most 2000 characters"),
        ({"campus": ""}, "Choose one of the options."),
        ({"campus": MISSING}, "Choose one of the options shown."),
        ({"campus": "rochester"}, "Choose one of the options shown."),
        ({"department": cardiology.pk}, "This campus does not offer that specialty"),
        ({"department": str(10**30)}, "Choose one of the options shown."),
        ({"practitioner": stranger.pk}, "This clinician does not see patients at that campus."),
        ({"mode": "telepathy"}, "Choose one of the options shown."),
        ({"time_of_day": "midnight"}, "Choose one of the options shown."),
        ({"earliest_date": (today - dt.timedelta(days=1)).isoformat()}, "Choose today or a later date."),
        ({"latest_date": (today + dt.timedelta(days=400)).isoformat()}, "within the next 12 months"),
        ({"earliest_date": "2027-02-30"}, "Enter a real date"),
        ({"earliest_date": "99999-01-01"}, "Enter a real date"),
        (
            {"earliest_date": (today + dt.timedelta(days=20)).isoformat(), "latest_date": today.isoformat()},
            "The latest date must be on or after the earliest date.",
        ),
        ({"availability_notes": "x" * 501}, "at most 500 characters"),
        ({"referred_by": "x" * 201}, "at most 200 characters"),
        ({"referral_details": "x" * 2001}, "at most 2000 characters"),
    ]


def test_invalid_requests_are_explained_and_change_nothing(sw: SchedulingWorld) -> None:
    client = signed_in(sw.world)
    for changes, message in invalid_inputs(sw):
        response = client.post(reverse("appointment_requests:new"), valid_form(sw, **changes))
        assert response.status_code == 400, changes
        assert message in response.content.decode(), changes
    assert not AppointmentRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="appointment_request.submit").exists()


def test_too_many_open_requests_are_refused(sw: SchedulingWorld) -> None:
    for _ in range(10):
        make_request(sw)
    response = signed_in(sw.world).post(reverse("appointment_requests:new"), valid_form(sw))
    assert response.status_code == 400
    assert "You already have 10 requests waiting" in response.content.decode()
    assert AppointmentRequest.objects.count() == 10


# Following a request -------------------------------------------------------------------------------


def test_the_list_shows_requests_in_words(sw: SchedulingWorld) -> None:
    make_request(sw, status=AppointmentRequest.Status.OFFERED)
    make_request(sw, patient=sw.world.bob, reason="Bob's own")
    response = signed_in(sw.world).get(reverse("appointment_requests:list"))
    page = response.content.decode()
    assert "Times offered: choose one" in page
    assert page.count('class="item-title"') == 1
    assert AuditEvent.objects.filter(
        action="appointment_request.list_view", patient_id=sw.world.alice.pk
    ).exists()


def test_the_list_query_count_does_not_grow(sw: SchedulingWorld) -> None:
    client = signed_in(sw.world)
    client.get(reverse("appointment_requests:new"))  # the session's first request does its own bookkeeping
    make_request(sw)
    few = query_count(lambda: client.get(reverse("appointment_requests:list")))
    for _ in range(15):
        make_request(sw, practitioner=sw.clinician)
    many = query_count(lambda: client.get(reverse("appointment_requests:list")))
    assert few == many


def test_the_detail_shows_the_reply_and_open_offers(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw, desk_reply="We have two mornings for you.")
    open_offer = make_offer(sw, appointment_request)
    expired = make_offer(sw, appointment_request, days=9, expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = signed_in(sw.world).get(detail_url(appointment_request.pk))
    page = response.content.decode()
    assert "Times offered: choose one" in page
    assert "We have two mornings for you." in page
    assert f'action="{accept_url(open_offer.pk)}"' in page
    assert f'action="{accept_url(expired.pk)}"' not in page
    assert "Expired" in page
    assert "(Central time)" in page
    assert AuditEvent.objects.filter(action="appointment_request.view", patient_id=sw.world.alice.pk).exists()


def test_the_detail_query_count_does_not_grow_with_offers(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    client = signed_in(sw.world)
    client.get(reverse("appointment_requests:new"))  # the session's first request does its own bookkeeping
    make_offer(sw, appointment_request)
    few = query_count(lambda: client.get(detail_url(appointment_request.pk)))
    for days in range(10, 16):
        make_offer(sw, appointment_request, days=days)
    many = query_count(lambda: client.get(detail_url(appointment_request.pk)))
    assert few == many


# Accepting an offer -------------------------------------------------------------------------------


def test_accepting_an_offer_books_it(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    other = make_offer(sw, appointment_request, days=9)
    response = signed_in(sw.world).post(accept_url(offer.pk))
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:detail", kwargs={"appointment_id": appointment.pk})
    assert appointment.booked_via == Appointment.Via.REQUEST
    assert appointment.visit_type == sw.consult  # desk-only, booked with the desk's offer
    appointment_request.refresh_from_db()
    offer.refresh_from_db()
    other.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.BOOKED
    assert appointment_request.appointment == appointment
    assert offer.status == SlotOffer.Status.ACCEPTED
    assert other.status == SlotOffer.Status.WITHDRAWN
    assert AuditEvent.objects.filter(action="appointment.book", patient_id=sw.world.alice.pk).exists()


def test_an_offer_taken_meanwhile_is_409_and_books_nothing(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    remaining = make_offer(sw, appointment_request, days=9)
    book(sw, offer.slot, patient=sw.world.bob)
    response = signed_in(sw.world).post(accept_url(offer.pk))
    assert response.status_code == 409
    page = response.content.decode()
    assert "That time was just taken" in page
    assert f'action="{accept_url(remaining.pk)}"' in page
    assert f'action="{accept_url(offer.pk)}"' not in page
    assert not Appointment.objects.filter(patient=sw.world.alice).exists()
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.OFFERED


def test_an_expired_offer_cannot_be_accepted(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    expired = make_offer(sw, appointment_request, expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = signed_in(sw.world).post(accept_url(expired.pk))
    assert response.status_code == 400
    assert "no longer offered" in response.content.decode()
    assert not Appointment.objects.exists()


def test_an_offer_of_a_withdrawn_request_cannot_be_accepted(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    AppointmentRequest.objects.filter(pk=appointment_request.pk).update(
        status=AppointmentRequest.Status.WITHDRAWN
    )
    assert signed_in(sw.world).post(accept_url(offer.pk)).status_code == 400
    assert not Appointment.objects.exists()


def test_a_waitlist_offer_is_not_accepted_here(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    SlotOffer.objects.filter(pk=offer.pk).update(kind=SlotOffer.Kind.WAITLIST)
    client = signed_in(sw.world)
    assert_same_as_missing(client.post(accept_url(offer.pk)), client.post(accept_url(MISSING)))
    assert not Appointment.objects.exists()


def test_accepting_needs_a_post(sw: SchedulingWorld) -> None:
    offer = make_offer(sw, make_request(sw))
    assert signed_in(sw.world).get(accept_url(offer.pk)).status_code == 405
    assert not Appointment.objects.exists()


# Withdrawing ---------------------------------------------------------------------------------------


def test_withdrawing_an_open_request(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    client = signed_in(sw.world)
    response = client.post(withdraw_url(appointment_request.pk))
    assert response.status_code == 302
    appointment_request.refresh_from_db()
    offer.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.WITHDRAWN
    assert offer.status == SlotOffer.Status.WITHDRAWN
    assert AuditEvent.objects.filter(action="appointment_request.withdraw").count() == 1
    assert client.post(withdraw_url(appointment_request.pk)).status_code == 400
    assert client.get(withdraw_url(appointment_request.pk)).status_code == 405
    assert AuditEvent.objects.filter(action="appointment_request.withdraw").count() == 1


# Who may do what ----------------------------------------------------------------------------------


def test_a_proxy_with_the_schedule_scope_acts_for_the_patient(sw: SchedulingWorld) -> None:
    sw.world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    sw.world.proxy_grant.save()
    client = signed_in(sw.world, "proxy")
    assert client.post(reverse("appointment_requests:new"), valid_form(sw)).status_code == 302
    appointment_request = AppointmentRequest.objects.get()
    assert appointment_request.patient == sw.world.alice
    assert appointment_request.created_by == sw.world.proxy_user
    assert client.get(reverse("appointment_requests:list")).status_code == 200
    assert client.get(detail_url(appointment_request.pk)).status_code == 200
    offer = make_offer(sw, appointment_request)
    assert client.post(accept_url(offer.pk)).status_code == 302
    assert Appointment.objects.get().booked_by == sw.world.proxy_user


def test_a_proxy_without_the_schedule_scope_is_refused(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    client = signed_in(sw.world, "proxy")
    for url in (
        reverse("appointment_requests:new"),
        reverse("appointment_requests:list"),
        detail_url(appointment_request.pk),
    ):
        assert client.get(url).status_code == 403
    assert client.post(reverse("appointment_requests:new"), valid_form(sw)).status_code == 403
    assert client.post(accept_url(offer.pk)).status_code == 403
    assert client.post(withdraw_url(appointment_request.pk)).status_code == 403
    assert AppointmentRequest.objects.get().status == AppointmentRequest.Status.OFFERED
    assert not Appointment.objects.exists()


def test_another_patient_gets_the_missing_page(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    bob = signed_in(sw.world, "other_patient")
    assert_same_as_missing(bob.get(detail_url(appointment_request.pk)), bob.get(detail_url(MISSING)))
    assert_same_as_missing(bob.post(accept_url(offer.pk)), bob.post(accept_url(MISSING)))
    assert_same_as_missing(bob.post(withdraw_url(appointment_request.pk)), bob.post(withdraw_url(MISSING)))
    assert bob.get(f"/appointments/requests/{'9' * 30}/").status_code == 404
    assert AppointmentRequest.objects.get().status == AppointmentRequest.Status.OFFERED
    assert not Appointment.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", actor_id=sw.world.bob_user.pk).count() >= 3


def test_unassigned_staff_and_anonymous_are_kept_out(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    offer = make_offer(sw, appointment_request)
    staff = signed_in(sw.world, "unassigned_staff")
    anonymous = Client()
    for url in (
        reverse("appointment_requests:new"),
        reverse("appointment_requests:list"),
        detail_url(appointment_request.pk),
    ):
        assert staff.get(url)["Location"] == reverse("staff:home")
        assert "/accounts/login/" in anonymous.get(url)["Location"]
    for url in (accept_url(offer.pk), withdraw_url(appointment_request.pk)):
        assert staff.post(url).status_code == 302
        assert anonymous.post(url).status_code == 302
    assert staff.post(reverse("appointment_requests:new"), valid_form(sw)).status_code == 302
    assert AppointmentRequest.objects.count() == 1
    assert AppointmentRequest.objects.get().status == AppointmentRequest.Status.OFFERED
    assert not Appointment.objects.exists()
