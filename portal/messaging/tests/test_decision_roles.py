"""Who in a pool decides refills and referrals: prescribers approve and decline, nurses ask
and carry an approved referral forward, schedulers, billing staff and interpreters decide
nothing; request threads only move to care teams; and a decision racing a move is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.messaging import actions, actions_referrals, actions_refills, staff_actions
from portal.messaging.models import Message, Referral, RefillRequest, StaffNote, Thread, Topic
from portal.messaging.roles import PRESCRIBER_ROLES, is_clinician, prescribes
from portal.messaging.tests.support import MessagingWorld, messaging_world, start_thread
from portal.messaging.tests.test_referrals import make_referral
from portal.messaging.tests.test_refills import medication, request_refill
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import PatientAccess, pool_access
from portal.test import World, make_staff

pytestmark = pytest.mark.django_db

Role = Practitioner.Role
# Everyone below works in Alice's care team's pool: only the role differs.
ROLES = [Role.PHYSICIAN, Role.NURSE_PRACTITIONER, Role.PHYSICIAN_ASSISTANT, Role.NURSE, Role.SCHEDULER,
         Role.BILLING, Role.INTERPRETER, Role.ADMINISTRATOR]  # fmt: skip
CLINICAL = {Role.PHYSICIAN, Role.NURSE_PRACTITIONER, Role.PHYSICIAN_ASSISTANT, Role.NURSE}


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def pool_member(clinic: MessagingWorld, role: str) -> User:
    return make_staff(f"member-{role}".replace("_", "-"), role, clinic.world.care_team)


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def a_refill(clinic: MessagingWorld) -> RefillRequest:
    return request_refill(clinic.world, medication(clinic.world))


def refill_url(name: str, refill: RefillRequest) -> str:
    return reverse(f"staff_refills:{name}", args=[refill.pk])


def referral_url(name: str, referral: Referral) -> str:
    return reverse(f"staff_referrals:{name}", args=[referral.pk])


def staff_access(user: User, thread: Thread | None) -> PatientAccess:
    assert thread is not None
    access = pool_access(user, thread.patient, thread.pool)
    assert access is not None
    return access


def test_the_role_sets() -> None:
    assert {Role.PHYSICIAN, Role.NURSE_PRACTITIONER, Role.PHYSICIAN_ASSISTANT} == PRESCRIBER_ROLES
    assert Role.NURSE not in PRESCRIBER_ROLES


def test_an_inactive_or_missing_practitioner_has_no_role(clinic: MessagingWorld) -> None:
    carol = clinic.world.clinician
    assert prescribes(carol) and is_clinician(carol)
    Practitioner.objects.filter(user=carol).update(active=False)
    carol = User.objects.get(pk=carol.pk)
    assert not prescribes(carol) and not is_clinician(carol)
    assert not prescribes(clinic.world.alice_user) and not is_clinician(clinic.world.alice_user)


# Refills ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_a_prescriber_approves_or_declines_a_refill(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    may = role in PRESCRIBER_ROLES
    for decision, data in (("deny", {"reason": "Come in first."}), ("approve", {"note": ""})):
        refill = a_refill(clinic)
        response = as_user(member).post(refill_url(decision, refill), data)
        refill.refresh_from_db()
        if may:
            assert response.status_code == 302 and refill.decided_by == member
        else:
            assert response.status_code == 400
            assert "A prescriber decides this request." in response.content.decode()
            assert refill.status == RefillRequest.Status.REQUESTED and refill.decided_by is None
            assert not Message.objects.filter(thread__refill_request=refill, from_staff=True).exists()
        RefillRequest.objects.filter(pk=refill.pk).update(status=RefillRequest.Status.DENIED)


@pytest.mark.parametrize("role", ROLES)
def test_any_clinician_may_ask_about_a_refill(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    refill = a_refill(clinic)
    response = as_user(member).post(refill_url("ask", refill), {"question": "Still on 10 mg?"})
    refill.refresh_from_db()
    if role in CLINICAL:
        assert response.status_code == 302 and refill.status == RefillRequest.Status.QUESTION
    else:
        assert response.status_code == 400 and refill.status == RefillRequest.Status.REQUESTED


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.SCHEDULER])
def test_the_refill_panel_offers_each_role_what_it_may_do(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    refill = a_refill(clinic)
    page = as_user(member).get(reverse("inbox:thread", args=[refill.thread_id])).content.decode()
    decides = role == Role.PHYSICIAN
    assert (f'action="{refill_url("approve", refill)}"' in page) is decides
    assert (f'action="{refill_url("deny", refill)}"' in page) is decides
    assert (f'action="{refill_url("ask", refill)}"' in page) is (role in CLINICAL)
    assert ("A prescriber decides this request." in page) is not decides
    detail = as_user(member).get(refill_url("detail", refill)).content.decode()
    assert (f'action="{refill_url("approve", refill)}"' in detail) is decides


# Referrals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_a_prescriber_approves_or_denies_a_referral(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    may = role in PRESCRIBER_ROLES
    for decision, data in (("deny", {"deny-reason": "Not needed"}), ("approve", {"approve-note": ""})):
        referral = make_referral(clinic)
        response = as_user(member).post(referral_url(decision, referral), data)
        referral.refresh_from_db()
        if may:
            assert response.status_code == 302 and referral.decided_by == member
        else:
            assert response.status_code == 409
            assert "A prescriber decides this request." in response.content.decode()
            assert referral.status == Referral.Status.REQUESTED and referral.decided_by is None


@pytest.mark.parametrize("role", ROLES)
def test_any_clinician_carries_an_approved_referral_forward(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    referral = make_referral(clinic)
    actions_referrals.do_approve_referral(
        Actor.system(), staff_access(clinic.world.clinician, referral.thread), referral
    )
    as_user(member).post(referral_url("schedule", referral))
    as_user(member).post(referral_url("complete", referral))
    referral.refresh_from_db()
    if role in CLINICAL:
        assert referral.appointment_request_id is not None and referral.status == Referral.Status.COMPLETED
    else:
        assert referral.appointment_request_id is None and referral.status == Referral.Status.APPROVED


@pytest.mark.parametrize("role", [Role.PHYSICIAN_ASSISTANT, Role.NURSE, Role.BILLING])
def test_the_referral_panel_offers_each_role_what_it_may_do(clinic: MessagingWorld, role: str) -> None:
    member = pool_member(clinic, role)
    referral = make_referral(clinic)
    inbox = reverse("inbox:thread", args=[referral.thread_id])
    page = as_user(member).get(inbox).content.decode()
    decides = role == Role.PHYSICIAN_ASSISTANT
    assert (f'action="{referral_url("approve", referral)}"' in page) is decides
    assert ("A prescriber decides this request." in page) is not decides
    actions_referrals.do_approve_referral(
        Actor.system(), staff_access(clinic.world.clinician, referral.thread), referral
    )
    page = as_user(member).get(inbox).content.decode()
    assert (f'action="{referral_url("complete", referral)}"' in page) is (role in CLINICAL)


# Moving a request's thread ---------------------------------------------------------------------


def test_a_request_thread_moves_only_to_a_care_team(clinic: MessagingWorld) -> None:
    world = clinic.world
    cardiology_team = CareTeam.objects.create(slug="cardio", name="Cardiology team", campus=world.campus)
    refill = a_refill(clinic)
    referral = make_referral(clinic)
    for request_thread in (refill.thread, referral.thread):
        assert request_thread is not None
        thread_id = request_thread.pk
        page = as_user(clinic.nurse).get(reverse("inbox:thread", args=[thread_id])).content.decode()
        assert f'<option value="{cardiology_team.pk}"' in page
        assert f'<option value="{clinic.billing_office.pk}"' not in page
        assert f'<option value="{world.scheduling_desk.pk}"' not in page
        move = reverse("inbox:move", args=[thread_id])
        for pool in (clinic.billing_office, world.scheduling_desk):
            response = as_user(clinic.nurse).post(move, {"pool": pool.pk, "reason": "For the billing office"})
            assert response.status_code == 400
        thread = Thread.objects.get(pk=thread_id)
        assert thread.pool == world.care_team and not StaffNote.objects.filter(thread=thread).exists()
        # The action refuses too, whatever form sent it.
        with pytest.raises(staff_actions.InboxRefused):
            staff_actions.do_move_thread(
                Actor.system(),
                staff_access(clinic.nurse, thread),
                thread,
                clinic.billing_office,
                "Billing asked",
            )
        response = as_user(clinic.nurse).post(
            move, {"pool": cardiology_team.pk, "reason": "Cardiology prescribes"}
        )
        assert response.status_code == 302
        assert Thread.objects.get(pk=thread_id).pool == cardiology_team


def test_an_ordinary_thread_still_moves_anywhere(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, topic=Topic.PRESCRIPTION)
    page = as_user(clinic.nurse).get(reverse("inbox:thread", args=[thread.pk])).content.decode()
    assert f'<option value="{clinic.billing_office.pk}"' in page
    move = reverse("inbox:move", args=[thread.pk])
    assert (
        as_user(clinic.nurse)
        .post(move, {"pool": clinic.billing_office.pk, "reason": "A billing question"})
        .status_code
        == 302
    )
    assert Thread.objects.get(pk=thread.pk).pool == clinic.billing_office


# A decision racing a move ----------------------------------------------------------------------


def moved_away(clinic: MessagingWorld, thread: Thread | None) -> CareTeam:
    """Nina moves the thread to a care team Carol does not work in, after Carol loaded it."""
    assert thread is not None
    elsewhere = CareTeam.objects.create(slug="elsewhere", name="Another team", campus=clinic.world.campus)
    staff_actions.do_move_thread(
        Actor.system(), staff_access(clinic.nurse, thread), thread, elsewhere, "Their prescriber is here"
    )
    return elsewhere


def test_a_refill_decision_racing_a_move_is_refused(clinic: MessagingWorld) -> None:
    refill = a_refill(clinic)
    carol = staff_access(clinic.world.clinician, refill.thread)  # loaded before the move
    moved_away(clinic, refill.thread)
    decisions: list[Any] = [
        lambda: actions_refills.do_approve_refill(Actor.system(), carol, refill),
        lambda: actions_refills.do_deny_refill(Actor.system(), carol, refill, reason="No"),
        lambda: actions_refills.do_ask_about_refill(Actor.system(), carol, refill, question="Why?"),
    ]
    for decide in decisions:
        with pytest.raises(actions_refills.RefillRefused, match="no longer in one of your pools"):
            decide()
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.REQUESTED
    assert not Message.objects.filter(thread__refill_request=refill, from_staff=True).exists()


def test_a_referral_decision_racing_a_move_is_refused(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    carol = staff_access(clinic.world.clinician, referral.thread)
    moved_away(clinic, referral.thread)
    with pytest.raises(actions_referrals.ReferralRefused, match="no longer in one of your pools"):
        actions_referrals.do_approve_referral(Actor.system(), carol, referral)
    with pytest.raises(actions_referrals.ReferralRefused, match="no longer in one of your pools"):
        actions_referrals.do_deny_referral(Actor.system(), carol, referral, "No")
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.REQUESTED


def test_a_staff_reply_racing_a_move_is_refused(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    carol = staff_access(clinic.world.clinician, thread)
    moved_away(clinic, thread)
    with pytest.raises(actions.MessageRefused, match="no longer in one of your pools"):
        actions.do_reply(Actor.system(), carol, thread, actions.Draft(body="Take it in the morning."))
    assert not Message.objects.filter(thread=thread, from_staff=True).exists()
