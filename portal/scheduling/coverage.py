"""Insurance cards and coverages: checking card photos, and adding or replacing a coverage.

Pre-check-in (`do_add_coverage`) and billing (`billing/insurance.py`) both store a
coverage through `store_coverage`.

A card photo is accepted only as a JPEG or PNG, re-encoded without its metadata
(`lib/uploads.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.lib import uploads
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Coverage
from portal.scheduling.actions_checkin import check_in_row, finish_if_done
from portal.scheduling.models import Appointment

SIDES = ("front", "back")


@dataclass(frozen=True)
class CardImage:
    """A re-encoded card photo, ready to store."""

    content: bytes
    content_type: str


def check_card_image(upload: UploadedFile) -> CardImage:
    """A JPEG or PNG up to PORTAL_INSURANCE_CARD_MAX_BYTES, re-encoded; else a ValidationError."""
    checked = uploads.check_image(
        upload, settings.PORTAL_INSURANCE_CARD_MAX_BYTES, _("Upload a JPEG or PNG photo of the card.")
    )
    return CardImage(checked.content, checked.content_type)


def in_use(access: PatientAccess) -> list[Coverage]:
    """The coverages on file that count (pending or verified), primary first."""
    return list(Coverage.objects.filter(patient=access.patient, status__in=[s.value for s in _IN_USE]))


_IN_USE = (Coverage.Status.PENDING, Coverage.Status.VERIFIED)


def store_coverage(
    actor: Actor,
    access: PatientAccess,
    details: dict[str, Any],
    front: CardImage,
    back: CardImage | None,
    replaces: Coverage | None = None,
) -> Coverage:
    """Store a new coverage waiting for staff to verify; the one it replaces stops being used.

    The shared part of adding insurance at pre-check-in and from billing: call it inside
    the caller's transaction, which audits the write under its own action name.
    """
    coverage = Coverage(
        patient=access.patient, status=Coverage.Status.PENDING, created_by=actor.user, **details
    )
    coverage.card_front.save("front", ContentFile(front.content), save=False)
    coverage.card_front_type = front.content_type
    if back is not None:
        coverage.card_back.save("back", ContentFile(back.content), save=False)
        coverage.card_back_type = back.content_type
    coverage.save()
    if replaces is not None:
        Coverage.objects.filter(pk=replaces.pk, patient=access.patient).update(
            status=Coverage.Status.INACTIVE, updated_at=timezone.now()
        )
    return coverage


def do_add_coverage(
    actor: Actor,
    access: PatientAccess,
    appointment: Appointment,
    details: dict[str, Any],
    front: CardImage,
    back: CardImage | None,
    replaces: Coverage | None = None,
) -> Coverage:
    """A new coverage waiting for staff to verify; the one it replaces stops being used.

    Also counts as the insurance step of pre-check-in.
    """
    with transaction.atomic():
        coverage = store_coverage(actor, access, details, front, back, replaces)
        check_in = check_in_row(appointment, actor)
        check_in.insurance_reviewed_at = timezone.now()
        check_in.save(update_fields=["insurance_reviewed_at", "updated_by", "updated_at"])
        record_write(
            actor,
            access,
            "checkin.coverage_add",
            obj=coverage,
            detail={"appointment": appointment.pk, "replaces": replaces.pk if replaces else None},
        )
        finish_if_done(actor, access, appointment)
    return coverage
