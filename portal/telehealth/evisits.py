"""Every change the patient side makes to an e-visit: start, photos, submit, withdraw.

Each action is atomic, locks the e-visit row before looking at its status (so a double
click, or two app servers, agree on what happened), and writes its audit event in the
same transaction. The price (item, code, description, amount) is frozen when the
e-visit is started, shown to the patient from then on, and is what billing charges once
a clinician answers. A draft left more than `REPRICE_AFTER` is re-priced when sent, and
the patient asked to look again if the price moved; drafts and stopped e-visits left
`KEEP_UNSENT` are deleted by `sweep_evisits`, with their photos.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.billing.models import PriceItem
from portal.lib.uploads import CheckedFile
from portal.messaging.roles import CLINICAL_ROLES
from portal.notifications.send import notify_staff
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import ProxyGrant, Scope
from portal.telehealth import red_flags
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto
from portal.telehealth.phrases_evisits import evisit_action

log = logging.getLogger(__name__)

MAX_PHOTOS = 5
PHOTO_MAX_BYTES = 10 * 1024 * 1024
# A clinician can still be asked to stop: sent, and nobody has claimed it yet.
WITHDRAWABLE = (EVisit.Status.DRAFT, EVisit.Status.SUBMITTED)
# A draft's price is honoured this long; after that, sending it takes today's price.
REPRICE_AFTER = dt.timedelta(days=7)
# Drafts and stopped e-visits (never sent, never seen by a clinician) are kept this long.
KEEP_UNSENT = dt.timedelta(days=30)
UNSENT = (EVisit.Status.DRAFT, EVisit.Status.STOPPED)


class EVisitRefused(Exception):
    """The e-visit cannot do that now; the message says why, for the patient."""


class PriceChanged(EVisitRefused):
    """An old draft was re-priced (and that is saved) and the price moved: the patient looks again."""


def evisit_price(condition: EVisitCondition) -> int:
    """What the patient is charged: the self-pay price, since an e-visit is billed to them directly."""
    return evisit_price_of(condition.price_item)


def evisit_price_of(item: PriceItem) -> int:
    return item.self_pay_price_cents


def is_old_enough(condition: EVisitCondition, access: PatientAccess) -> bool:
    return access.patient.age_on(timezone.localdate()) >= condition.min_age


def _check_patient_side(access: PatientAccess) -> None:
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise EVisitRefused(_("You cannot start e-visits for this person."))


def _locked(access: PatientAccess, evisit: EVisit) -> EVisit:
    """The e-visit's row, locked, if it is this access's to change."""
    # Only the e-visit's own row: locking the condition too would queue every patient's e-visit behind it.
    locked = EVisit.objects.select_for_update(of=("self",)).select_related("condition").get(pk=evisit.pk)
    if locked.patient_id != access.patient.pk or (locked.sensitivity and access.hides(locked.sensitivity)):
        raise EVisitRefused(_("You cannot change this e-visit."))
    return locked


@transaction.atomic
def do_start_evisit(
    actor: Actor, access: PatientAccess, condition: EVisitCondition, answers: list[dict[str, Any]]
) -> EVisit:
    """Record the answers: a draft to review and send, or STOPPED when a red flag says so."""
    _check_patient_side(access)
    hidden = bool(condition.sensitivity) and access.hides(condition.sensitivity)
    if not condition.active or not is_old_enough(condition, access) or hidden:
        raise EVisitRefused(_("This e-visit is not available for this person."))
    flag = red_flags.match(condition, answers)
    evisit = EVisit(
        patient=access.patient,
        condition=condition,
        status=EVisit.Status.STOPPED if flag else EVisit.Status.DRAFT,
        answers=answers,
        red_flag_advice=flag.advice if flag else "",
        red_flag_message=flag.message if flag else "",
        sensitivity=condition.sensitivity,
        started_by=access.user,
    )
    evisit.freeze_price(condition.price_item, evisit_price(condition))
    evisit.save()
    if flag is not None:
        detail = {"condition": condition.slug, "advice": flag.advice, "question": flag.link_id}
        record_write(
            actor, access, evisit_action(evisit, "telehealth.evisit_stopped"), obj=evisit, detail=detail
        )
    else:
        action = evisit_action(evisit, "telehealth.evisit_start")
        record_write(actor, access, action, obj=evisit, detail={"condition": condition.slug})
    return evisit


@transaction.atomic
def do_add_evisit_photo(
    actor: Actor, access: PatientAccess, evisit: EVisit, checked: CheckedFile
) -> EVisitPhoto:
    """Attach one checked (re-encoded) photo to a draft that asks for photos, up to MAX_PHOTOS."""
    _check_patient_side(access)
    evisit = _locked(access, evisit)
    if evisit.status != EVisit.Status.DRAFT or not evisit.condition.asks_for_photos:
        raise EVisitRefused(_("Photos can be added only before the e-visit is sent."))
    if evisit.photos.count() >= MAX_PHOTOS:
        raise EVisitRefused(_("An e-visit can have at most %(count)d photos.") % {"count": MAX_PHOTOS})
    photo = EVisitPhoto(
        evisit=evisit,
        name=checked.original_name[:200] or f"photo.{checked.extension}",
        content_type=checked.content_type,
        size=checked.size,
        uploaded_by=access.user,
    )
    # Stored under a random name: the patient's file name is only a label for downloads.
    photo.file.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
    photo.save()
    action = evisit_action(evisit, "telehealth.evisit_photo")
    record_write(actor, access, action, obj=evisit, detail={"photo": photo.pk})
    return photo


@transaction.atomic
def do_remove_evisit_photo(actor: Actor, access: PatientAccess, photo: EVisitPhoto) -> None:
    """Take a photo off a draft; the stored file goes once the removal is committed."""
    _check_patient_side(access)
    evisit = _locked(access, photo.evisit)
    if evisit.status != EVisit.Status.DRAFT:
        raise EVisitRefused(_("Photos can be removed only before the e-visit is sent."))
    storage, name = photo.file.storage, photo.file.name
    photo_id = photo.pk
    photo.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))
    action = evisit_action(evisit, "telehealth.evisit_photo_remove")
    record_write(actor, access, action, obj=evisit, detail={"photo": photo_id})


def do_submit_evisit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Send a draft to the condition's review team; False when it was already sent (a second click).

    The price stays what the draft recorded and the patient was shown, for
    `REPRICE_AFTER`. An older draft takes the condition's price item as it is now; when
    that changes what it costs, the new price is saved, nothing is sent, and
    `PriceChanged` (raised once that is committed) asks the patient to look again.
    """
    with transaction.atomic():
        sent = _submit(actor, access, evisit)
    if sent is None:
        raise PriceChanged(_("The price changed; please review before sending."))
    return sent


