"""Every change the patient side makes to an e-visit: start, photos, submit, withdraw.

Each action is atomic, locks the e-visit row before looking at its status (so a double
click, or two app servers, agree on what happened), and writes its audit event in the
same transaction. The price is fixed when the e-visit is started, shown to the patient
from then on, and is what billing charges once a clinician answers.
"""

from __future__ import annotations

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
from portal.lib.uploads import CheckedFile
from portal.notifications.send import notify_staff
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import ProxyGrant, Scope
from portal.telehealth import red_flags
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto

MAX_PHOTOS = 5
PHOTO_MAX_BYTES = 10 * 1024 * 1024
# A clinician can still be asked to stop: sent, and nobody has claimed it yet.
WITHDRAWABLE = (EVisit.Status.DRAFT, EVisit.Status.SUBMITTED)


class EVisitRefused(Exception):
    """The e-visit cannot do that now; the message says why, for the patient."""


def evisit_price(condition: EVisitCondition) -> int:
    """What the patient is charged: the self-pay price, since an e-visit is billed to them directly."""
    return condition.price_item.self_pay_price_cents


def is_old_enough(condition: EVisitCondition, access: PatientAccess) -> bool:
    return access.patient.age_on(timezone.localdate()) >= condition.min_age


def _check_patient_side(access: PatientAccess) -> None:
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise EVisitRefused(_("You cannot start e-visits for this person."))


def _locked(evisit: EVisit) -> EVisit:
    # Only the e-visit's own row: locking the condition too would queue every patient's e-visit behind it.
    return EVisit.objects.select_for_update(of=("self",)).select_related("condition").get(pk=evisit.pk)


@transaction.atomic
def do_start_evisit(
    actor: Actor, access: PatientAccess, condition: EVisitCondition, answers: list[dict[str, Any]]
) -> EVisit:
    """Record the answers: a draft to review and send, or STOPPED when a red flag says so."""
    _check_patient_side(access)
    if not condition.active or not is_old_enough(condition, access):
        raise EVisitRefused(_("This e-visit is not available for this person."))
    flag = red_flags.match(condition, answers)
    evisit = EVisit.objects.create(
        patient=access.patient,
        condition=condition,
        status=EVisit.Status.STOPPED if flag else EVisit.Status.DRAFT,
        answers=answers,
        red_flag_advice=flag.advice if flag else "",
        red_flag_message=flag.message if flag else "",
        price_cents=evisit_price(condition),
        started_by=access.user,
    )
    if flag is not None:
        detail = {"condition": condition.slug, "advice": flag.advice, "question": flag.link_id}
        record_write(actor, access, "telehealth.evisit_stopped", obj=evisit, detail=detail)
    else:
        record_write(
            actor, access, "telehealth.evisit_start", obj=evisit, detail={"condition": condition.slug}
        )
    return evisit


@transaction.atomic
def do_add_evisit_photo(
    actor: Actor, access: PatientAccess, evisit: EVisit, checked: CheckedFile
) -> EVisitPhoto:
    """Attach one checked (re-encoded) photo to a draft that asks for photos, up to MAX_PHOTOS."""
    _check_patient_side(access)
    evisit = _locked(evisit)
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
    record_write(actor, access, "telehealth.evisit_photo", obj=evisit, detail={"photo": photo.pk})
    return photo


@transaction.atomic
def do_remove_evisit_photo(actor: Actor, access: PatientAccess, photo: EVisitPhoto) -> None:
    """Take a photo off a draft; the stored file goes once the removal is committed."""
    _check_patient_side(access)
    evisit = _locked(photo.evisit)
    if evisit.status != EVisit.Status.DRAFT:
        raise EVisitRefused(_("Photos can be removed only before the e-visit is sent."))
    storage, name = photo.file.storage, photo.file.name
    photo_id = photo.pk
    photo.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))
    record_write(actor, access, "telehealth.evisit_photo_remove", obj=evisit, detail={"photo": photo_id})


@transaction.atomic
def do_submit_evisit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Send a draft to the condition's review team; False when it was already sent (a second click).

    The price stays what the draft recorded and the patient was shown, whatever the
    price list says now.
    """
    _check_patient_side(access)
    evisit = _locked(evisit)
    if evisit.status != EVisit.Status.DRAFT:
        if evisit.status in (*EVisit.OPEN_STATUSES, EVisit.Status.COMPLETED, EVisit.Status.REDIRECTED):
            return False
        raise EVisitRefused(_("This e-visit can no longer be sent."))
    if not evisit.condition.active:
        raise EVisitRefused(
            _("E-visits for this problem are no longer offered. Send a message to your care team.")
        )
    evisit.status = EVisit.Status.SUBMITTED
    evisit.submitted_at = timezone.now()
    evisit.save(update_fields=["status", "submitted_at", "updated_at"])
    record_write(
        actor,
        access,
        "telehealth.evisit_submit",
        obj=evisit,
        detail={"condition": evisit.condition.slug, "price_cents": evisit.price_cents},
    )
    _tell_review_team(evisit)
    return True


def review_team_members(evisit: EVisit) -> QuerySet[User]:
    """Active members of the condition's review team, less the patient and their proxies."""
    family = ProxyGrant.objects.active().filter(patient_id=evisit.patient_id).values("grantee_id")
    members = User.objects.filter(
        practitioner__care_teams=evisit.condition.review_team_id, practitioner__active=True, is_active=True
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
    evisit = _locked(evisit)
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
    record_write(actor, access, "telehealth.evisit_withdraw", obj=evisit, detail={"was": was})
    return True
