"""Who may review an e-visit: only the clinicians of its review team, never an interpreter or a
scheduler added to the team, and nobody once the patient withdrew it before anyone took it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.models import ServiceLine
from portal.notifications.models import Notification
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import pool_access
from portal.telehealth import evisit_review, evisits
from portal.telehealth.admin import EVisitConditionAdmin
from portal.telehealth.evisit_access import review_queue
from portal.telehealth.evisit_review import ReviewRefused
from portal.telehealth.models import EVisit, EVisitCondition
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.telehealth.tests.test_evisit_review import ANSWERS, member, sent_evisit
from portal.telehealth.tests.test_evisit_review_pages import with_photo
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db

Status = EVisit.Status
MISSING = 987654321
REPLY = {"reply-assessment": "A cold.", "reply-plan": "Rest.", "redirect-message": "Come in."}


@pytest.fixture
def tw(world: World, settings: Any, tmp_path: Path) -> TelehealthWorld:
    settings.MEDIA_ROOT = tmp_path / "media"
    return telehealth_world(world)


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def in_team(tw: TelehealthWorld, user: User) -> User:
    tw.world.care_team.members.add(user.practitioner)
    return user


def pages(evisit: EVisit | int) -> dict[str, str]:
    pk = evisit if isinstance(evisit, int) else evisit.pk
    return {
        name: reverse(f"staff_evisits:{name}", args=[pk]) for name in ("review", "claim", "reply", "redirect")
    }


def assert_refused(client: Client, evisit: EVisit) -> None:
    """Every page of the e-visit answers like a missing one, and nothing changes."""
    found, missing = pages(evisit), pages(MISSING)
    assert_same_as_missing(client.get(found["review"]), client.get(missing["review"]))
    photo = evisit.photos.first()
    if photo is not None:
        path = reverse("staff_evisits:photo", args=[evisit.pk, photo.pk])
        assert_same_as_missing(
            client.get(path), client.get(reverse("staff_evisits:photo", args=[MISSING, 1]))
        )
    for name in ("claim", "reply", "redirect"):
        assert client.post(found[name], {"action": "claim", **REPLY}).status_code == 404


@pytest.mark.parametrize("who", ["interpreter", "scheduler"])
def test_a_team_member_who_is_no_clinician_cannot_review_answer_or_charge(
    tw: TelehealthWorld, who: str
) -> None:
    user = in_team(tw, tw.interpreter if who == "interpreter" else tw.world.scheduler)
    evisit = sent_evisit(tw)
    with_photo(evisit, tw.world.alice_user)
    client = as_user(user)
    assert client.get(reverse("staff_evisits:queue")).status_code == 404
    home = client.get(reverse("staff:home"))
    assert home.status_code == 200 and reverse("staff_evisits:queue") not in home.content.decode()
    assert (
        reverse("staff_evisits:queue")
        in as_user(tw.world.clinician).get(reverse("staff:home")).content.decode()
    )
    assert not review_queue(user).exists()
    assert_refused(client, evisit)
    assert EVisit.objects.get(pk=evisit.pk).status == Status.SUBMITTED
    assert not ServiceLine.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", actor=user).exists()


def test_the_actions_check_the_role_under_the_lock(tw: TelehealthWorld) -> None:
    ivy = in_team(tw, tw.interpreter)
    evisit = sent_evisit(tw)
    access = pool_access(ivy, tw.world.alice, tw.world.care_team)
    assert access is not None  # the pool alone would let her in
    with pytest.raises(ReviewRefused, match="Only clinicians"):
        evisit_review.do_claim_evisit(Actor(user=ivy), access, evisit)
    # Carol claims it; her role then changes before she replies.
    carol = tw.world.clinician
    carols = pool_access(carol, tw.world.alice, tw.world.care_team)
    assert carols is not None
    evisit_review.do_claim_evisit(Actor(user=carol), carols, evisit)
    Practitioner.objects.filter(user=carol).update(role=Practitioner.Role.SCHEDULER)
    with pytest.raises(ReviewRefused, match="Only clinicians"):
        evisit_review.do_reply_evisit(Actor(user=carol), carols, evisit, assessment="A cold.", plan="Rest.")
    assert not ServiceLine.objects.exists()


def test_a_nurse_in_the_team_reviews(tw: TelehealthWorld) -> None:
    nurse = member(tw, "nina", Practitioner.Role.NURSE)
    evisit = sent_evisit(tw)
    client = as_user(nurse)
    assert (
        reverse("staff_evisits:review", args=[evisit.pk])
        in client.get(reverse("staff_evisits:queue")).content.decode()
    )
    assert client.post(pages(evisit)["claim"], {"action": "claim"}).status_code == 302
    assert EVisit.objects.get(pk=evisit.pk).reviewer == nurse


def test_only_the_teams_clinicians_are_told_of_a_new_evisit(tw: TelehealthWorld) -> None:
    in_team(tw, tw.interpreter)
    in_team(tw, tw.world.scheduler)
    user, access = tw.world.alice_user, patient_access(tw.world.alice_user, tw.world.alice)
    evisit = evisits.do_start_evisit(Actor(user=user), access, tw.condition, ANSWERS)
    evisits.do_submit_evisit(Actor(user=user), access, evisit)
    told = Notification.objects.filter(for_staff=True)
    assert list(told.values_list("recipient__username", flat=True)) == ["carol"]


# Withdrawn before anyone took it ---------------------------------------------------------------


def withdrawn(tw: TelehealthWorld) -> EVisit:
    """Sent, then withdrawn by Alice while nobody had claimed it."""
    evisit = sent_evisit(tw)
    user = tw.world.alice_user
    assert evisits.do_withdraw_evisit(Actor(user=user), patient_access(user, tw.world.alice), evisit)
    return EVisit.objects.get(pk=evisit.pk)


def test_a_withdrawn_evisit_nobody_took_is_the_404_of_a_missing_one(tw: TelehealthWorld) -> None:
    evisit = withdrawn(tw)
    with_photo(evisit, tw.world.alice_user)
    carol = as_user(tw.world.clinician)
    assert_refused(carol, evisit)
    assert evisit not in review_queue(tw.world.clinician)
    assert not AuditEvent.objects.filter(action__startswith="telehealth.evisit_view").exists()
    assert not AuditEvent.objects.filter(action__startswith="telehealth.evisit_photo_view").exists()


def test_a_claimed_then_released_and_withdrawn_one_is_closed_too(tw: TelehealthWorld) -> None:
    evisit = sent_evisit(tw)
    carol = tw.world.clinician
    access = pool_access(carol, tw.world.alice, tw.world.care_team)
    assert access is not None
    evisit_review.do_claim_evisit(Actor(user=carol), access, evisit)
    evisit_review.do_release_evisit(Actor(user=carol), access, evisit)
    user = tw.world.alice_user
    evisits.do_withdraw_evisit(Actor(user=user), patient_access(user, tw.world.alice), evisit)
    assert as_user(carol).get(pages(evisit)["review"]).status_code == 404


def test_answered_and_redirected_ones_stay_readable(tw: TelehealthWorld) -> None:
    answered = sent_evisit(tw)
    EVisit.objects.filter(pk=answered.pk).update(status=Status.COMPLETED, reviewer=tw.world.clinician)
    assert as_user(tw.world.clinician).get(pages(answered)["review"]).status_code == 200


# The admin -------------------------------------------------------------------------------------


def condition_form(tw: TelehealthWorld, team: CareTeam, sensitivity: str = "") -> Any:
    model_admin = EVisitConditionAdmin(EVisitCondition, admin.site)
    request: Any = type("Request", (), {"user": tw.world.admin})()
    form_class = model_admin.get_form(request, obj=None)
    condition = tw.condition
    data = {
        "name": "Sore throat",
        "slug": "sore-throat",
        "description": "A sore throat.",
        "questionnaire": condition.questionnaire_id,
        "red_flags": "[]",
        "min_age": 0,
        "sensitivity": sensitivity,
        "price_item": condition.price_item_id,
        "review_team": team.pk,
        "active": "on",
        "position": 0,
    }
    return form_class(data)


def test_the_admin_offers_only_clinical_care_teams(tw: TelehealthWorld) -> None:
    form = condition_form(tw, tw.world.scheduling_desk)
    assert list(form.fields["review_team"].queryset) == [tw.world.care_team]
    assert not form.is_valid() and "review_team" in form.errors
    assert condition_form(tw, tw.world.care_team).is_valid()


def test_the_admin_offers_the_clinics_confidential_categories(tw: TelehealthWorld) -> None:
    choices = [
        value for value, _label in condition_form(tw, tw.world.care_team).fields["sensitivity"].choices
    ]
    assert choices[0] == "" and "sexual-health" in choices and "mental-health" in choices
    assert condition_form(tw, tw.world.care_team, "sexual-health").is_valid()
    bad = condition_form(tw, tw.world.care_team, "gossip")
    assert not bad.is_valid() and "sensitivity" in bad.errors