def _submit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool | None:
    """Send it (True), or it was already sent (False), or it was re-priced at a new price (None)."""
    _check_patient_side(access)
    evisit = _locked(access, evisit)
    if evisit.status != EVisit.Status.DRAFT:
        if evisit.status in (*EVisit.OPEN_STATUSES, EVisit.Status.COMPLETED, EVisit.Status.REDIRECTED):
            return False
        raise EVisitRefused(_("This e-visit can no longer be sent."))
    if not evisit.condition.active:
        raise EVisitRefused(
            _("E-visits for this problem are no longer offered. Send a message to your care team.")
        )
    now = timezone.now()
    if evisit.created_at < now - REPRICE_AFTER and _reprice(actor, access, evisit):
        return None
    evisit.status = EVisit.Status.SUBMITTED
    evisit.submitted_at = now
    evisit.save(update_fields=["status", "submitted_at", "updated_at"])
    record_write(
        actor,
        access,
        evisit_action(evisit, "telehealth.evisit_submit"),
        obj=evisit,
        detail={"condition": evisit.condition.slug, "price_cents": evisit.price_cents},
    )
    _tell_review_team(evisit)
    return True


def _reprice(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Take the condition's current price item for an old draft; True when the amount changed."""
    item = evisit.condition.price_item  # the condition as `_locked` just read it
    was = (evisit.price_item_id, evisit.price_code, evisit.price_description, evisit.price_cents)
    evisit.freeze_price(item, evisit_price_of(item))
    if (evisit.price_item_id, evisit.price_code, evisit.price_description, evisit.price_cents) == was:
        return False
    evisit.save(update_fields=["price_item", "price_code", "price_description", "price_cents", "updated_at"])
    detail = {"from_cents": was[3], "to_cents": evisit.price_cents, "code": evisit.price_code}
    record_write(actor, access, evisit_action(evisit, "telehealth.evisit_reprice"), obj=evisit, detail=detail)
    return evisit.price_cents != was[3]


def review_team_members(evisit: EVisit) -> QuerySet[User]:
    """Active clinicians of the condition's review team, less the patient and their proxies.

    Only they may open the e-visit (`evisit_access.require_review_evisit`), so only they are told.
    """
    family = ProxyGrant.objects.active().filter(patient_id=evisit.patient_id).values("grantee_id")
    members = User.objects.filter(
        practitioner__care_teams=evisit.condition.review_team_id,
        practitioner__active=True,
        practitioner__role__in=sorted(CLINICAL_ROLES),
        is_active=True,
    ).exclude(pk__in=family)
    if evisit.patient.account_id is not None:
        members = members.exclude(pk=evisit.patient.account_id)
    return members.distinct()


def _tell_review_team(evisit: EVisit) -> None:
    # No condition name in the title: a notification list is not the place for health words.
    notify_staff(
        review_team_members(evisit),
        key=f"telehealth.evisit_submitted:{evisit.pk}",
        link=reverse("staff_evisits:review", args=[evisit.pk]),
        title=_("A new e-visit is waiting for review"),
        body=_("Open the e-visit queue to answer it."),
        patient=evisit.patient,
    )


@transaction.atomic
def do_withdraw_evisit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Withdraw a draft or a sent e-visit nobody has claimed; False when it was already withdrawn."""
    _check_patient_side(access)
    evisit = _locked(access, evisit)
    if evisit.status == EVisit.Status.WITHDRAWN:
        return False
    if evisit.status not in WITHDRAWABLE or evisit.claimed_at is not None:
        raise EVisitRefused(
            _(
                "A clinician has already started on this e-visit, so it cannot be withdrawn. Send a message instead."
            )
        )
    was = evisit.status
    evisit.status = EVisit.Status.WITHDRAWN
    evisit.withdrawn_at = timezone.now()
    evisit.save(update_fields=["status", "withdrawn_at", "updated_at"])
    record_write(
        actor, access, evisit_action(evisit, "telehealth.evisit_withdraw"), obj=evisit, detail={"was": was}
    )
    return True


# Keeping only what is needed -------------------------------------------------------------------


def sweep_evisits(now: dt.datetime | None = None) -> dict[str, int]:
    """Delete drafts and stopped e-visits older than `KEEP_UNSENT`, and the photos of withdrawn
    e-visits nobody took, with their files; returns the counts.

    Neither was ever answered, so neither is part of the record: keeping the answers and
    photos would only keep health data for nothing. A withdrawn e-visit's row stays (its
    audit trail and the patient's list name it); its photos go.
    """
    now = now or timezone.now()
    old = EVisit.objects.filter(status__in=UNSENT, created_at__lt=now - KEEP_UNSENT).order_by("pk")
    deleted = sum(_expire(pk, now) for pk in old.values_list("pk", flat=True).iterator(chunk_size=200))
    with_photos = (
        EVisit.objects.filter(status=EVisit.Status.WITHDRAWN, reviewer__isnull=True, photos__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    cleared = sum(_clear_photos(pk) for pk in with_photos.iterator(chunk_size=200))
    return {"evisits_deleted": deleted, "evisit_photos_cleared": cleared}


def _expire(pk: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        evisit = (
            EVisit.objects.select_for_update(of=("self",))
            .select_related("patient", "condition")
            .filter(pk=pk, status__in=UNSENT, created_at__lt=now - KEEP_UNSENT)
            .first()
        )
        if evisit is None:  # sent (or deleted) since the sweep listed it
            return False
        _delete_files_on_commit(evisit)
        detail = {"status": evisit.status, "condition": evisit.condition.slug}
        _record_system(evisit, "telehealth.evisit_expired", detail)
        evisit.delete()
    return True


def _clear_photos(pk: int) -> bool:
    with transaction.atomic():
        evisit = (
            EVisit.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(pk=pk, status=EVisit.Status.WITHDRAWN, reviewer__isnull=True)
            .first()
        )
        if evisit is None:
            return False
        count = _delete_files_on_commit(evisit)
        evisit.photos.all().delete()
        _record_system(evisit, "telehealth.evisit_photos_deleted", {"photos": count})
    return count > 0


def _delete_files_on_commit(evisit: EVisit) -> int:
    """Once the rows are gone for good, delete the e-visit's photo files; returns how many."""
    files = [(photo.file.storage, photo.file.name) for photo in evisit.photos.all() if photo.file.name]
    transaction.on_commit(lambda: _delete_files(files))
    return len(files)


def _delete_files(files: list[tuple[Any, str]]) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            # The row is gone; a file left behind is logged for someone to remove by hand.
            log.warning("Could not delete e-visit photo file %s", name, exc_info=True)


def _record_system(evisit: EVisit, action: str, detail: dict[str, Any]) -> None:
    record(
        Actor.system(),
        evisit_action(evisit, action),
        kind=Kind.WRITE,
        patient=evisit.patient,
        obj=evisit,
        detail=detail,
    )
