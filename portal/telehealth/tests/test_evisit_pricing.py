"""The e-visit's price: frozen when started and charged as frozen; an old draft re-priced when
sent; and what was never sent (or was withdrawn) not kept longer than needed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.models import PriceItem, ServiceLine
from portal.notifications.models import Notification
from portal.patients.access import PatientAccess, pool_access
from portal.telehealth import evisit_review, evisits, tasks
from portal.telehealth.models import EVisit, EVisitPhoto
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.telehealth.tests.test_evisit_review import ANSWERS
from portal.test import World

pytestmark = pytest.mark.django_db

Status = EVisit.Status
DAY = dt.timedelta(days=1)
STOP = [{**ANSWERS[2], "answer": [{"valueBoolean": True}]}]  # trouble breathing: a red flag


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def tw(world: World, media: Path) -> TelehealthWorld:
    return telehealth_world(world)


def alice(tw: TelehealthWorld) -> PatientAccess:
    return patient_access(tw.world.alice_user, tw.world.alice)


def started(tw: TelehealthWorld, answers: list[dict[str, Any]] = ANSWERS, days_ago: float = 0) -> EVisit:
    evisit = evisits.do_start_evisit(Actor(user=tw.world.alice_user), alice(tw), tw.condition, answers)
    if days_ago:
        EVisit.objects.filter(pk=evisit.pk).update(created_at=timezone.now() - days_ago * DAY)
    return EVisit.objects.get(pk=evisit.pk)


def new_price_list(tw: TelehealthWorld, cents: int) -> PriceItem:
    """The clinic moves the condition to another item and rewrites the old one."""
    PriceItem.objects.filter(pk=tw.condition.price_item_id).update(
        code="99421X", description="Renamed", self_pay_price_cents=1
    )
    item = PriceItem.objects.create(
        code="99422", description="E-visit, 11-20 minutes", price_cents=cents, self_pay_price_cents=cents
    )
    tw.condition.price_item = item
    tw.condition.save(update_fields=["price_item"])
    return item


def send(tw: TelehealthWorld, evisit: EVisit) -> Any:
    client = Client()
    client.force_login(tw.world.alice_user)
    return client.post(reverse("evisits:submit", args=[evisit.pk]), follow=True)


def fresh(evisit: EVisit) -> EVisit:
    return EVisit.objects.get(pk=evisit.pk)


# Frozen when started, charged as frozen --------------------------------------------------------


def test_starting_freezes_the_item_its_code_description_and_price(tw: TelehealthWorld) -> None:
    evisit = started(tw)
    assert evisit.price_item == tw.condition.price_item
    assert (evisit.price_code, evisit.price_description, evisit.price_cents) == (
        "99421",
        "E-visit, 5-10 minutes",
        35_00,
    )


def test_the_reply_charges_what_was_frozen_whatever_the_price_list_says_now(tw: TelehealthWorld) -> None:
    evisit = started(tw)
    assert evisits.do_submit_evisit(Actor(user=tw.world.alice_user), alice(tw), evisit)
    new_price_list(tw, 55_00)
    carol = tw.world.clinician
    access = pool_access(carol, tw.world.alice, tw.world.care_team)
    assert access is not None
    evisit_review.do_claim_evisit(Actor(user=carol), access, evisit)
    evisit_review.do_reply_evisit(Actor(user=carol), access, evisit, assessment="A cold.", plan="Rest.")
    line = ServiceLine.objects.get()
    assert (line.code, line.description, line.charge_cents) == ("99421", "E-visit, 5-10 minutes", 35_00)


def test_a_price_item_in_use_cannot_be_deleted(tw: TelehealthWorld) -> None:
    evisit = started(tw)
    tw.condition.price_item = PriceItem.objects.create(
        code="99422", description="Longer", price_cents=1, self_pay_price_cents=1
    )
    tw.condition.save(update_fields=["price_item"])
    with pytest.raises(ProtectedError):
        evisit.price_item.delete()


# Sending an old draft --------------------------------------------------------------------------


def test_a_recent_draft_is_sent_at_its_frozen_price(tw: TelehealthWorld) -> None:
    evisit = started(tw, days_ago=6.9)
    new_price_list(tw, 55_00)
    send(tw, evisit)
    sent = fresh(evisit)
    assert sent.status == Status.SUBMITTED and sent.price_cents == 35_00 and sent.price_code == "99421"


def test_an_old_draft_at_a_new_price_is_shown_again_before_it_is_sent(tw: TelehealthWorld) -> None:
    evisit = started(tw, days_ago=8)
    item = new_price_list(tw, 55_00)
    page = send(tw, evisit).content.decode()
    assert "The price changed; please review before sending." in page
    assert "costs $55.00" in page and "Send the e-visit" in page  # the review step again
    repriced = fresh(evisit)
    assert repriced.status == Status.DRAFT
    assert (repriced.price_item, repriced.price_code, repriced.price_cents) == (item, "99422", 55_00)
    assert repriced.price_description == "E-visit, 11-20 minutes"
    event = AuditEvent.objects.get(action="telehealth.evisit_reprice")
    assert event.detail["from_cents"] == 35_00 and event.detail["to_cents"] == 55_00
    assert not Notification.objects.filter(for_staff=True).exists()

    # Having seen it, the patient sends it at the new price.
    send(tw, evisit)
    sent = fresh(evisit)
    assert sent.status == Status.SUBMITTED and sent.price_cents == 55_00
    submitted = AuditEvent.objects.get(action="telehealth.evisit_submit")
    assert submitted.detail["price_cents"] == 55_00


def test_an_old_draft_at_the_same_price_is_sent_at_once(tw: TelehealthWorld) -> None:
    evisit = started(tw, days_ago=8)
    PriceItem.objects.filter(pk=tw.condition.price_item_id).update(description="E-visit, 5 to 10 minutes")
    send(tw, evisit)
    sent = fresh(evisit)
    assert sent.status == Status.SUBMITTED and sent.price_cents == 35_00
    assert sent.price_description == "E-visit, 5 to 10 minutes"  # taken as it reads now


def test_an_old_draft_of_a_retired_condition_is_refused(tw: TelehealthWorld) -> None:
    evisit = started(tw, days_ago=8)
    new_price_list(tw, 55_00)
    tw.condition.active = False
    tw.condition.save(update_fields=["active"])
    assert "no longer offered" in send(tw, evisit).content.decode()
    refused = fresh(evisit)
    assert refused.status == Status.DRAFT and refused.price_cents == 35_00  # not even re-priced


def test_the_action_raises_price_changed_after_saving_the_new_price(tw: TelehealthWorld) -> None:
    evisit = started(tw, days_ago=8)
    new_price_list(tw, 10_00)
    with pytest.raises(evisits.PriceChanged):
        evisits.do_submit_evisit(Actor(user=tw.world.alice_user), alice(tw), evisit)
    assert fresh(evisit).price_cents == 10_00


# What is not kept ------------------------------------------------------------------------------


def photo_of(evisit: EVisit) -> EVisitPhoto:
    photo = EVisitPhoto(
        evisit=evisit, name="a.png", content_type="image/png", size=8, uploaded_by=evisit.started_by
    )
    photo.file.save("a.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    photo.save()
    return photo


def stored(photo: EVisitPhoto) -> bool:
    return photo.file.storage.exists(photo.file.name)


def test_old_drafts_and_stopped_evisits_are_deleted_with_their_photos(
    tw: TelehealthWorld, django_capture_on_commit_callbacks: Any
) -> None:
    old_draft, old_stopped = started(tw, days_ago=31), started(tw, STOP, days_ago=31)
    recent_draft = started(tw, days_ago=29)
    old_sent = started(tw, days_ago=31)
    EVisit.objects.filter(pk=old_sent.pk).update(status=Status.SUBMITTED)
    old_photo, recent_photo = photo_of(old_draft), photo_of(recent_draft)
    assert old_stopped.status == Status.STOPPED

    with django_capture_on_commit_callbacks(execute=True):
        done = evisits.sweep_evisits()
    assert done == {"evisits_deleted": 2, "evisit_photos_cleared": 0}
    assert set(EVisit.objects.values_list("pk", flat=True)) == {recent_draft.pk, old_sent.pk}
    assert not stored(old_photo) and stored(recent_photo)
    assert not EVisitPhoto.objects.filter(pk=old_photo.pk).exists()
    expired = AuditEvent.objects.filter(action="telehealth.evisit_expired", patient=tw.world.alice)
    assert set(expired.values_list("object_id", flat=True)) == {str(old_draft.pk), str(old_stopped.pk)}
    assert evisits.sweep_evisits() == {"evisits_deleted": 0, "evisit_photos_cleared": 0}


def test_a_withdrawn_evisits_photos_go_and_its_row_stays(
    tw: TelehealthWorld, django_capture_on_commit_callbacks: Any
) -> None:
    evisit = started(tw)
    photo = photo_of(evisit)
    assert evisits.do_withdraw_evisit(Actor(user=tw.world.alice_user), alice(tw), evisit)
    answered = started(tw)
    kept = photo_of(answered)
    EVisit.objects.filter(pk=answered.pk).update(status=Status.COMPLETED, reviewer=tw.world.clinician)

    with django_capture_on_commit_callbacks(execute=True):
        assert evisits.sweep_evisits()["evisit_photos_cleared"] == 1
    assert fresh(evisit).status == Status.WITHDRAWN
    assert not evisit.photos.exists() and not stored(photo)
    assert stored(kept) and answered.photos.count() == 1
    assert AuditEvent.objects.filter(
        action="telehealth.evisit_photos_deleted", object_id=str(evisit.pk)
    ).exists()


def test_the_telehealth_sweep_runs_it(tw: TelehealthWorld) -> None:
    old = started(tw, days_ago=40)
    tasks.sweep()
    assert not EVisit.objects.filter(pk=old.pk).exists()
