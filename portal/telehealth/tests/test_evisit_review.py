"""The review team's actions on an e-visit: claim, release, reply (with its charge, prescription,
referral and note) and "needs a visit instead"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.ledger import account_for
from portal.billing.models import LedgerEntry, ServiceLine
from portal.messaging.models import Referral, Thread, Topic
from portal.notifications.models import Notification
from portal.organization.models import Department, Practitioner
from portal.patients.access import PatientAccess, pool_access
from portal.patients.models import Patient
from portal.records.access import visible
from portal.records.models import ClinicalNote, Medication
from portal.telehealth import evisit_review
from portal.telehealth.evisit_review import PrescriptionInput, ReferralInput, ReviewRefused
from portal.telehealth.models import EVisit
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.test import World, make_staff

pytestmark = pytest.mark.django_db

Status = EVisit.Status
ANSWERS: list[dict[str, Any]] = [
    {"linkId": "days", "text": "How many days have you had symptoms?", "answer": [{"valueInteger": 3}]},
    {"linkId": "fever", "text": "Do you have a fever?", "answer": [{"valueBoolean": True}]},
    {"linkId": "breathing", "text": "Do you have trouble breathing?", "answer": [{"valueBoolean": False}]},
    {
        "linkId": "notes",
        "text": "Anything else the clinician should know?",
        "answer": [{"valueString": "Sore"}],
    },
]


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def sent_evisit(tw: TelehealthWorld, patient: Patient | None = None, *, price_cents: int = 35_00) -> EVisit:
    """An e-visit as the patient side leaves it: sent, waiting for the review team."""
    patient = patient or tw.world.alice
    now = timezone.now()
    return EVisit.objects.create(
        patient=patient,
        condition=tw.condition,
        status=Status.SUBMITTED,
        answers=ANSWERS,
        price_cents=price_cents,
        started_by=patient.account or tw.world.alice_user,
        submitted_at=now,
    )


def member(tw: TelehealthWorld, username: str, role: str = Practitioner.Role.PHYSICIAN) -> User:
    """Another active member of the condition's review team."""
    return make_staff(username, role, tw.world.care_team)


def reviewer_access(user: User, evisit: EVisit) -> PatientAccess:
    access = pool_access(user, evisit.patient, evisit.condition.review_team)
    assert access is not None
    return access


def cardiology(tw: TelehealthWorld) -> Department:
    department = Department.objects.create(slug="cardiology", name="Cardiology")
    department.campuses.add(tw.world.campus)
    return department


def claim(user: User, evisit: EVisit) -> bool:
    return evisit_review.do_claim_evisit(Actor(user=user), reviewer_access(user, evisit), evisit)


def reply(user: User, evisit: EVisit, **extra: Any) -> bool:
    fields: dict[str, Any] = {"assessment": "A common cold.", "plan": "Rest, fluids; call if worse.", **extra}
    return evisit_review.do_reply_evisit(Actor(user=user), reviewer_access(user, evisit), evisit, **fields)


def fresh(evisit: EVisit) -> EVisit:
    return EVisit.objects.get(pk=evisit.pk)


# Claiming -----------------------------------------------------------------------------------


