"""Insurance at pre-check-in: checking card photos, and adding or replacing a coverage.

A card photo is accepted only if Pillow reads it as a JPEG or PNG (the name and the
browser's content type are the sender's claims). It is then re-encoded from its pixels
alone, so nothing of the original file is kept: no EXIF, no GPS position, no comments,
nothing appended after the image data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Coverage
from portal.scheduling.actions_checkin import check_in_row, finish_if_done
from portal.scheduling.models import Appointment

# A phone photo of a card is far below this; larger is a decompression bomb, not a card.
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
SIDES = ("front", "back")


@dataclass(frozen=True)
class CardImage:
    """A re-encoded card photo, ready to store."""

    content: bytes
    content_type: str


def check_card_image(upload: UploadedFile) -> CardImage:
    """A JPEG or PNG up to PORTAL_INSURANCE_CARD_MAX_BYTES, re-encoded; else a ValidationError."""
    limit = settings.PORTAL_INSURANCE_CARD_MAX_BYTES
    size = upload.size or 0
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > limit:
        raise ValidationError(
            _("The photo is too large. Upload a photo of %(limit)s or less.")
            % {"limit": filesizeformat(limit)},
            code="too_large",
        )
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            if image.format not in FORMATS:
                raise ValidationError(_("Upload a JPEG or PNG photo of the card."), code="wrong_type")
            if image.width * image.height > MAX_PIXELS:
                raise ValidationError(_("The photo has too many pixels."), code="too_large")
            return _reencode(image, image.format)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise ValidationError(_("Upload a JPEG or PNG photo of the card."), code="wrong_type") from error


def _reencode(image: Image.Image, image_format: str) -> CardImage:
    # Turn the pixels upright first: the orientation tag goes with the rest of the metadata.
    upright = ImageOps.exif_transpose(image) or image
    keeps_alpha = image_format == "PNG" and ("A" in upright.getbands() or "transparency" in upright.info)
    mode = "RGBA" if keeps_alpha else "RGB"
    pixels = upright.convert(mode)
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if image_format == "JPEG":
        clean.save(out, "JPEG", quality=90)
    else:
        clean.save(out, "PNG", optimize=True)
    return CardImage(out.getvalue(), FORMATS[image_format])


def in_use(access: PatientAccess) -> list[Coverage]:
    """The coverages on file that count (pending or verified), primary first."""
    return list(Coverage.objects.filter(patient=access.patient, status__in=[s.value for s in _IN_USE]))


_IN_USE = (Coverage.Status.PENDING, Coverage.Status.VERIFIED)


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
