"""The staff side: the access-request queue, and activation codes for a patient."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.patients.access import record_read, staff_patients
from portal.registration import actions
from portal.registration.access import (
    desks_of,
    require_access_request,
    require_code,
    require_code_patient,
    visible_requests,
)
from portal.registration.forms import DeclineForm
from portal.registration.matching import local_today
from portal.registration.models import AccessRequest, ActivationCode
from portal.staff.decorators import staff_page
from portal.staff.forms import PatientSearchForm
from portal.staff.search import search_patients

PAGE_SIZE = 25
OPEN = "open"


@staff_page
def queue(request: HttpRequest) -> HttpResponse:
    """Requests for access that the user's desks handle, newest first."""
    user = signed_in_user(request)
    desks = desks_of(user)
    status = request.GET.get("status") or OPEN
    requests = visible_requests(user, desks).select_related("campus")
    if status == OPEN:
        requests = requests.filter(status__in=AccessRequest.OPEN_STATUSES)
    elif status in AccessRequest.Status.values:
        requests = requests.filter(status=status)
    else:
        status = OPEN
        requests = requests.filter(status__in=AccessRequest.OPEN_STATUSES)
    page = keyset_page(requests, request.GET.get("before"), PAGE_SIZE)
    context = {
        "page": page,
        "status": status,
        "statuses": [(OPEN, _("Open")), *AccessRequest.Status.choices],
        "desks": desks,
    }
    return render(request, "registration/staff/queue.html", context)


@staff_page
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    access_request = require_access_request(request, request_id)
    return _request_page(request, access_request, DeclineForm())


def _request_page(
    request: HttpRequest, access_request: AccessRequest, decline_form: DeclineForm, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {"item": access_request, "decline_form": decline_form}
    if access_request.is_open:
        default = {
            "q": f"{access_request.given_name} {access_request.family_name}",
            "birth_date": access_request.birth_date.isoformat(),
        }
        search = PatientSearchForm(request.GET if "q" in request.GET else default)
        reachable = staff_patients(signed_in_user(request))
        context["search"] = search
        if search.is_valid():
            context["results"] = search_patients(
                reachable, search.cleaned_data["q"], search.cleaned_data["birth_date"]
            )
    return render(request, "registration/staff/request_detail.html", context, status=status)


@staff_page
@require_POST
def match_request(request: HttpRequest, request_id: int) -> HttpResponse:
    access_request = require_access_request(request, request_id)
    access = require_code_patient(request, request.POST.get("patient", ""))
    try:
        actions.do_match_access_request(Actor.from_request(request), access_request, access.patient)
    except actions.RegistrationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            _("Matched to %(name)s. Check the details, then send a code.")
            % {"name": access.patient.full_name},
        )
    return redirect("registration_staff:request", request_id=access_request.pk)


@staff_page
@require_POST
def send_code(request: HttpRequest, request_id: int) -> HttpResponse:
    access_request = require_access_request(request, request_id)
    if access_request.matched_patient is not None:
        # The matched patient must still be someone this user may issue codes for.
        require_code_patient(request, access_request.matched_patient.pk)
    try:
        actions.do_send_access_request_code(Actor.from_request(request), access_request)
    except actions.RegistrationRefused as refusal:
        messages.error(request, str(refusal))
    except OSError:
        messages.error(
            request,
            _(
                "The code was issued, but the email could not be sent. Issue a new code from the patient's page."
            ),
        )
    else:
        messages.success(
            request, _("The activation code was emailed to %(email)s.") % {"email": access_request.email}
        )
    return redirect("registration_staff:request", request_id=access_request.pk)


@staff_page
@require_POST
def decline_request(request: HttpRequest, request_id: int) -> HttpResponse:
    access_request = require_access_request(request, request_id)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _request_page(request, access_request, form)
    try:
        actions.do_decline_access_request(
            Actor.from_request(request), access_request, form.cleaned_data["reason"]
        )
    except actions.RegistrationRefused as refusal:
        messages.error(request, str(refusal))
    except OSError:
        messages.error(
            request, _("The request was declined, but the email could not be sent. Call the requester.")
        )
    else:
        messages.success(request, _("The request was declined and the requester was told why."))
    return redirect("registration_staff:request", request_id=access_request.pk)


@staff_page
def find_patient(request: HttpRequest) -> HttpResponse:
    """Find a patient (within the access policy) to issue an activation code for."""
    form = PatientSearchForm(request.GET or None)
    results = None
    if form.is_bound and form.is_valid():
        reachable = staff_patients(signed_in_user(request))
        results = search_patients(reachable, form.cleaned_data["q"], form.cleaned_data["birth_date"])
    return render(request, "registration/staff/find_patient.html", {"form": form, "results": results})


@staff_page
def patient_codes(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_code_patient(request, patient_id)
    record_read(request, access, "activation_code.view")
    codes = ActivationCode.objects.filter(patient=access.patient).select_related("created_by", "revoked_by")
    context = {"patient": access.patient, "codes": list(codes[:20])}
    return render(request, "registration/staff/patient_codes.html", context)


@staff_page
@require_POST
def issue_code(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Issue a code and show it, this once, as a letter to print."""
    access = require_code_patient(request, patient_id)
    try:
        issued = actions.do_issue_activation_code(Actor.from_request(request), access.patient)
    except actions.RegistrationRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("registration_staff:patient", patient_id=access.patient.pk)
    patient = access.patient
    context = {
        "patient": patient,
        "campus": patient.primary_campus,
        "code": issued.display,
        "expires_on": local_today(patient, issued.code.expires_at),
        "register_url": request.build_absolute_uri(reverse("registration:create_account")),
    }
    return render(request, "registration/staff/letter.html", context)


@staff_page
@require_POST
def revoke_code(request: HttpRequest, code_id: int) -> HttpResponse:
    code, access = require_code(request, code_id)
    try:
        actions.do_revoke_activation_code(Actor.from_request(request), code)
    except actions.RegistrationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("The code was cancelled. It can no longer be used."))
    return redirect("registration_staff:patient", patient_id=access.patient.pk)
