"""Pre-check-in pages: the patient's steps before a visit, card downloads, and the desk's view.

Every page names its appointment in the URL and loads it through `require_appointment`
with the schedule scope, so another patient's visit is the same 404 as a missing one.
Steps open PORTAL_PRECHECKIN_DAYS before a booked visit and close when it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from portal.audit.actor import Actor
from portal.billing.estimates import visit_estimate
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Coverage, Scope
from portal.patients.selection import patient_page
from portal.records.access import visible
from portal.records.models import Allergy, Medication
from portal.scheduling import questionnaires
from portal.scheduling.access import require_appointment, require_patient_object, staff_may_read_check_in
from portal.scheduling.actions_checkin import (
    CheckInRefused,
    do_confirm_demographics,
    do_confirm_insurance,
    do_review_list,
    do_save_answers,
    do_sign_consent,
)
from portal.scheduling.checkin_progress import is_open, opens_at, progress
from portal.scheduling.coverage import SIDES, do_add_coverage, in_use
from portal.scheduling.forms_checkin import ConsentSignForm, CoverageForm, ListReviewForm
from portal.scheduling.models import Appointment, ConsentSignature, Questionnaire, QuestionnaireAnswers
from portal.staff.decorators import staff_page

# A real list is far shorter; the cap only guards the page.
LIST_CAP = 100
StepView = Callable[..., HttpResponse]
M = TypeVar("M", bound=Model)


def checkin_step(view: StepView) -> StepView:
    """A patient-side pre-check-in page: the appointment loaded through the policy, the window open."""

    @require_http_methods(["GET", "POST"])
    @patient_page(scope=Scope.SCHEDULE)
    @wraps(view)
    def wrapper(
        request: HttpRequest, _current: PatientAccess, appointment_id: int, **kwargs: Any
    ) -> HttpResponse:
        appointment, access = require_appointment(request, appointment_id, manage=True)
        if not is_open(appointment):
            return _closed(request, access, appointment, status=409 if request.method == "POST" else 200)
        return view(request, access, appointment, **kwargs)

    return wrapper


def _closed(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, status: int = 200
) -> HttpResponse:
    opens = opens_at(appointment)
    not_yet = appointment.status == Appointment.Status.BOOKED and timezone.now() < opens
    context = {"access": access, "appointment": appointment, "opens_at": opens if not_yet else None}
    return render(request, "scheduling/checkin/closed.html", context, status=status)


def _onwards(appointment: Appointment) -> HttpResponse:
    """To the next step not yet done, or back to the overview when all are."""
    step = progress(appointment).next_step
    return redirect(step.url if step else "checkin:start", *([] if step else [appointment.pk]))


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, f"scheduling/checkin/{template}", context, status=status)


@require_GET
@patient_page(scope=Scope.SCHEDULE)
def start(request: HttpRequest, _current: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id, manage=True)
    if not is_open(appointment) and not _finished(appointment):
        return _closed(request, access, appointment)
    record_read(request, access, "checkin.view", obj=appointment)
    return _page(
        request, "start.html", access=access, appointment=appointment, progress=progress(appointment)
    )


def _finished(appointment: Appointment) -> bool:
    return appointment.status == Appointment.Status.BOOKED and progress(appointment).completed_at is not None


@checkin_step
def details(request: HttpRequest, access: PatientAccess, appointment: Appointment) -> HttpResponse:
    if request.method == "POST":
        do_confirm_demographics(Actor.from_request(request), access, appointment)
        return _onwards(appointment)
    record_read(request, access, "checkin.details_view", obj=appointment)
    patient = access.patient
    try:
        language = get_language_info(patient.preferred_language)["name_translated"]
    except KeyError:
        language = patient.preferred_language
    return _page(
        request, "details.html", access=access, appointment=appointment, patient=patient, language=language
    )


@checkin_step
def medications(request: HttpRequest, access: PatientAccess, appointment: Appointment) -> HttpResponse:
    return _review(request, access, appointment, "medications")


@checkin_step
def allergies(request: HttpRequest, access: PatientAccess, appointment: Appointment) -> HttpResponse:
    return _review(request, access, appointment, "allergies")


def _review(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, which: str
) -> HttpResponse:
    check_in = progress(appointment).check_in
    saved = getattr(check_in, "medication_changes" if which == "medications" else "allergy_changes", "")
    form = ListReviewForm(
        request.POST if request.method == "POST" else None,
        something_changed=request.POST.get("choice") == "changed",
        initial={"changes": saved},
    )
    if request.method == "POST" and form.is_valid():
        do_review_list(Actor.from_request(request), access, appointment, which, form.cleaned_data["changes"])
        return _onwards(appointment)
    rows: list[Any] | None = None
    if access.allows(Scope.VIEW):
        rows = list(_current_rows(access, which)[: LIST_CAP + 1])
        record_read(request, access, f"checkin.{which}_view", obj=appointment)
    status = 400 if form.is_bound else 200
    return _page(
        request,
        "review.html",
        status,
        access=access,
        appointment=appointment,
        which=which,
        rows=rows,
        form=form,
    )


def _current_rows(access: PatientAccess, which: str) -> Any:
    if which == "medications":
        active = [Medication.Status.ACTIVE, Medication.Status.ON_HOLD]
        return visible(Medication, access).filter(status__in=active).order_by("name", "id")
    return visible(Allergy, access).filter(status=Allergy.Status.ACTIVE).order_by("substance", "id")


@checkin_step
def insurance(request: HttpRequest, access: PatientAccess, appointment: Appointment) -> HttpResponse:
    if request.method == "POST":
        do_confirm_insurance(Actor.from_request(request), access, appointment)
        return _onwards(appointment)
    coverages = in_use(access)
    record_read(request, access, "checkin.insurance_view", obj=appointment)
    estimate = visit_estimate(access, appointment.visit_type)
    return _page(
        request,
        "insurance.html",
        access=access,
        appointment=appointment,
        coverages=coverages,
        estimate=estimate,
        visit_type=appointment.visit_type,
    )


@checkin_step
def insurance_add(request: HttpRequest, access: PatientAccess, appointment: Appointment) -> HttpResponse:
    on_file = in_use(access)
    form = CoverageForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        on_file=on_file,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        do_add_coverage(
            Actor.from_request(request),
            access,
            appointment,
            form.details(),
            data["card_front"],
            data["card_back"],
            data.get("replaces"),
        )
        messages.success(request, _("Thank you. The clinic will check your insurance before the visit."))
        return _onwards(appointment)
    status = 400 if form.is_bound else 200
    return _page(request, "coverage_form.html", status, access=access, appointment=appointment, form=form)


@checkin_step
def questionnaire(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, questionnaire_id: int
) -> HttpResponse:
    active = appointment.visit_type.questionnaires.filter(status=Questionnaire.Status.ACTIVE)
    chosen = _one_of(request, access, active, questionnaire_id)
    answers = QuestionnaireAnswers.objects.filter(appointment=appointment, questionnaire=chosen).first()
    layout = questionnaires.layout_of(chosen)
    context: dict[str, Any] = {"access": access, "appointment": appointment, "questionnaire": chosen}
    if answers is not None and answers.status == QuestionnaireAnswers.Status.COMPLETED:
        record_read(request, access, "checkin.questionnaire_view", obj=answers)
        return _page(
            request, "questionnaire_done.html", **context, answers=questionnaires.readable(answers.items)
        )
    submit = request.POST.get("action") == "submit"
    form = questionnaires.QuestionnaireForm(
        request.POST if request.method == "POST" else None,
        layout=layout,
        require=submit,
        initial=questionnaires.initial_from(layout, answers.items if answers else []),
    )
    if request.method == "POST" and form.is_valid():
        items = questionnaires.response_items(form)
        try:
            do_save_answers(Actor.from_request(request), access, appointment, chosen, items, submit=submit)
        except CheckInRefused:
            return redirect("checkin:questionnaire", appointment.pk, chosen.pk)
        if submit:
            return _onwards(appointment)
        messages.success(request, _("Your answers are saved. You can finish them later."))
        return redirect("checkin:start", appointment.pk)
    if answers is not None:
        record_read(request, access, "checkin.questionnaire_view", obj=answers)
    status = 400 if form.is_bound else 200
    return _page(request, "questionnaire.html", status, **context, form=form)


def _one_of(request: HttpRequest, access: PatientAccess, queryset: QuerySet[M], pk: int) -> M:
    """A questionnaire or consent form of this visit's type, or the 404 of a missing one."""
    row = queryset.filter(pk=pk).first()
    if row is None:
        refuse(request, access.patient, what=queryset.model._meta.label_lower, lookup=str(pk))
        raise Http404  # refuse has raised it already; this tells the type checker
    return row


