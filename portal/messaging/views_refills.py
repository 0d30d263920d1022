"""Refills on the patient side: the requests made, a new request, and saved pharmacies.

Every page needs the message scope (a refill request is a message to the care team);
the request form also lists the record's medications, so it needs the view scope too
and explains what is missing otherwise. A pharmacy a URL names is looked up among the
current patient's saved ones, so anyone else's is the audited 404 of a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.messaging import actions_refills as actions
from portal.messaging.forms_refills import NEW_PHARMACY, PharmacyForm, RefillRequestForm
from portal.messaging.models import Pharmacy, RefillItem, RefillRequest
from portal.messaging.refill_status import latest_refill_states, may_request_refills
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.access import visible
from portal.records.models import Medication

PER_PAGE = 20
# What is active now is a short list for any real patient; the cap only guards the page.
MEDICATIONS_SHOWN = 100
ACTIVE = [Medication.Status.ACTIVE, Medication.Status.ON_HOLD]
# The action names the field a refusal is about; the form calls a typed-in pharmacy's name new_name.
FORM_FIELDS = {"name": "new_name"}


def _requests_of(access: PatientAccess) -> QuerySet[RefillRequest]:
    rows = RefillRequest.objects.filter(patient=access.patient).select_related("pharmacy", "thread__campus")
    if access.hidden_categories:
        # A request for a medication in care kept from this proxy is part of that care,
        # and so is one whose conversation staff marked confidential.
        hidden = sorted(access.hidden_categories)
        rows = rows.exclude(items__medication__sensitivity__in=hidden).exclude(thread__sensitivity__in=hidden)
    return rows.prefetch_related(Prefetch("items", queryset=RefillItem.objects.order_by("pk")))


@require_safe
@patient_page(Scope.MESSAGE)
def refill_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    page = keyset_page(_requests_of(access), request.GET.get("after"), PER_PAGE)
    record_read(request, access, "refills.list_view")
    context = {
        "access": access,
        "page": page,
        "paged": bool(request.GET.get("after")),
        "may_request": may_request_refills(access),
    }
    return render(request, "messaging/refills/list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.MESSAGE)
def new_request(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not may_request_refills(access):
        return render(request, "messaging/refills/needs_record.html", {"access": access}, status=403)
    medications = list(
        visible(Medication, access).filter(status__in=ACTIVE).order_by("name", "pk")[:MEDICATIONS_SHOWN]
    )
    choices: dict[str, Any] = {
        "medications": medications,
        "states": latest_refill_states(medication.pk for medication in medications),
        "pharmacies": list(actions.saved_pharmacies(access.patient)),
    }
    if request.method == "POST":
        form = RefillRequestForm(request.POST, **choices)
    else:
        form = RefillRequestForm(initial=_initial(request, choices), **choices)
    if request.method == "POST" and form.is_valid():
        try:
            refill = actions.do_request_refill(
                Actor.from_request(request),
                access,
                medication_ids=form.cleaned_data["medication_ids"],
                pharmacy=form.cleaned_data["pharmacy_row"],
                new_pharmacy=form.cleaned_data["new_pharmacy"],
                notes=form.cleaned_data.get("notes", ""),
            )
        except actions.RefillRefused as refusal:
            form.add_error(_form_field(form, refusal.field), refusal.message)
        else:
            messages.success(request, _sent_message(refill))
            return redirect("refills:list")
    record_read(request, access, "refills.new_view")
    status = 400 if form.is_bound else 200
    context = {"access": access, "form": form, "rows": form.medication_rows()}
    return render(request, "messaging/refills/new.html", context, status=status)


def _initial(request: HttpRequest, choices: dict[str, Any]) -> dict[str, Any]:
    """The medication named in the link (when it is one on the form) and the usual pharmacy."""
    initial: dict[str, Any] = {}
    wanted = request.GET.get("medication", "")
    if any(str(medication.pk) == wanted for medication in choices["medications"]):
        initial["medications"] = [wanted]
    pharmacies: list[Pharmacy] = choices["pharmacies"]
    initial["pharmacy"] = str(pharmacies[0].pk) if pharmacies else NEW_PHARMACY
    return initial


def _form_field(form: RefillRequestForm, field: str | None) -> str | None:
    name = FORM_FIELDS.get(field or "", field)
    return name if name in form.fields else None


def _sent_message(refill: RefillRequest) -> str:
    pool = refill.thread.pool.name if refill.thread is not None else ""
    return _("Your refill request was sent to %(pool)s. You will get a notification when they answer.") % {
        "pool": pool
    }


# Pharmacies ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.MESSAGE)
def pharmacies(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    form = PharmacyForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            actions.do_save_pharmacy(Actor.from_request(request), access, **form.cleaned_data)
        except actions.RefillRefused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
        else:
            messages.success(request, _("The pharmacy was saved."))
            return redirect("refills:pharmacies")
    context = {"access": access, "form": form, "pharmacies": list(actions.saved_pharmacies(access.patient))}
    return render(request, "messaging/refills/pharmacies.html", context, status=400 if form.is_bound else 200)


def _require_pharmacy(request: HttpRequest, access: PatientAccess, pharmacy_id: int) -> Pharmacy:
    pharmacy = actions.saved_pharmacies(access.patient).filter(pk=pharmacy_id).first()
    if pharmacy is None:
        refuse(request, access.patient, what="messaging.pharmacy", lookup=str(pharmacy_id)[:50])
    return pharmacy  # type: ignore[return-value]


@require_POST
@patient_page(Scope.MESSAGE)
def prefer_pharmacy(request: HttpRequest, access: PatientAccess, pharmacy_id: int) -> HttpResponse:
    pharmacy = _require_pharmacy(request, access, pharmacy_id)
    try:
        actions.do_prefer_pharmacy(Actor.from_request(request), access, pharmacy)
    except actions.RefillRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("%(pharmacy)s is now used by default.") % {"pharmacy": pharmacy.name})
    return redirect("refills:pharmacies")


@require_POST
@patient_page(Scope.MESSAGE)
def remove_pharmacy(request: HttpRequest, access: PatientAccess, pharmacy_id: int) -> HttpResponse:
    pharmacy = _require_pharmacy(request, access, pharmacy_id)
    try:
        actions.do_remove_pharmacy(Actor.from_request(request), access, pharmacy)
    except actions.RefillRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("%(pharmacy)s was removed.") % {"pharmacy": pharmacy.name})
    return redirect("refills:pharmacies")