def test_claiming_takes_it_and_a_second_click_changes_nothing(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    assert claim(carol, evisit) is True
    claimed = fresh(evisit)
    assert claimed.status == Status.IN_REVIEW and claimed.reviewer == carol and claimed.claimed_at
    assert claim(carol, evisit) is False
    assert AuditEvent.objects.filter(action="telehealth.evisit_claim", patient=tw.world.alice).count() == 1


def test_two_reviewers_race_and_the_second_is_refused(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    mia = member(tw, "mia")
    # Both loaded the e-visit while it was waiting; the lock re-reads the row, so the stale copy loses.
    seen_by_carol, seen_by_mia = fresh(evisit), fresh(evisit)
    assert claim(tw.world.clinician, seen_by_carol)
    with pytest.raises(ReviewRefused, match="reviewing this e-visit"):
        claim(mia, seen_by_mia)
    with pytest.raises(ReviewRefused):
        evisit_review.do_release_evisit(Actor(user=mia), reviewer_access(mia, evisit), seen_by_mia)
    with pytest.raises(ReviewRefused):
        reply(mia, seen_by_mia)
    assert fresh(evisit).reviewer == tw.world.clinician
    assert AuditEvent.objects.filter(action="telehealth.evisit_claim").count() == 1


def test_releasing_gives_it_back_to_the_team(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol, mia = tw.world.clinician, member(tw, "mia")
    claim(carol, evisit)
    release = evisit_review.do_release_evisit
    assert release(Actor(user=carol), reviewer_access(carol, evisit), evisit) is True
    released = fresh(evisit)
    assert released.status == Status.SUBMITTED and released.reviewer is None and released.claimed_at is None
    assert release(Actor(user=carol), reviewer_access(carol, evisit), evisit) is False
    assert claim(mia, evisit) is True
    assert AuditEvent.objects.filter(action="telehealth.evisit_release").count() == 1


def test_a_withdrawn_or_answered_evisit_cannot_be_claimed(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    EVisit.objects.filter(pk=evisit.pk).update(status=Status.WITHDRAWN)
    with pytest.raises(ReviewRefused, match="no longer waiting"):
        claim(tw.world.clinician, evisit)


def test_someone_who_left_the_team_cannot_act(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    access = reviewer_access(carol, evisit)
    tw.world.care_team.members.remove(carol.practitioner)
    with pytest.raises(ReviewRefused, match="no longer in"):
        evisit_review.do_claim_evisit(Actor(user=carol), access, evisit)
    assert fresh(evisit).status == Status.SUBMITTED


def test_patient_side_access_is_refused(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    access = patient_access(tw.world.alice_user, tw.world.alice)
    with pytest.raises(ReviewRefused):
        evisit_review.do_claim_evisit(Actor(user=tw.world.alice_user), access, evisit)


# Replying -----------------------------------------------------------------------------------


def test_reply_answers_files_a_note_charges_once_and_tells_the_patient(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    account = account_for(tw.world.alice)
    before = account.balance_cents
    claim(carol, evisit)
    Notification.objects.all().delete()

    assert reply(carol, evisit) is True
    answered = fresh(evisit)
    assert answered.status == Status.COMPLETED and answered.replied_at is not None
    assert answered.assessment == "A common cold." and answered.plan == "Rest, fluids; call if worse."
    line = ServiceLine.objects.get(account=account)
    assert answered.service_line == line and line.form_key == f"evisit-{evisit.pk}"
    assert line.code == "99421" and line.charge_cents == 35_00
    assert LedgerEntry.objects.get(service_line=line).posted_by == carol
    account.refresh_from_db()
    assert account.balance_cents == before + 35_00

    note = ClinicalNote.objects.get(patient=tw.world.alice)
    assert "A common cold." in note.body and "Rest, fluids" in note.body
    assert note.author == carol.practitioner and note.title == "E-visit: Cold and flu symptoms"

    told = Notification.objects.filter(for_staff=False)
    assert set(told.values_list("recipient__username", flat=True)) == {"alice", "pat"}
    for notification in told:
        assert notification.link == f"/e-visits/{evisit.pk}/"
        assert "cold" not in notification.title.lower() and "flu" not in notification.title.lower()
    event = AuditEvent.objects.get(action="telehealth.evisit_reply")
    assert event.patient_id == tw.world.alice.pk and event.actor_role == "staff"
    assert event.detail["service_line"] == line.pk and event.detail["price_cents"] == 35_00


def test_a_retried_reply_charges_nothing_more(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    claim(carol, evisit)
    stale = fresh(evisit)
    assert reply(carol, evisit) is True
    assert reply(carol, stale, assessment="Again", plan="Again") is False
    assert ServiceLine.objects.count() == 1
    assert fresh(evisit).assessment == "A common cold."
    account = account_for(tw.world.alice)
    assert account.balance_cents == 35_00
    assert AuditEvent.objects.filter(action="telehealth.evisit_reply").count() == 1


def test_reply_needs_the_reviewer_to_hold_it(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    with pytest.raises(ReviewRefused, match="Start reviewing"):
        reply(tw.world.clinician, evisit)
    mia = member(tw, "mia")
    claim(mia, evisit)
    reply(mia, evisit)
    with pytest.raises(ReviewRefused, match="no longer waiting"):
        reply(tw.world.clinician, evisit)
    assert ServiceLine.objects.count() == 1


def test_blank_assessment_or_plan_is_refused(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    claim(tw.world.clinician, evisit)
    with pytest.raises(ReviewRefused):
        reply(tw.world.clinician, evisit, assessment="   ")
    assert fresh(evisit).status == Status.IN_REVIEW and not ServiceLine.objects.exists()


def test_prescription_and_referral_reach_the_patient(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol, specialty = tw.world.clinician, cardiology(tw)
    claim(carol, evisit)
    prescription = PrescriptionInput(
        name="Amoxicillin", dose="500 mg", instructions="Three times a day", refills=1
    )
    referral_input = ReferralInput(specialty=specialty, reason="Palpitations during the fever.")
    reply(carol, evisit, prescription=prescription, referral=referral_input)

    answered = fresh(evisit)
    medication = answered.medication
    assert medication is not None
    assert medication.status == Medication.Status.ACTIVE and medication.prescriber == carol.practitioner
    assert (medication.name, medication.dose, medication.refills_remaining) == ("Amoxicillin", "500 mg", 1)
    assert medication.started_on == timezone.now().astimezone(tw.world.campus.zone).date()
    alice_sees = visible(Medication, patient_access(tw.world.alice_user, tw.world.alice))
    assert alice_sees.filter(pk=medication.pk).exists()

    referral = answered.referral
    assert referral is not None
    assert referral.status == Referral.Status.APPROVED and referral.decided_by == carol
    assert referral.valid_until == timezone.localdate() + dt.timedelta(days=180)
    assert referral.thread is not None and referral.thread.pool == tw.world.care_team
    assert referral.thread.topic == Topic.REFERRAL and referral.thread.status == Thread.Status.IN_PROGRESS
    assert AuditEvent.objects.filter(action="referral.approve", object_id=str(referral.pk)).exists()


def test_only_a_prescriber_prescribes_or_refers(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    nurse = member(tw, "nina", Practitioner.Role.NURSE)
    claim(nurse, evisit)
    with pytest.raises(ReviewRefused, match="prescriber"):
        reply(nurse, evisit, prescription=PrescriptionInput(name="Amoxicillin"))
    assert not Medication.objects.exists() and not ServiceLine.objects.exists()
    assert reply(nurse, evisit) is True


def test_a_specialty_no_campus_offers_is_refused_and_nothing_is_kept(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    nowhere = Department.objects.create(slug="nowhere", name="Nowhere")
    claim(tw.world.clinician, evisit)
    with pytest.raises(ReviewRefused, match="specialties"):
        reply(
            tw.world.clinician,
            evisit,
            prescription=PrescriptionInput(name="Amoxicillin"),
            referral=ReferralInput(specialty=nowhere, reason="Why not"),
        )
    assert (
        not Medication.objects.exists() and not Referral.objects.exists() and not ServiceLine.objects.exists()
    )
    assert fresh(evisit).status == Status.IN_REVIEW


def test_a_free_evisit_posts_no_charge(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw, price_cents=0)
    claim(tw.world.clinician, evisit)
    assert reply(tw.world.clinician, evisit) is True
    assert fresh(evisit).service_line is None and not ServiceLine.objects.exists()


# Needs a visit instead ----------------------------------------------------------------------


def test_redirect_tells_the_patient_and_charges_nothing(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    claim(carol, evisit)
    Notification.objects.all().delete()
    redirect = evisit_review.do_redirect_evisit
    message = "Please book an office visit this week."
    assert redirect(Actor(user=carol), reviewer_access(carol, evisit), evisit, message=message) is True
    assert redirect(Actor(user=carol), reviewer_access(carol, evisit), evisit, message=message) is False
    redirected = fresh(evisit)
    assert redirected.status == Status.REDIRECTED and redirected.plan == message and redirected.replied_at
    assert not ServiceLine.objects.exists() and account_for(tw.world.alice).balance_cents == 0
    told = Notification.objects.filter(for_staff=False)
    assert set(told.values_list("recipient__username", flat=True)) == {"alice", "pat"}
    assert AuditEvent.objects.filter(action="telehealth.evisit_redirect").count() == 1
    with pytest.raises(ReviewRefused):
        reply(carol, evisit)
