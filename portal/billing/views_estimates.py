"""Cost estimates and bill disputes on the patient side.

Every page needs the billing scope. An estimate or dispute a URL names, and the
statement a dispute is opened on, are loaded through `require_account_object`:
another patient's, or one a proxy without the billing scope asks for, is the same
audited 404 as a missing one, and staff rights never come onto these pages.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.audit.actor import Actor
from portal.billing import disputes, estimates
from portal.billing.access import require_account_object
from portal.billing.confidential import mask_estimate
from portal.billing.forms_estimates import DisputeForm, EstimateForm
from portal.billing.models import Dispute, Estimate, PriceItem, Statement
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.scheduling.access import appointments_of, may_see_appointments
from portal.scheduling.models import Appointment

PAGE_SIZE = 20
UPCOMING_SHOWN = 20
FORM_KEYS = ("visit_type", "services", "appointment", "q", "self_pay")


def _not_shared(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "patients/scope_missing.html", {"access": access}, status=403)


def _upcoming(access: PatientAccess) -> list[Appointment]:
    """The patient's booked visits still to come, if this access may see appointments."""
    if not may_see_appointments(access):
        return []
    upcoming = appointments_of(access).filter(status=Appointment.Status.BOOKED, starts_at__gt=timezone.now())
    return list(upcoming.order_by("starts_at", "id")[:UPCOMING_SHOWN])


def _estimate_form(data: QueryDict | None, access: PatientAccess, *, searching: bool = False) -> EstimateForm:
    return EstimateForm(
        data,
        visit_types=list(estimates.priced_visit_types()),
        appointments=_upcoming(access),
        searching=searching,
    )


def _items(data: dict[str, Any]) -> list[PriceItem]:
    """The services to price: the appointment type's, then any chosen one by one, each once."""
    chosen: list[PriceItem] = estimates.items_of(data["visit_type"]) if data["visit_type"] else []
    for item in data["services"]:
        if all(item.pk != kept.pk for kept in chosen):
            chosen.append(item)
    return chosen


def _price(form: EstimateForm, access: PatientAccess) -> estimates.Breakdown | None:
    """The estimate for a valid choice, or None with the form saying what is wrong."""
    if not form.is_valid():
        return None
    items = _items(form.cleaned_data)
    if not items:
        form.add_error(None, _("We have no prices for this appointment type yet; choose services instead."))
        return None
    return estimates.estimate_for(access.patient, items, self_pay=form.cleaned_data["self_pay"])


def _saved(access: PatientAccess, after: str) -> Any:
    return keyset_page(Estimate.objects.filter(account__patient=access.patient), after[:20], PAGE_SIZE)


@require_safe
@patient_page(Scope.BILLING)
def estimate_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Saved estimates, and the form that prices a visit or services (GET, so the result can be linked)."""
    if access.is_staff_access:
        return _not_shared(request, access)
    bound = any(key in request.GET for key in FORM_KEYS)
    searching = "find" in request.GET
    form = _estimate_form(request.GET if bound else None, access, searching=searching)
    breakdown = _price(form, access) if bound and not searching else None
    status = 400 if bound and not searching and breakdown is None else 200
    page = _saved(access, request.GET.get("after", ""))
    record_read(
        request,
        access,
        "billing.estimates_view",
        count=len(page.items),
        priced=breakdown.total_cents if breakdown else None,
    )
    context = {
        "access": access,
        "form": form,
        "breakdown": breakdown,
        "page": page,
        "paged": bool(request.GET.get("after")),
        "threshold_cents": settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS,
    }
    return render(request, "billing/estimates/list.html", context, status=status)


@require_POST
@patient_page(Scope.BILLING)
def estimate_save(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Save the estimate for the choice posted; the prices are worked out again, never taken from the form."""
    if access.is_staff_access:
        return _not_shared(request, access)
    form = _estimate_form(request.POST, access)
    breakdown = _price(form, access)
    if breakdown is not None:
        try:
            saved = estimates.do_save_estimate(
                Actor.from_request(request),
                access,
                breakdown,
                visit_type=form.cleaned_data["visit_type"],
                appointment=form.cleaned_data["appointment"],
            )
        except estimates.EstimateRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, _("Your estimate is saved."))
            return redirect("billing:estimate", estimate_id=saved.pk)
    context = {
        "access": access,
        "form": form,
        "breakdown": None,
        "page": _saved(access, ""),
        "paged": False,
        "threshold_cents": settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS,
    }
    return render(request, "billing/estimates/list.html", context, status=400)


