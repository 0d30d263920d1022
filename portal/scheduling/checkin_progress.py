"""How far a patient has got with pre-check-in, for the patient's page and the desk's lists.

`progress_for` answers for any number of appointments in five queries (pre-check-in
rows, the visit types' questionnaires and consent forms, completed answers, signatures),
so a day list of the desk does not grow in queries with its length.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.scheduling.models import (
    Appointment,
    ConsentSignature,
    PreCheckIn,
    Questionnaire,
    QuestionnaireAnswers,
    VisitType,
)


@dataclass(frozen=True)
class Step:
    """One thing to do before the visit, and when it was done (None while it is not)."""

    key: str
    name: str
    when: dt.datetime | None
    url: str

    @property
    def done(self) -> bool:
        return self.when is not None


@dataclass(frozen=True)
class Progress:
    appointment: Appointment
    check_in: PreCheckIn | None
    steps: list[Step]

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def all_done(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def next_step(self) -> Step | None:
        return next((step for step in self.steps if not step.done), None)

    @property
    def completed_at(self) -> dt.datetime | None:
        return self.check_in.completed_at if self.check_in else None

    @property
    def medication_changes(self) -> str:
        return self.check_in.medication_changes if self.check_in else ""

    @property
    def allergy_changes(self) -> str:
        return self.check_in.allergy_changes if self.check_in else ""


def opens_at(appointment: Appointment) -> dt.datetime:
    return appointment.starts_at - dt.timedelta(days=settings.PORTAL_PRECHECKIN_DAYS)


def is_open(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """From PORTAL_PRECHECKIN_DAYS before a booked visit until it starts."""
    now = now or timezone.now()
    return (
        appointment.status == Appointment.Status.BOOKED
        and opens_at(appointment) <= now < appointment.starts_at
    )


def progress(appointment: Appointment) -> Progress:
    return progress_for([appointment])[appointment.pk]


def progress_for(appointments: Iterable[Appointment]) -> dict[int, Progress]:
    """Each appointment's progress by its id; the appointments need their visit type loaded."""
    appointments = list(appointments)
    if not appointments:
        return {}
    ids = [appointment.pk for appointment in appointments]
    type_ids = {appointment.visit_type_id for appointment in appointments}
    check_ins = {row.appointment_id: row for row in PreCheckIn.objects.filter(appointment_id__in=ids)}
    questionnaires = _needed(
        VisitType.questionnaires.through.objects.filter(
            visittype_id__in=type_ids, questionnaire__status=Questionnaire.Status.ACTIVE
        )
        .order_by("questionnaire__title", "questionnaire_id")
        .values_list("visittype_id", "questionnaire_id", "questionnaire__title")
    )
    consents = _needed(
        VisitType.consent_forms.through.objects.filter(visittype_id__in=type_ids, consentform__active=True)
        .order_by("consentform__title", "consentform_id")
        .values_list("visittype_id", "consentform_id", "consentform__title")
    )
    answered = {
        (appointment_id, questionnaire_id): when
        for appointment_id, questionnaire_id, when in QuestionnaireAnswers.objects.filter(
            appointment_id__in=ids, status=QuestionnaireAnswers.Status.COMPLETED
        ).values_list("appointment_id", "questionnaire_id", "completed_at")
    }
    signed = {
        (appointment_id, form_id): when
        for appointment_id, form_id, when in ConsentSignature.objects.filter(
            appointment_id__in=ids
        ).values_list("appointment_id", "form_id", "signed_at")
    }
    return {
        appointment.pk: _progress(
            appointment,
            check_ins.get(appointment.pk),
            questionnaires[appointment.visit_type_id],
            consents[appointment.visit_type_id],
            answered,
            signed,
        )
        for appointment in appointments
    }


def _needed(rows: Iterable[tuple[int, int, str]]) -> defaultdict[int, list[tuple[int, str]]]:
    by_type: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for type_id, object_id, title in rows:
        by_type[type_id].append((object_id, title))
    return by_type


def _progress(
    appointment: Appointment,
    check_in: PreCheckIn | None,
    questionnaires: list[tuple[int, str]],
    consents: list[tuple[int, str]],
    answered: dict[tuple[int, int], dt.datetime | None],
    signed: dict[tuple[int, int], dt.datetime],
) -> Progress:
    pk = appointment.pk

    def url(name: str, *extra: int) -> str:
        return reverse(f"checkin:{name}", args=[pk, *extra])

    steps = [
        Step(
            "demographics",
            _("Confirm your details"),
            _at(check_in, "demographics_confirmed_at"),
            url("details"),
        ),
        Step(
            "medications",
            _("Review your medications"),
            _at(check_in, "medications_reviewed_at"),
            url("medications"),
        ),
        Step(
            "allergies", _("Review your allergies"), _at(check_in, "allergies_reviewed_at"), url("allergies")
        ),
        Step(
            "insurance", _("Check your insurance"), _at(check_in, "insurance_reviewed_at"), url("insurance")
        ),
    ]
    steps += [
        Step(
            f"questionnaire-{object_id}",
            title,
            answered.get((pk, object_id)),
            url("questionnaire", object_id),
        )
        for object_id, title in questionnaires
    ]
    steps += [
        Step(f"consent-{object_id}", title, signed.get((pk, object_id)), url("consent", object_id))
        for object_id, title in consents
    ]
    return Progress(appointment, check_in, steps)


def _at(check_in: PreCheckIn | None, field_name: str) -> dt.datetime | None:
    return getattr(check_in, field_name) if check_in is not None else None
