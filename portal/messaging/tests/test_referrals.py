"""Referrals on the patient side: asking for one, the list and its search, and the detail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.messaging import actions_referrals
from portal.messaging.models import Message, Referral, Thread, Topic
from portal.messaging.tests.support import MessagingWorld, access_for, messaging_world
from portal.notifications.models import Notification
from portal.organization.models import Campus, CareTeam, Department
from portal.patients.models import Scope
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def second_campus(specialties: list[Department]) -> Campus:
    """Jacksonville, offering the given specialties, with its own scheduling desk."""
    campus = Campus.objects.create(
        slug="jacksonville",
        name="Jacksonville, Florida",
        short_name="Jacksonville",
        address_line="4500 San Pablo Road",
        city="Jacksonville",
        region="FL",
        postal_code="32224",
        time_zone="America/New_York",
        zone_label="Eastern time",
        main_phone="904-555-0100",
        appointments_phone="904-555-0101",
    )
    for specialty in specialties:
        specialty.campuses.add(campus)
    CareTeam.objects.create(
        slug="jax-desk",
        name="Jacksonville scheduling desk",
        campus=campus,
        kind=CareTeam.Kind.SCHEDULING_DESK,
    )
    return campus


def make_referral(
    clinic: MessagingWorld,
    *,
    specialty: Department | None = None,
    campus: Campus | None = None,
    reason: str = "Chest pain when I climb stairs",
    created_at: dt.datetime | None = None,
    **fields: Any,
) -> Referral:
    """A referral Alice asks for through the real action, then moved to `fields` (status and so on)."""
    world = clinic.world
    referral = actions_referrals.do_request_referral(
        Actor.system(),
        access_for(world.alice_user, world),
        specialty=specialty or clinic.cardiology,
        reason=reason,
        care_team=world.care_team,
        preferred_campus=campus,
    )
    if created_at is not None:
        fields["created_at"] = created_at
    if fields:
        Referral.objects.filter(pk=referral.pk).update(**fields)
        referral.refresh_from_db()
    return referral


def valid_form(clinic: MessagingWorld, **changes: Any) -> dict[str, Any]:
    form = {
        "specialty": clinic.cardiology.pk,
        "reason": "Chest pain when I climb stairs",
        "preferred_campus": clinic.world.campus.pk,
        "care_team": clinic.world.care_team.pk,
    }
    form.update(changes)
    return form


def detail_url(referral_id: int) -> str:
    return reverse("referrals:detail", kwargs={"referral_id": referral_id})


def list_page(client: Client, **query: Any) -> Any:
    return client.get(reverse("referrals:list"), query)


# Asking --------------------------------------------------------------------------------------------


def test_the_form_offers_specialties_campuses_and_care_teams(clinic: MessagingWorld) -> None:
    Department.objects.create(slug="nowhere", name="Dermatology nowhere")  # offered at no campus
    response = signed_in(clinic.world).get(reverse("referrals:new"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{clinic.cardiology.pk}">Cardiology</option>' in page
    assert "Dermatology nowhere" not in page
    assert "Rochester, Minnesota" in page
    assert f'<option value="{clinic.world.care_team.pk}" selected>' in page


def test_asking_starts_a_conversation_with_the_care_team(clinic: MessagingWorld) -> None:
    world = clinic.world
    response = signed_in(world).post(reverse("referrals:new"), valid_form(clinic))
    referral = Referral.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(referral.pk)
    assert referral.patient == world.alice and referral.requested_by == world.alice_user
    assert referral.specialty == clinic.cardiology and referral.preferred_campus == world.campus
    assert referral.status == Referral.Status.REQUESTED
    thread = referral.thread
    assert thread is not None
    assert thread.topic == Topic.REFERRAL and thread.pool == world.care_team
    assert thread.subject == "Referral request: Cardiology"
    first = Message.objects.get(thread=thread)
    assert "Cardiology" in first.body and "Chest pain when I climb stairs" in first.body
    assert not first.from_staff
    told = set(Notification.objects.filter(for_staff=True).values_list("recipient__username", flat=True))
    assert told == {"carol", "nina"}
    assert AuditEvent.objects.filter(action="referral.request", patient_id=world.alice.pk).exists()


def test_a_proxy_with_the_message_scope_may_ask(clinic: MessagingWorld) -> None:
    response = signed_in(clinic.world, "proxy").post(
        reverse("referrals:new"), valid_form(clinic, preferred_campus="")
    )
    referral = Referral.objects.get()
    assert response.status_code == 302
    assert referral.requested_by == clinic.world.proxy_user and referral.preferred_campus is None
    assert AuditEvent.objects.get(action="referral.request").actor_role == "proxy"


def test_a_proxy_without_the_message_scope_cannot_ask_but_sees_the_list(clinic: MessagingWorld) -> None:
    world = clinic.world
    referral = make_referral(clinic)
    world.proxy_grant.scopes = [Scope.VIEW]
    world.proxy_grant.save()
    client = signed_in(world, "proxy")
    assert client.get(reverse("referrals:new")).status_code == 403
    assert client.post(reverse("referrals:new"), valid_form(clinic)).status_code == 403
    assert Referral.objects.count() == 1
    page = list_page(client).content.decode()
    assert "Cardiology" in page and "Request a referral" not in page
    detail = client.get(detail_url(referral.pk)).content.decode()
    assert "Chest pain when I climb stairs" in detail
    assert "Messages about this referral" not in detail  # the conversation is the message scope's


def test_a_proxy_with_neither_view_nor_message_sees_no_referrals(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    clinic.world.proxy_grant.scopes = [Scope.BILLING]
    clinic.world.proxy_grant.save()
    client = signed_in(clinic.world, "proxy")
    assert list_page(client).status_code == 403
    assert client.get(detail_url(referral.pk)).status_code == 404


def invalid_inputs(clinic: MessagingWorld) -> list[tuple[dict[str, Any], str]]:
    phoenix = second_campus([])
    elsewhere = CareTeam.objects.create(slug="elsewhere", name="Someone else's team", campus=phoenix)
    return [
        ({"reason": ""}, "Tell your care team why you would like the referral."),
        ({"reason": "   "}, "Tell your care team why you would like the referral."),
        ({"reason": "x" * 2001}, "at most 2000 characters"),
        ({"specialty": ""}, "Choose one of the options."),
        ({"specialty": MISSING}, "Choose one of the options shown."),
        ({"specialty": "cardiology"}, "Choose one of the options shown."),
        ({"specialty": str(10**30)}, "Choose one of the options shown."),
        ({"preferred_campus": MISSING}, "Choose one of the options shown."),
        ({"preferred_campus": phoenix.pk}, "Choose one of the options shown."),  # offers nothing
        ({"care_team": elsewhere.pk}, "Choose one of the options shown."),
        ({"care_team": ""}, "Choose one of the options."),
    ]


def test_invalid_requests_are_explained_and_change_nothing(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world)
    for changes, message in invalid_inputs(clinic):
        response = client.post(reverse("referrals:new"), valid_form(clinic, **changes))
        assert response.status_code == 400, changes
        assert message in response.content.decode(), changes
    assert not Referral.objects.exists() and not Thread.objects.exists()
    assert not AuditEvent.objects.filter(action="referral.request").exists()


def test_a_campus_without_the_specialty_is_refused_with_the_ones_that_have_it(clinic: MessagingWorld) -> None:
    dermatology = Department.objects.create(slug="dermatology", name="Dermatology")
    second_campus([dermatology])
    response = signed_in(clinic.world).post(
        reverse("referrals:new"), valid_form(clinic, specialty=dermatology.pk)
    )
    assert response.status_code == 400
    assert (
        "Rochester, Minnesota does not offer Dermatology. Campuses that do: Jacksonville, Florida."
        in response.content.decode()
    )
    assert not Referral.objects.exists()


def test_a_patient_without_a_care_team_is_told_to_call(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world, "other_patient")
    page = client.get(reverse("referrals:new")).content.decode()
    assert "You have no care team to send a referral request to" in page
    response = client.post(reverse("referrals:new"), valid_form(clinic))
    assert response.status_code == 400
    assert not Referral.objects.exists()


def test_the_action_refuses_staff_and_a_proxy_without_the_message_scope(clinic: MessagingWorld) -> None:
    world = clinic.world
    world.proxy_grant.scopes = [Scope.VIEW]
    world.proxy_grant.save()
    for user in (world.proxy_user, world.clinician):
        with pytest.raises(actions_referrals.ReferralRefused):
            actions_referrals.do_request_referral(
                Actor.system(),
                access_for(user, world),
                specialty=clinic.cardiology,
                reason="Please",
                care_team=world.care_team,
            )
    assert not Referral.objects.exists() and not Thread.objects.exists()


# The list and its search ------------------------------------------------------------------------


def test_the_list_shows_each_referral_with_its_status(clinic: MessagingWorld) -> None:
    make_referral(
        clinic,
        status=Referral.Status.APPROVED,
        valid_until=dt.date(2031, 3, 4),
        decision_note="See Dr Heart first",
    )
    bobs = make_referral(clinic, reason="Bob's own")
    Referral.objects.filter(pk=bobs.pk).update(patient=clinic.world.bob)
    response = list_page(signed_in(clinic.world))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="item-title"') == 1
    assert "Approved" in page and "Approved by your care team." in page
    assert "March 4, 2031" in page and "See Dr Heart first" in page
    assert "Request a referral" in page
    assert AuditEvent.objects.filter(action="referral.list_view", patient_id=clinic.world.alice.pk).exists()


def test_search_by_status_specialty_and_dates(clinic: MessagingWorld) -> None:
    dermatology = Department.objects.create(slug="dermatology", name="Dermatology")
    dermatology.campuses.add(clinic.world.campus)
    zone = timezone.get_current_timezone()
    march = make_referral(clinic, reason="march", created_at=dt.datetime(2025, 3, 10, 12, tzinfo=zone))
    june = make_referral(
        clinic,
        specialty=dermatology,
        reason="june",
        status=Referral.Status.DENIED,
        created_at=dt.datetime(2025, 6, 1, 0, 30, tzinfo=zone),
    )
    august = make_referral(
        clinic,
        reason="august",
        status=Referral.Status.COMPLETED,
        created_at=dt.datetime(2025, 8, 31, 23, 30, tzinfo=zone),
    )
    client = signed_in(clinic.world)

    def found(**query: Any) -> set[int]:
        response = list_page(client, **query)
        assert response.status_code == 200
        return {
            pk
            for pk in (march.pk, june.pk, august.pk)
            if f'href="{detail_url(pk)}"' in response.content.decode()
        }

    assert found() == {march.pk, june.pk, august.pk}
    assert found(status="denied") == {june.pk}
    assert found(status="requested") == {march.pk}
    assert found(specialty=dermatology.pk) == {june.pk}
    assert found(specialty=clinic.cardiology.pk) == {march.pk, august.pk}
    assert found(requested_from="2025-06-01") == {june.pk, august.pk}
    assert found(requested_to="2025-06-01") == {march.pk, june.pk}
    assert found(requested_from="2025-06-02", requested_to="2025-08-31") == {august.pk}
    assert found(status="completed", specialty=dermatology.pk) == set()
    assert "No referrals match." in list_page(client, status="scheduled").content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "lost"}, "Choose one of the options shown."),
        ({"specialty": "cardiology"}, "Choose one of the options shown."),
        ({"specialty": str(10**30)}, "Choose one of the options shown."),
        ({"requested_from": "2025-13-45"}, "Enter a real date"),
        ({"requested_to": "yesterday"}, "Enter a real date"),
        ({"requested_from": "0001-01-01"}, "Enter a date between 1900 and 2999."),
        ({"requested_to": "9999-12-31"}, "Enter a date between 1900 and 2999."),
        ({"requested_from": "2025-06-02", "requested_to": "2025-06-01"}, "The end date must be on or after"),
        ({"after": "<script>"}, ""),
        ({"after": str(10**30)}, ""),
    ],
)
def test_bad_search_input_is_explained_not_a_crash(
    clinic: MessagingWorld, query: dict[str, str], message: str
) -> None:
    make_referral(clinic)
    response = list_page(signed_in(clinic.world), **query)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_the_list_is_paged_newest_first(clinic: MessagingWorld) -> None:
    referrals = [make_referral(clinic, reason=f"number {n}") for n in range(27)]
    client = signed_in(clinic.world)
    first = list_page(client, status="requested").content.decode()
    assert first.count('class="item-title"') == 25
    assert f'href="{detail_url(referrals[-1].pk)}"' in first
    assert f'href="{detail_url(referrals[1].pk)}"' not in first
    cursor = str(referrals[2].pk)
    assert f"?status=requested&amp;after={cursor}" in first  # the search travels with the pages
    second = list_page(client, status="requested", after=cursor).content.decode()
    assert second.count('class="item-title"') == 2
    assert "Back to the newest" in second


def test_the_list_query_count_does_not_grow(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world)
    list_page(client)  # the session's first request does its own bookkeeping
    for _ in range(5):
        make_referral(clinic, status=Referral.Status.APPROVED, valid_until=dt.date(2031, 1, 1))
    few = query_count(lambda: list_page(client, status="approved"))
    for _ in range(45):
        make_referral(clinic, status=Referral.Status.APPROVED, valid_until=dt.date(2031, 1, 1))
    many = query_count(lambda: list_page(client, status="approved"))
    assert few == many


# The detail -------------------------------------------------------------------------------------------


def test_the_detail_shows_the_conversation_for_the_message_scope(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    for persona in ("patient", "proxy"):
        response = signed_in(clinic.world, persona).get(detail_url(referral.pk))
        page = response.content.decode()
        assert response.status_code == 200
        assert "Referral to Cardiology" in page and "Waiting for your care team to decide." in page
        assert "Messages about this referral" in page
        assert "I would like a referral to Cardiology." in page
    assert AuditEvent.objects.filter(action="referral.view", patient_id=clinic.world.alice.pk).count() == 2


def test_another_patients_referral_is_the_same_as_a_missing_one(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    for persona in ("other_patient", "clinician", "unassigned_staff", "admin"):
        client = signed_in(clinic.world, persona)
        assert_same_as_missing(client.get(detail_url(referral.pk)), client.get(detail_url(MISSING)))
    refused = AuditEvent.objects.filter(action="access.refused", patient_id=clinic.world.alice.pk)
    assert refused.exists()


def test_staff_are_sent_to_their_workspace_and_anonymous_to_sign_in(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    for persona in ("unassigned_staff", "admin", "clinician"):
        client = signed_in(clinic.world, persona)
        for url in (reverse("referrals:list"), reverse("referrals:new")):
            assert client.get(url)["Location"] == reverse("staff:home")
    anonymous = Client()
    for url in (reverse("referrals:list"), reverse("referrals:new"), detail_url(referral.pk)):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert anonymous.post(reverse("referrals:new"), valid_form(clinic)).status_code == 302
    assert Referral.objects.count() == 1


def test_other_patients_do_not_see_alices_referrals(clinic: MessagingWorld) -> None:
    make_referral(clinic)
    page = list_page(signed_in(clinic.world, "other_patient")).content.decode()
    assert 'class="item-title"' not in page
    assert "You have not asked for a referral yet." in page


def test_the_appointments_page_links_to_referrals(clinic: MessagingWorld) -> None:
    page = signed_in(clinic.world).get(reverse("appointments:list")).content.decode()
    assert f'href="{reverse("referrals:list")}"' in page