@require_safe
@patient_page(None)
def estimate_detail(request: HttpRequest, _current: PatientAccess, estimate_id: int) -> HttpResponse:
    """A saved estimate; a Good Faith Estimate in the form the No Surprises Act asks for, printable."""
    estimate, access = require_account_object(
        request,
        Estimate.objects.select_related(
            "visit_type", "appointment__campus", "appointment__practitioner", "coverage"
        ),
        estimate_id,
    )
    record_read(request, access, "billing.estimate_view", obj=estimate)
    mask_estimate(estimate, access)
    context = {
        "access": access,
        "estimate": estimate,
        "patient": access.patient,
        "good_faith": estimate.kind == Estimate.Kind.GOOD_FAITH,
        "expired": estimate.valid_until < timezone.localdate(),
        "threshold_cents": settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS,
    }
    return render(request, "billing/estimates/detail.html", context)


# Disputes --------------------------------------------------------------------------------------


@require_safe
@patient_page(Scope.BILLING)
def dispute_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if access.is_staff_access:
        return _not_shared(request, access)
    rows = Dispute.objects.filter(account__patient=access.patient).select_related("statement", "estimate")
    page = keyset_page(rows, request.GET.get("after", "")[:20], PAGE_SIZE)
    record_read(request, access, "billing.disputes_view", count=len(page.items))
    context = {"access": access, "page": page, "paged": bool(request.GET.get("after"))}
    return render(request, "billing/disputes/list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(None)
def dispute_new(request: HttpRequest, _current: PatientAccess) -> HttpResponse:
    """Dispute a statement against a Good Faith Estimate: billed vs estimated, and why."""
    statement, access = require_account_object(
        request, Statement.objects.all(), request.GET.get("statement", "")[:20]
    )
    rows = disputes.comparisons(statement)
    already = disputes.open_dispute(statement)
    form = DisputeForm(request.POST if request.method == "POST" else None, comparisons=rows)
    if request.method == "POST" and form.is_valid():
        comparison = form.cleaned_data["comparison"]
        try:
            dispute = disputes.do_open_dispute(
                Actor.from_request(request),
                access,
                statement,
                comparison.estimate,
                form.cleaned_data["reason"],
            )
        except disputes.DisputeRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                _(
                    "Your dispute was sent to the billing office. You will get a notification when they decide."
                ),
            )
            return redirect("billing:dispute", dispute_id=dispute.pk)
    record_read(request, access, "billing.dispute_new_view", obj=statement)
    context = {
        "access": access,
        "statement": statement,
        "form": form,
        "eligible": [row for row in rows if row.disputable],
        "short": [row for row in rows if not row.disputable],
        "already": already,
        "threshold_cents": settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS,
    }
    return render(request, "billing/disputes/new.html", context, status=400 if form.is_bound else 200)


@require_safe
@patient_page(None)
def dispute_detail(request: HttpRequest, _current: PatientAccess, dispute_id: int) -> HttpResponse:
    dispute, access = require_account_object(
        request, Dispute.objects.select_related("statement", "estimate"), dispute_id
    )
    record_read(request, access, "billing.dispute_view", obj=dispute)
    context = {
        "access": access,
        "dispute": dispute,
        "difference_cents": dispute.billed_cents - dispute.estimated_cents,
    }
    return render(request, "billing/disputes/detail.html", context)