@checkin_step
def consent(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, form_id: int
) -> HttpResponse:
    consent_form = _one_of(request, access, appointment.visit_type.consent_forms.filter(active=True), form_id)
    signature = ConsentSignature.objects.filter(appointment=appointment, form=consent_form).first()
    form = ConsentSignForm(request.POST if request.method == "POST" and signature is None else None)
    if form.is_bound and form.is_valid():
        try:
            do_sign_consent(
                Actor.from_request(request),
                access,
                appointment,
                consent_form,
                form.cleaned_data["signed_name"],
            )
        except CheckInRefused:
            return redirect("checkin:consent", appointment.pk, consent_form.pk)
        return _onwards(appointment)
    status = 400 if form.is_bound else 200
    context = {"access": access, "appointment": appointment, "consent": consent_form, "signature": signature}
    return _page(request, "consent.html", status, **context, form=form)


@require_GET
@login_required
def card(request: HttpRequest, coverage_id: int, side: str) -> HttpResponse:
    """A photo of an insurance card, only ever as a download, to whoever may schedule for the patient."""
    coverage, access = require_patient_object(request, Coverage.objects.all(), coverage_id, side="either")
    stored = coverage.card_front if side == "front" else coverage.card_back if side == "back" else None
    if side not in SIDES or not stored:
        refuse(request, coverage.patient, what="patients.coverage", lookup=f"{coverage_id}/{side[:10]}")
        raise Http404  # refuse has raised it already; this tells the type checker
    content_type = coverage.card_front_type if side == "front" else coverage.card_back_type
    try:
        with stored.open("rb") as stream:
            content = stream.read()  # at most PORTAL_INSURANCE_CARD_MAX_BYTES, re-encoded
    except OSError:
        refuse(request, coverage.patient, what="patients.coverage", lookup=f"{coverage_id}/{side}")
    record_read(request, access, "checkin.card_view", obj=coverage, side=side)
    extension = "png" if content_type == "image/png" else "jpg"
    response = HttpResponse(content, content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="insurance-card-{side}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@staff_page
def staff(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """What a patient has done before the visit, for the desk and the clinician."""
    appointment, access = require_appointment(request, appointment_id, side="staff")
    if not staff_may_read_check_in(request.user, access, appointment):
        refuse(request, appointment.patient, what="scheduling.appointment", lookup=str(appointment_id))
    # Answers and reported changes are clinical: the care team's, not the desk's.
    clinical = access.allows(Scope.VIEW)
    answers = (
        [
            (answer, questionnaires.readable(answer.items))
            for answer in QuestionnaireAnswers.objects.filter(appointment=appointment).select_related(
                "questionnaire"
            )
        ]
        if clinical
        else []
    )
    context = {
        "clinical": clinical,
        "appointment": appointment,
        "patient": access.patient,
        "progress": progress(appointment),
        "answers": answers,
        "signatures": list(ConsentSignature.objects.filter(appointment=appointment).select_related("form")),
        "coverages": in_use(access),
    }
    record_read(request, access, "checkin.staff_view", obj=appointment)
    return render(request, "scheduling/checkin/staff.html", context)
