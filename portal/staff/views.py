from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.patients import actions
from portal.patients.access import record_read, require_patient, staff_patients
from portal.patients.models import BreakGlassAccess, CareRelationship, Patient, ProxyGrant
from portal.staff.decorators import staff_page
from portal.staff.forms import BreakGlassForm, PatientSearchForm
from portal.staff.search import search_patients


@staff_page
def home(request: HttpRequest) -> HttpResponse:
    """The staff workspace: patient search within what the access policy allows."""
    form = PatientSearchForm(request.GET or None)
    results = None
    if form.is_bound and form.is_valid():
        reachable = staff_patients(signed_in_user(request))
        results = search_patients(reachable, form.cleaned_data["q"], form.cleaned_data["birth_date"])
    active_break_glass = BreakGlassAccess.objects.filter(
        user=signed_in_user(request), expires_at__gt=timezone.now()
    ).select_related("patient")
    context = {"form": form, "results": results, "break_glass": list(active_break_glass)}
    return render(request, "staff/home.html", context)


@staff_page
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_patient(request, patient_id, scope=None)
    record_read(request, access, "patient.view")
    patient = access.patient
    context = {
        "access": access,
        "patient": patient,
        "care": CareRelationship.objects.filter(patient=patient).select_related("care_team", "practitioner"),
        "proxies": ProxyGrant.objects.active().filter(patient=patient).select_related("grantee"),
    }
    return render(request, "staff/patient_detail.html", context)


@staff_page
def break_glass(request: HttpRequest) -> HttpResponse:
    """Emergency access to a patient outside the user's care relationships."""
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = Patient.objects.filter(clinic_number=form.cleaned_data["clinic_number"].strip()).first()
        if patient is None:
            form.add_error("clinic_number", _("No patient has that clinic number."))
        else:
            try:
                actions.do_break_glass(Actor.from_request(request), patient, form.cleaned_data["reason"])
            except actions.BreakGlassRefused as refusal:
                form.add_error("reason", str(refusal))
            else:
                messages.warning(request, _("Emergency access granted. It is recorded and will be reviewed."))
                return redirect("staff:patient", patient_id=patient.pk)
    return render(request, "staff/break_glass.html", {"form": form, "minutes": settings.BREAK_GLASS_MINUTES})
