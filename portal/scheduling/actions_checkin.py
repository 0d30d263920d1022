"""Pre-check-in writes: each step saved as it is done, so a patient can stop and come back.

Every `do_*` is atomic and audits itself (`checkin.*`). When the last step is done the
pre-check-in is marked complete, in the same transaction as the step that finished it.
Adding insurance lives in `coverage.py` with the card checks.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, Role, record_write
from portal.patients.models import ProxyGrant
from portal.scheduling.checkin_progress import progress
from portal.scheduling.models import (
    Appointment,
    ConsentForm,
    ConsentSignature,
    PreCheckIn,
    Questionnaire,
    QuestionnaireAnswers,
)

REVIEW_FIELDS = {
    "medications": ("medications_reviewed_at", "medication_changes"),
    "allergies": ("allergies_reviewed_at", "allergy_changes"),
}


class CheckInRefused(ValueError):
    """A pre-check-in write that cannot be made (already signed, say); the message says why."""


def check_in_row(appointment: Appointment, actor: Actor) -> PreCheckIn:
    """The appointment's pre-check-in row, locked for this transaction, created on first use."""
    row, _ = PreCheckIn.objects.select_for_update().get_or_create(appointment=appointment)
    row.updated_by = actor.user
    return row


def finish_if_done(actor: Actor, access: PatientAccess, appointment: Appointment) -> bool:
    """Mark pre-check-in complete once every step is done; True if this call completed it."""
    state = progress(appointment)
    if not state.all_done or state.check_in is None or state.check_in.completed_at is not None:
        return False
    PreCheckIn.objects.filter(pk=state.check_in.pk).update(completed_at=timezone.now())
    record_write(
        actor, access, "checkin.complete", obj=state.check_in, detail={"appointment": appointment.pk}
    )
    return True


def do_confirm_demographics(actor: Actor, access: PatientAccess, appointment: Appointment) -> None:
    with transaction.atomic():
        row = check_in_row(appointment, actor)
        row.demographics_confirmed_at = timezone.now()
        row.save(update_fields=["demographics_confirmed_at", "updated_by", "updated_at"])
        record_write(
            actor, access, "checkin.demographics_confirm", obj=row, detail={"appointment": appointment.pk}
        )
        finish_if_done(actor, access, appointment)


def do_review_list(
    actor: Actor, access: PatientAccess, appointment: Appointment, which: str, changes: str
) -> None:
    """The patient says their medication or allergy list is right, or what has changed."""
    reviewed_field, changes_field = REVIEW_FIELDS[which]
    with transaction.atomic():
        row = check_in_row(appointment, actor)
        setattr(row, reviewed_field, timezone.now())
        setattr(row, changes_field, changes)
        row.save(update_fields=[reviewed_field, changes_field, "updated_by", "updated_at"])
        record_write(
            actor,
            access,
            f"checkin.{which}_review",
            obj=row,
            detail={"appointment": appointment.pk, "changed": bool(changes)},
        )
        finish_if_done(actor, access, appointment)


def do_confirm_insurance(actor: Actor, access: PatientAccess, appointment: Appointment) -> None:
    with transaction.atomic():
        row = check_in_row(appointment, actor)
        row.insurance_reviewed_at = timezone.now()
        row.save(update_fields=["insurance_reviewed_at", "updated_by", "updated_at"])
        record_write(
            actor, access, "checkin.insurance_confirm", obj=row, detail={"appointment": appointment.pk}
        )
        finish_if_done(actor, access, appointment)


def do_save_answers(
    actor: Actor,
    access: PatientAccess,
    appointment: Appointment,
    questionnaire: Questionnaire,
    items: list[dict[str, Any]],
    *,
    submit: bool,
) -> QuestionnaireAnswers:
    """Save answers; `submit` completes them, otherwise they stay in progress for later."""
    with transaction.atomic():
        answers, _ = QuestionnaireAnswers.objects.select_for_update().get_or_create(
            appointment=appointment,
            questionnaire=questionnaire,
            defaults={"patient": access.patient, "questionnaire_version": questionnaire.version},
        )
        if answers.status == QuestionnaireAnswers.Status.COMPLETED:
            raise CheckInRefused("already submitted")
        answers.items = items
        answers.authored_by = actor.user
        answers.questionnaire_version = questionnaire.version
        if submit:
            answers.status = QuestionnaireAnswers.Status.COMPLETED
            answers.completed_at = timezone.now()
        answers.save()
        action = "checkin.questionnaire_submit" if submit else "checkin.questionnaire_save"
        record_write(
            actor,
            access,
            action,
            obj=answers,
            detail={"appointment": appointment.pk, "questionnaire": questionnaire.slug},
        )
        if submit:
            finish_if_done(actor, access, appointment)
    return answers


def do_sign_consent(
    actor: Actor, access: PatientAccess, appointment: Appointment, form: ConsentForm, signed_name: str
) -> ConsentSignature:
    with transaction.atomic():
        # Serialises two submissions of the same form: the second sees the first's row.
        check_in_row(appointment, actor).save(update_fields=["updated_by", "updated_at"])
        if ConsentSignature.objects.filter(appointment=appointment, form=form).exists():
            raise CheckInRefused("already signed")
        signature = ConsentSignature.objects.create(
            patient=access.patient,
            form=form,
            form_version=form.version,
            appointment=appointment,
            signed_name=signed_name,
            signer_role=signer_role(access),
            signed_by=actor.user,
        )
        record_write(
            actor,
            access,
            "checkin.consent_sign",
            obj=signature,
            detail={"appointment": appointment.pk, "form": form.slug},
        )
        finish_if_done(actor, access, appointment)
    return signature


def signer_role(access: PatientAccess) -> str:
    """ "patient", or the proxy's relationship ("parent", "caregiver", ...)."""
    if access.role is Role.PROXY and access.grant_id is not None:
        relationship = (
            ProxyGrant.objects.filter(pk=access.grant_id).values_list("relationship", flat=True).first()
        )
        return relationship or Role.PROXY.value
    return access.role.value
