"""The patient's side of e-visits: /e-visits/.

Choosing a condition, answering its questions, reviewing (answers, photos, price) and
sending, then reading the clinician's answer. Every page needs the message scope; an
e-visit a URL names is loaded through `telehealth.evisit_access.require_patient_evisit`, so
another patient's is the same audited 404 as a missing one, and a member of staff who
is also a patient never brings their staff rights here.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, filter_confidential, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.listing import dated_page
from portal.scheduling.models import Questionnaire
from portal.scheduling.questionnaires import QuestionnaireForm, layout_of, readable, response_items
from portal.telehealth import evisits
from portal.telehealth.evisit_access import evisits_of, require_patient_evisit
from portal.telehealth.forms_evisits import PhotoForm
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto
from portal.telehealth.photos import photo_response
from portal.telehealth.phrases_evisits import evisit_action

PER_PAGE = 20


# The list, and choosing what the e-visit is about ----------------------------------------------


@require_safe
@patient_page(Scope.MESSAGE)
def evisit_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    page = dated_page(evisits_of(access), request.GET.get("after"), PER_PAGE, "created_at")
    record_read(request, access, "telehealth.evisit_list")
    context = {
        "access": access,
        "page": page,
        "paged": bool(request.GET.get("after")),
        "campus": access.patient.primary_campus,
    }
    return render(request, "telehealth/evisits/list.html", context)


def available_conditions(access: PatientAccess) -> Any:
    """Active conditions the patient is old enough for, with their price item, in one query.

    A parent of a 12-17-year-old is not offered a confidential one: they could not see
    the e-visit once started.
    """
    age = access.patient.age_on(timezone.localdate())
    conditions = EVisitCondition.objects.filter(
        active=True, min_age__lte=age, questionnaire__status=Questionnaire.Status.ACTIVE
    ).select_related("price_item", "questionnaire")
    return filter_confidential(conditions, access, "sensitivity")


@require_safe
@patient_page(Scope.MESSAGE)
def choose_condition(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    conditions = [(condition, evisits.evisit_price(condition)) for condition in available_conditions(access)]
    context = {
        "access": access,
        "conditions": conditions,
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
    }
    return render(request, "telehealth/evisits/choose.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.MESSAGE)
def questionnaire(request: HttpRequest, access: PatientAccess, condition_slug: str) -> HttpResponse:
    condition = available_conditions(access).filter(slug=condition_slug).first()
    if condition is None:
        refuse(request, access.patient, what="telehealth.evisitcondition", lookup=condition_slug[:100])
        raise Http404  # refuse() has raised already; this line is for the type checker
    form = QuestionnaireForm(
        request.POST if request.method == "POST" else None, layout=layout_of(condition.questionnaire)
    )
    if form.is_bound and form.is_valid():
        try:
            evisit = evisits.do_start_evisit(
                Actor.from_request(request), access, condition, response_items(form)
            )
        except evisits.EVisitRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("evisits:detail", evisit_id=evisit.pk)
    context = {
        "access": access,
        "condition": condition,
        "form": form,
        "price_cents": evisits.evisit_price(condition),
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
    }
    return render(
        request, "telehealth/evisits/questionnaire.html", context, status=400 if form.is_bound else 200
    )


# One e-visit -----------------------------------------------------------------------------------


@require_safe
@patient_page(scope=None)
def evisit_detail(request: HttpRequest, _viewing: PatientAccess, evisit_id: int) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    return _detail(request, access, evisit, PhotoForm())


def _detail(
    request: HttpRequest, access: PatientAccess, evisit: EVisit, photo_form: PhotoForm, status: int = 200
) -> HttpResponse:
    record_read(request, access, evisit_action(evisit, "telehealth.evisit_view"), obj=evisit)
    photos = list(evisit.photos.all())
    is_draft = evisit.status == EVisit.Status.DRAFT
    medication = evisit.medication if evisit.medication_id else None
    context = {
        "access": access,
        "evisit": evisit,
        "condition": evisit.condition,
        "answers": readable(evisit.answers),
        "photos": photos,
        "photo_form": photo_form,
        "may_add_photo": is_draft and evisit.condition.asks_for_photos and len(photos) < evisits.MAX_PHOTOS,
        "may_remove_photo": is_draft,
        "max_photos": evisits.MAX_PHOTOS,
        "may_withdraw": evisit.status in evisits.WITHDRAWABLE and evisit.claimed_at is None,
        "campus": access.patient.primary_campus,
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
        "medication": medication if medication and not access.hides(medication.sensitivity) else None,
        "referral": evisit.referral if evisit.referral_id else None,
        "may_see_record": access.allows(Scope.VIEW),
        "may_schedule": access.allows(Scope.SCHEDULE),
        "may_see_bills": access.allows(Scope.BILLING),
    }
    return render(request, "telehealth/evisits/detail.html", context, status=status)


@require_POST
@patient_page(scope=None)
def add_photo(request: HttpRequest, _viewing: PatientAccess, evisit_id: int) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, access, evisit, form, status=400)
    try:
        evisits.do_add_evisit_photo(Actor.from_request(request), access, evisit, form.cleaned_data["photo"])
    except evisits.EVisitRefused as refusal:
        form.add_error(None, str(refusal))
        return _detail(request, access, evisit, form, status=400)
    messages.success(request, _("The photo was added."))
    return redirect(reverse("evisits:detail", args=[evisit.pk]) + "#photos")


@require_POST
@patient_page(scope=None)
def remove_photo(
    request: HttpRequest, _viewing: PatientAccess, evisit_id: int, photo_id: int
) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    found = _photo_of(request, access, evisit, photo_id)
    try:
        evisits.do_remove_evisit_photo(Actor.from_request(request), access, found)
    except evisits.EVisitRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("The photo was removed."))
    return redirect(reverse("evisits:detail", args=[evisit.pk]) + "#photos")


@require_safe
@patient_page(scope=None)
def photo(request: HttpRequest, _viewing: PatientAccess, evisit_id: int, photo_id: int) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    found = _photo_of(request, access, evisit, photo_id)
    action = evisit_action(evisit, "telehealth.evisit_photo_view")
    record_read(request, access, action, obj=evisit, photo=found.pk)
    # A streamed file, where the page decorators expect an ordinary response type.
    return cast(HttpResponse, photo_response(found))


def _photo_of(request: HttpRequest, access: PatientAccess, evisit: EVisit, photo_id: int) -> EVisitPhoto:
    found = EVisitPhoto.objects.filter(evisit=evisit, pk=photo_id).first()
    if found is None:
        refuse(request, access.patient, what="telehealth.evisitphoto", lookup=str(photo_id))
        raise Http404  # refuse() has raised already; this line is for the type checker
    found.evisit = evisit
    return found


# Sending and withdrawing -----------------------------------------------------------------------


@require_POST
@patient_page(scope=None)
def submit(request: HttpRequest, _viewing: PatientAccess, evisit_id: int) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    try:
        sent = evisits.do_submit_evisit(Actor.from_request(request), access, evisit)
    except evisits.PriceChanged as changed:
        # Back to the review step (the draft's page), now showing the new price.
        messages.warning(request, str(changed))
    except evisits.EVisitRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if sent:
            messages.success(
                request,
                _("Your e-visit was sent. You will get a notification when a clinician answers."),
            )
    return redirect("evisits:detail", evisit_id=evisit.pk)


@require_POST
@patient_page(scope=None)
def withdraw(request: HttpRequest, _viewing: PatientAccess, evisit_id: int) -> HttpResponse:
    evisit, access = require_patient_evisit(request, evisit_id)
    try:
        withdrawn = evisits.do_withdraw_evisit(Actor.from_request(request), access, evisit)
    except evisits.EVisitRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if withdrawn:
            messages.success(request, _("The e-visit was withdrawn. Nothing will be charged."))
    return redirect("evisits:detail", evisit_id=evisit.pk)
