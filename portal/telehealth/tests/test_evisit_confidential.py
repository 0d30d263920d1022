"""An adolescent's confidential e-visits: a parent of a 12-17-year-old never sees one, nor
what its reply made (prescription, note, referral, charge, notification), nor its audit
events in the access log; the teenager sees everything, and the reviewer sees it labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client, RequestFactory
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.models import LedgerEntry
from portal.notifications.models import Notification
from portal.patients.access import pool_access
from portal.patients.models import ProxyGrant, Scope
from portal.records.models import ClinicalNote
from portal.records.tests.test_release_rules import adolescent
from portal.telehealth import evisit_review, evisits
from portal.telehealth.dashboard_cards import evisits_card
from portal.telehealth.evisit_review import PrescriptionInput, ReferralInput
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.telehealth.tests.test_evisit_review import ANSWERS, cardiology
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db

MISSING = 987654321
SECRET = "sexual-health"


class Family:
    """Tess (15), her parent Paula (view, message and billing), and two conditions for her."""

    def __init__(self, tw: TelehealthWorld) -> None:
        self.tw = tw
        self.teen, self.tess, self.parent = adolescent(tw.world)
        ProxyGrant.objects.filter(grantee=self.parent, patient=self.teen).update(
            scopes=[Scope.VIEW, Scope.MESSAGE, Scope.BILLING]
        )
        self.cold = tw.condition
        self.secret = EVisitCondition.objects.create(
            slug="urinary",
            name="Urinary symptoms",
            description="Burning when passing urine.",
            questionnaire=tw.condition.questionnaire,
            price_item=tw.condition.price_item,
            review_team=tw.world.care_team,
            sensitivity=SECRET,
        )

    def start(self, condition: EVisitCondition, user: User | None = None) -> EVisit:
        user = user or self.tess
        return evisits.do_start_evisit(Actor(user=user), patient_access(user, self.teen), condition, ANSWERS)

    def sent(self, condition: EVisitCondition) -> EVisit:
        evisit = self.start(condition)
        evisits.do_submit_evisit(Actor(user=self.tess), patient_access(self.tess, self.teen), evisit)
        return EVisit.objects.get(pk=evisit.pk)


@pytest.fixture
def family(world: World, settings: Any, tmp_path: Path) -> Family:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Family(telehealth_world(world))


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def with_photo(evisit: EVisit, user: User) -> EVisitPhoto:
    photo = EVisitPhoto(evisit=evisit, name="a.png", content_type="image/png", size=8, uploaded_by=user)
    photo.file.save("a.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    photo.save()
    return photo


def answer(family: Family, evisit: EVisit, **extra: Any) -> EVisit:
    carol = family.tw.world.clinician
    access = pool_access(carol, family.teen, family.tw.world.care_team)
    assert access is not None
    evisit_review.do_claim_evisit(Actor(user=carol), access, evisit)
    fields: dict[str, Any] = {"assessment": "Likely a bladder infection.", "plan": "Antibiotics.", **extra}
    evisit_review.do_reply_evisit(Actor(user=carol), access, evisit, **fields)
    return EVisit.objects.get(pk=evisit.pk)


def test_the_evisit_takes_the_conditions_category_when_started(family: Family) -> None:
    assert family.start(family.secret).sensitivity == SECRET
    assert family.start(family.cold).sensitivity == ""


def test_the_parent_neither_lists_nor_opens_a_confidential_evisit(family: Family) -> None:
    secret, cold = family.sent(family.secret), family.sent(family.cold)
    photo = with_photo(secret, family.tess)
    parent, tess = as_user(family.parent), as_user(family.tess)

    listed = parent.get(reverse("evisits:list")).content.decode()
    assert reverse("evisits:detail", args=[cold.pk]) in listed
    assert reverse("evisits:detail", args=[secret.pk]) not in listed and "Urinary" not in listed
    for name, args, missing in (
        ("evisits:detail", [secret.pk], [MISSING]),
        ("evisits:photo", [secret.pk, photo.pk], [MISSING, photo.pk]),
    ):
        assert_same_as_missing(parent.get(reverse(name, args=args)), parent.get(reverse(name, args=missing)))
    for name in ("evisits:submit", "evisits:withdraw", "evisits:add_photo"):
        assert parent.post(reverse(name, args=[secret.pk])).status_code == 404
    assert EVisit.objects.get(pk=secret.pk).status == EVisit.Status.SUBMITTED
    refused = AuditEvent.objects.filter(action="access.refused", actor=family.parent, patient=family.teen)
    assert refused.exists()

    # Tess herself sees both.
    mine = tess.get(reverse("evisits:list")).content.decode()
    assert reverse("evisits:detail", args=[secret.pk]) in mine
    assert tess.get(reverse("evisits:detail", args=[secret.pk])).status_code == 200


def test_the_parent_is_not_offered_a_confidential_condition(family: Family) -> None:
    parent = as_user(family.parent)
    choices = parent.get(reverse("evisits:choose")).content.decode()
    assert "Cold and flu symptoms" in choices and "Urinary symptoms" not in choices
    assert parent.get(reverse("evisits:questionnaire", args=["urinary"])).status_code == 404
    with pytest.raises(evisits.EVisitRefused):
        family.start(family.secret, family.parent)
    assert "Urinary symptoms" in as_user(family.tess).get(reverse("evisits:choose")).content.decode()


def test_the_parents_actions_refuse_a_confidential_evisit(family: Family) -> None:
    secret = family.start(family.secret)
    access = patient_access(family.parent, family.teen)
    with pytest.raises(evisits.EVisitRefused):
        evisits.do_submit_evisit(Actor(user=family.parent), access, secret)
    with pytest.raises(evisits.EVisitRefused):
        evisits.do_withdraw_evisit(Actor(user=family.parent), access, secret)
    assert EVisit.objects.get(pk=secret.pk).status == EVisit.Status.DRAFT


def test_the_home_card_tells_the_parent_nothing_of_it(family: Family) -> None:
    family.sent(family.secret)
    request = RequestFactory().get("/")
    request.user = family.parent
    assert evisits_card(request, patient_access(family.parent, family.teen)) is None
    request.user = family.tess
    shown = evisits_card(request, patient_access(family.tess, family.teen))
    assert shown is not None and len(shown.context["waiting"]) == 1


def test_what_the_reply_makes_carries_the_category(family: Family) -> None:
    secret = family.sent(family.secret)
    Notification.objects.all().delete()
    answered = answer(
        family,
        secret,
        prescription=PrescriptionInput(name="Nitrofurantoin", dose="100 mg"),
        referral=ReferralInput(specialty=cardiology(family.tw), reason="Recurring symptoms."),
    )
    assert answered.medication is not None and answered.medication.sensitivity == SECRET
    assert ClinicalNote.objects.get(patient=family.teen).sensitivity == SECRET
    assert answered.referral is not None and answered.referral.thread is not None
    assert answered.referral.thread.sensitivity == SECRET
    line = answered.service_line
    assert line is not None and line.sensitivity == SECRET
    assert set(LedgerEntry.objects.filter(service_line=line).values_list("sensitivity", flat=True)) == {
        SECRET
    }
    told = Notification.objects.filter(for_staff=False, patient=family.teen)
    assert set(told.values_list("recipient__username", flat=True)) == {"tess"}  # the reply and the referral

    parent = as_user(family.parent)
    assert "Nitrofurantoin" not in parent.get(reverse("records:medications")).content.decode()
    assert parent.get(reverse("referrals:detail", args=[answered.referral.pk])).status_code == 404
    tess = as_user(family.tess)
    assert "Nitrofurantoin" in tess.get(reverse("records:medications")).content.decode()


def test_a_reply_to_an_ordinary_evisit_still_reaches_the_parent(family: Family) -> None:
    cold = family.sent(family.cold)
    Notification.objects.all().delete()
    answered = answer(family, cold, prescription=PrescriptionInput(name="Ibuprofen"))
    assert answered.medication is not None and answered.medication.sensitivity == ""
    assert answered.service_line is not None and answered.service_line.sensitivity == ""
    told = Notification.objects.filter(for_staff=False, patient=family.teen)
    assert set(told.values_list("recipient__username", flat=True)) == {"tess", "paula"}


def test_a_redirect_is_told_to_the_teen_only(family: Family) -> None:
    secret = family.sent(family.secret)
    carol = family.tw.world.clinician
    access = pool_access(carol, family.teen, family.tw.world.care_team)
    assert access is not None
    Notification.objects.all().delete()
    evisit_review.do_claim_evisit(Actor(user=carol), access, secret)
    evisit_review.do_redirect_evisit(Actor(user=carol), access, secret, message="Come in today.")
    told = Notification.objects.filter(for_staff=False, patient=family.teen)
    assert list(told.values_list("recipient__username", flat=True)) == ["tess"]


def access_log(user: User) -> str:
    response = as_user(user).get(reverse("audit:access_log"))
    assert response.status_code == 200
    return response.content.decode().lower()  # phrases are capitalised in the table


def test_its_audit_events_are_private_and_left_out_of_the_parents_access_log(family: Family) -> None:
    secret, cold = family.sent(family.secret), family.sent(family.cold)
    answer(family, secret)
    carol = as_user(family.tw.world.clinician)
    assert carol.get(reverse("staff_evisits:review", args=[secret.pk])).status_code == 200
    assert carol.get(reverse("staff_evisits:review", args=[cold.pk])).status_code == 200

    about = AuditEvent.objects.filter(object_type="telehealth.evisit")
    secret_actions = set(about.filter(object_id=str(secret.pk)).values_list("action", flat=True))
    assert secret_actions == {
        "telehealth.evisit_start_private",
        "telehealth.evisit_submit_private",
        "telehealth.evisit_claim_private",
        "telehealth.evisit_reply_private",
        "telehealth.evisit_view_private",
    }
    cold_actions = set(about.filter(object_id=str(cold.pk)).values_list("action", flat=True))
    assert cold_actions == {"telehealth.evisit_start", "telehealth.evisit_submit", "telehealth.evisit_view"}

    # Carol's reads: the parent sees the ordinary one, not the confidential one.
    parents = access_log(family.parent)
    assert parents.count("viewed an e-visit") == 1
    assert "answered an e-visit" not in parents and "started reviewing an e-visit" not in parents
    teens = access_log(family.tess)
    assert teens.count("viewed an e-visit") == 2 and "answered an e-visit" in teens


def test_the_reviewer_sees_it_labelled(family: Family) -> None:
    secret = family.sent(family.secret)
    page = as_user(family.tw.world.clinician).get(reverse("staff_evisits:review", args=[secret.pk]))
    assert "Sexual health" in page.content.decode()


def test_an_adult_patient_sees_their_confidential_evisits_and_so_does_their_proxy(family: Family) -> None:
    # Only a proxy of a 12-17-year-old is kept from the categories.
    world = family.tw.world
    evisit = evisits.do_start_evisit(
        Actor(user=world.alice_user), patient_access(world.alice_user, world.alice), family.secret, ANSWERS
    )
    assert as_user(world.proxy_user).get(reverse("evisits:detail", args=[evisit.pk])).status_code == 200
