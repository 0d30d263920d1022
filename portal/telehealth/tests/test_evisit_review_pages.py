"""The review team's pages: /staff/e-visits/ (queue, review, claim, reply, redirect, photos)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.billing.ledger import account_for
from portal.billing.models import ServiceLine
from portal.messaging.models import Referral
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.models import ProxyGrant, Scope
from portal.records.models import Allergy, Medication
from portal.telehealth.models import EVisit, EVisitPhoto
from portal.telehealth.tests.support import TelehealthWorld, telehealth_world
from portal.telehealth.tests.test_evisit_review import cardiology, member, sent_evisit
from portal.test import World, assert_same_as_missing, make_patient, query_count

pytestmark = pytest.mark.django_db

Status = EVisit.Status
MISSING = 987654321
GET_PAGES = ("review", "photo")
POSTS = ("claim", "reply", "redirect")


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def as_user(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, evisit: EVisit | int, photo: EVisitPhoto | int | None = None) -> str:
    pk = evisit if isinstance(evisit, int) else evisit.pk
    if name == "photo":
        photo_pk = photo if isinstance(photo, int) else (photo.pk if photo is not None else MISSING)
        return reverse("staff_evisits:photo", args=[pk, photo_pk])
    return reverse(f"staff_evisits:{name}", args=[pk])


def with_photo(evisit: EVisit, user: User) -> EVisitPhoto:
    photo = EVisitPhoto(evisit=evisit, name="rash.png", content_type="image/png", size=8, uploaded_by=user)
    photo.file.save("photo.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    photo.save()
    return photo


def claimed(tw: TelehealthWorld, evisit: EVisit | None = None) -> EVisit:
    evisit = evisit or sent_evisit(tw)
    response = as_user(tw.world.clinician).post(url("claim", evisit), {"action": "claim"})
    assert response.status_code == 302
    return evisit


REPLY = {"reply-assessment": "A common cold.", "reply-plan": "Rest and fluids."}


def fresh(evisit: EVisit) -> EVisit:
    return EVisit.objects.get(pk=evisit.pk)


# Who may see what ---------------------------------------------------------------------------


def test_the_reviewer_reads_the_queue_and_the_evisit(tw: TelehealthWorld, media: Path) -> None:
    evisit = sent_evisit(tw)
    photo = with_photo(evisit, tw.world.alice_user)
    Medication.objects.create(patient=tw.world.alice, name="Lisinopril", dose="10 mg")
    Allergy.objects.create(patient=tw.world.alice, substance="Penicillin", recorded_on="2020-01-01")
    client = as_user(tw.world.clinician)

    page = client.get(reverse("staff_evisits:queue"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Alice Able" in body and "Cold and flu symptoms" in body and "Waiting for a reviewer" in body
    assert reverse("staff_evisits:queue") in body  # the navigation line

    page = client.get(url("review", evisit))
    body = page.content.decode()
    assert page.status_code == 200
    assert "How many days have you had symptoms?" in body and "Sore" in body
    assert "Lisinopril" in body and "Penicillin" in body
    assert url("photo", evisit, photo) in body and "Start reviewing" in body
    for action in ("telehealth.evisit_view", "records.medications_view", "records.allergies_view"):
        event = AuditEvent.objects.get(action=action)
        assert event.patient_id == tw.world.alice.pk and event.actor_role == "staff"

    download = client.get(url("photo", evisit, photo))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"\x89PNG\r\n\x1a\n"  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="telehealth.evisit_photo_view", patient=tw.world.alice).exists()


@pytest.mark.parametrize("who", ["nora", "dave", "root", "alice", "pat", "bob"])
def test_everyone_else_gets_the_404_of_a_missing_evisit(tw: TelehealthWorld, media: Path, who: str) -> None:
    evisit = sent_evisit(tw)
    photo = with_photo(evisit, tw.world.alice_user)
    client = as_user(User.objects.get(username=who))
    assert client.get(reverse("staff_evisits:queue")).status_code == 404
    for name in GET_PAGES:
        response = client.get(url(name, evisit, photo))
        assert_same_as_missing(response, client.get(url(name, MISSING, photo)))
    for name in POSTS:
        data = {"action": "claim", **REPLY, "redirect-message": "Come in."}
        assert client.post(url(name, evisit), data).status_code == 404
    assert fresh(evisit).status == Status.SUBMITTED
    assert not ServiceLine.objects.exists()
    if who in ("nora", "dave", "root"):
        assert AuditEvent.objects.filter(
            action="access.refused", actor_id=client.session["_auth_user_id"]
        ).exists()


def test_anonymous_is_sent_to_sign_in(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    client = Client()
    for path in (reverse("staff_evisits:queue"), url("review", evisit), url("photo", evisit, 1)):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for name in POSTS:
        assert client.post(url(name, evisit), {"action": "claim"}).status_code == 302
    assert fresh(evisit).status == Status.SUBMITTED


def test_a_member_never_reviews_their_own_or_their_familys_evisit(tw: TelehealthWorld) -> None:
    mia = member(tw, "mia")
    mine = sent_evisit(tw, make_patient("10000009", "Mia", "Staff", tw.world.campus, account=mia))
    ProxyGrant.objects.create(
        grantee=mia,
        patient=tw.world.bob,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=mine.created_at,
    )
    family = sent_evisit(tw, tw.world.bob)
    alices = sent_evisit(tw)
    client = as_user(mia)
    for evisit in (mine, family):
        assert client.get(url("review", evisit)).status_code == 404
        assert client.post(url("claim", evisit), {"action": "claim"}).status_code == 404
        assert fresh(evisit).status == Status.SUBMITTED
    queue = client.get(reverse("staff_evisits:queue")).content.decode()
    assert url("review", alices) in queue
    assert url("review", mine) not in queue and url("review", family) not in queue


def test_wrong_methods_are_refused(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    client = as_user(tw.world.clinician)
    for name in POSTS:
        assert client.get(url(name, evisit)).status_code == 405
    assert client.post(reverse("staff_evisits:queue")).status_code == 405
    assert client.post(url("review", evisit)).status_code == 405


# Claiming -----------------------------------------------------------------------------------


def test_the_queue_filters_mine_and_unclaimed(tw: TelehealthWorld) -> None:
    waiting, taken = sent_evisit(tw), claimed(tw)
    client = as_user(tw.world.clinician)

    def shown(show: str) -> set[int]:
        body = client.get(reverse("staff_evisits:queue"), {"show": show}).content.decode()
        return {evisit.pk for evisit in (waiting, taken) if url("review", evisit) in body}

    assert shown("all") == {waiting.pk, taken.pk}
    assert shown("mine") == {taken.pk}
    assert shown("unclaimed") == {waiting.pk}
    assert shown("<script>") == {waiting.pk, taken.pk}


def test_a_second_reviewer_is_refused_until_the_first_releases(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    mia = as_user(member(tw, "mia"))
    carol = as_user(tw.world.clinician)
    assert carol.post(url("claim", evisit), {"action": "claim"}).status_code == 302
    refused = mia.post(url("claim", evisit), {"action": "claim"}, follow=True)
    assert "Dr. Carol Staff is reviewing this e-visit." in refused.content.decode()
    assert fresh(evisit).reviewer == tw.world.clinician
    assert mia.post(url("reply", evisit), REPLY).status_code == 400
    assert mia.post(url("claim", evisit), {"action": "release"}).status_code == 302
    assert fresh(evisit).reviewer == tw.world.clinician

    released = carol.post(url("claim", evisit), {"action": "release"})
    assert released.status_code == 302 and released["Location"] == reverse("staff_evisits:queue")
    assert fresh(evisit).status == Status.SUBMITTED
    assert mia.post(url("claim", evisit), {"action": "claim"}).status_code == 302
    assert fresh(evisit).reviewer is not None and fresh(evisit).reviewer.username == "mia"  # type: ignore[union-attr]


# Replying -----------------------------------------------------------------------------------


def test_a_reply_with_prescription_and_referral_reaches_the_patient_once(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    specialty = cardiology(tw)
    client = as_user(tw.world.clinician)
    Notification.objects.all().delete()
    data = {
        **REPLY,
        "reply-medication": "Amoxicillin",
        "reply-dose": "500 mg",
        "reply-instructions": "Three times a day",
        "reply-refills": "1",
        "reply-specialty": str(specialty.pk),
        "reply-referral_reason": "Palpitations.",
    }
    first = client.post(url("reply", evisit), data)
    assert first.status_code == 302 and first["Location"] == url("review", evisit)
    again = client.post(url("reply", evisit), data, follow=True)
    assert "You had already answered this e-visit." in again.content.decode()

    answered = fresh(evisit)
    assert answered.status == Status.COMPLETED
    assert ServiceLine.objects.count() == 1 and account_for(tw.world.alice).balance_cents == 35_00
    page = client.get(url("review", evisit)).content.decode()
    assert "Reply sent" in page and "Amoxicillin" in page and "Cardiology" in page
    assert url("reply", evisit) not in page

    alice = as_user(tw.world.alice_user)
    assert "Amoxicillin" in alice.get(reverse("records:medications")).content.decode()
    assert alice.get(reverse("referrals:detail", args=[answered.referral_id])).status_code == 200
    told = Notification.objects.filter(for_staff=False, link=reverse("evisits:detail", args=[evisit.pk]))
    assert set(told.values_list("recipient__username", flat=True)) == {"alice", "pat"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reply-assessment": "", "reply-plan": "Rest."}, "reply-assessment"),
        ({"reply-assessment": "   ", "reply-plan": "Rest."}, "reply-assessment"),
        ({"reply-assessment": "x" * 4001, "reply-plan": "Rest."}, "reply-assessment"),
        ({**REPLY, "reply-plan": "y" * 100_000}, "reply-plan"),
        ({**REPLY, "reply-medication": "m" * 201}, "reply-medication"),
        ({**REPLY, "reply-dose": "500 mg"}, "reply-medication"),
        ({**REPLY, "reply-medication": "Amoxicillin", "reply-refills": "-1"}, "reply-refills"),
        ({**REPLY, "reply-medication": "Amoxicillin", "reply-refills": "many"}, "reply-refills"),
        ({**REPLY, "reply-specialty": str(MISSING), "reply-referral_reason": "Why"}, "reply-specialty"),
        ({**REPLY, "reply-specialty": "abc", "reply-referral_reason": "Why"}, "reply-specialty"),
        ({**REPLY, "reply-specialty": "9" * 30, "reply-referral_reason": "Why"}, "reply-specialty"),
        ({**REPLY, "reply-referral_reason": "Why"}, "reply-specialty"),
        ({**REPLY, "reply-assessment": "nul\x00byte"}, "reply-assessment"),
    ],
)
def test_bad_replies_come_back_with_the_error_and_change_nothing(
    tw: TelehealthWorld, data: dict[str, str], field: str
) -> None:
    evisit = claimed(tw)
    cardiology(tw)
    Notification.objects.all().delete()
    response = as_user(tw.world.clinician).post(url("reply", evisit), data)
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in response.content.decode()
    assert fresh(evisit).status == Status.IN_REVIEW
    assert (
        not ServiceLine.objects.exists() and not Medication.objects.exists() and not Referral.objects.exists()
    )
    assert not Notification.objects.filter(for_staff=False).exists()


def test_a_specialty_without_a_reason_is_an_error(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    data = {**REPLY, "reply-specialty": str(cardiology(tw).pk)}
    response = as_user(tw.world.clinician).post(url("reply", evisit), data)
    assert response.status_code == 400 and 'id="id_reply-referral_reason_error"' in response.content.decode()


def test_a_nurse_replies_without_prescribing(tw: TelehealthWorld) -> None:
    nurse = member(tw, "nina", Practitioner.Role.NURSE)
    evisit = sent_evisit(tw)
    client = as_user(nurse)
    client.post(url("claim", evisit), {"action": "claim"})
    page = client.get(url("review", evisit)).content.decode()
    assert 'name="reply-assessment"' in page and 'name="reply-medication"' not in page
    response = client.post(url("reply", evisit), {**REPLY, "reply-medication": "Amoxicillin"})
    assert response.status_code == 302
    assert fresh(evisit).status == Status.COMPLETED and not Medication.objects.exists()


def test_replying_before_claiming_is_refused(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    response = as_user(tw.world.clinician).post(url("reply", evisit), REPLY)
    assert response.status_code == 400 and "Start reviewing this e-visit first." in response.content.decode()
    assert fresh(evisit).status == Status.SUBMITTED and not ServiceLine.objects.exists()


# Needs a visit instead ----------------------------------------------------------------------


def test_needs_a_visit_instead(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    client = as_user(tw.world.clinician)
    for message in ("", "   ", "z" * 2001):
        assert client.post(url("redirect", evisit), {"redirect-message": message}).status_code == 400
    assert fresh(evisit).status == Status.IN_REVIEW
    response = client.post(url("redirect", evisit), {"redirect-message": "Please book an office visit."})
    assert response.status_code == 302
    assert fresh(evisit).status == Status.REDIRECTED and not ServiceLine.objects.exists()
    page = client.get(url("review", evisit)).content.decode()
    assert "Please book an office visit." in page and url("redirect", evisit) not in page


# Query counts -------------------------------------------------------------------------------


def test_the_queue_costs_the_same_for_1_or_30_evisits(tw: TelehealthWorld) -> None:
    client = as_user(tw.world.clinician)
    sent_evisit(tw)
    client.get(reverse("staff_evisits:queue"))  # warm the session and the caches
    one = query_count(lambda: client.get(reverse("staff_evisits:queue")))
    mia = member(tw, "mia")
    for number in range(29):
        evisit = sent_evisit(tw, tw.world.bob if number % 2 else tw.world.alice)
        if number % 3 == 0:
            EVisit.objects.filter(pk=evisit.pk).update(status=Status.IN_REVIEW, reviewer=mia)
    thirty = query_count(lambda: client.get(reverse("staff_evisits:queue")))
    assert thirty == one
    assert one <= 25


def test_the_review_page_is_bounded(tw: TelehealthWorld, media: Path) -> None:
    evisit = claimed(tw)
    client = as_user(tw.world.clinician)
    client.get(url("review", evisit))
    few = query_count(lambda: client.get(url("review", evisit)))
    for number in range(20):
        Medication.objects.create(patient=tw.world.alice, name=f"Medicine {number}")
        Allergy.objects.create(patient=tw.world.alice, substance=f"Thing {number}", recorded_on="2020-01-01")
        if number < 5:
            with_photo(evisit, tw.world.alice_user)
    many = query_count(lambda: client.get(url("review", evisit)))
    assert many == few
    assert many <= 45
