"""The billing office's forms on one account: guarantor, charges, adjustments, refunds,
statements, coverage verification and claims.

Each page shows its form on GET; a POST calls one action from `staff_actions.py` and
redirects to the account with a message, or shows the form again with what is wrong
(status 400) having changed nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.audit.actor import Actor
from portal.billing import staff_actions, staff_actions_insurance
from portal.billing.access import require_account_object, require_billing_staff
from portal.billing.forms_staff import (
    AdjustmentForm,
    BenefitsForm,
    ChargeForm,
    ClaimForm,
    GuarantorForm,
    RefundForm,
    RejectCoverageForm,
)
from portal.billing.models import CoverageBenefits, Payment, PriceItem, Statement
from portal.billing.staff_actions import BillingRefused, RefundWaiting
from portal.billing.staff_views_account import account_context, rows_of, saved
from portal.lib.money import format_cents, plain_cents
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Coverage
from portal.staff.decorators import staff_page

GET_POST = ["GET", "POST"]


def _page(
    request: HttpRequest,
    template: str,
    access: PatientAccess,
    *,
    status: int = 200,
    problem: str = "",
    **extra: Any,
) -> HttpResponse:
    context = account_context(request, access)
    if request.method == "GET":
        record_read(
            request, access, "billing.staff_account_view", obj=saved(context["account"]), page=template
        )
    context.update({"problem": problem, **extra})
    return render(request, f"billing/staff/{template}.html", context, status=status)


def _done(request: HttpRequest, access: PatientAccess, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("staff_billing:account", patient_id=access.patient.pk)


# Guarantor --------------------------------------------------------------------------------------


@staff_page
@require_http_methods(GET_POST)
def guarantor(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    if request.method == "GET":
        account = account_context(request, access)["account"]
        initial = {
            "guarantor_name": account.guarantor_name,
            "clinic_number": account.guarantor_patient.clinic_number if account.guarantor_patient else "",
        }
        return _page(
            request, "guarantor", access, form=GuarantorForm(initial=initial, patient=access.patient)
        )
    form = GuarantorForm(request.POST, patient=access.patient)
    if form.is_valid():
        try:
            staff_actions.do_set_guarantor(
                Actor.from_request(request),
                access,
                form.cleaned_data["guarantor_name"],
                form.cleaned_data["clinic_number"],
            )
        except BillingRefused as refusal:
            return _page(request, "guarantor", access, form=form, problem=refusal.message, status=400)
        return _done(request, access, _("Guarantor saved."))
    return _page(request, "guarantor", access, form=form, status=400)


# Charges ----------------------------------------------------------------------------------------


def _price_item(request: HttpRequest) -> tuple[str, PriceItem | None]:
    """The price list entry the page was asked for with ?item=<code>, to prefill the form."""
    code = request.GET.get("item", "").strip()[:20]
    return code, (PriceItem.objects.filter(code__iexact=code, active=True).first() if code else None)


@staff_page
@require_http_methods(GET_POST)
def charge(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    account = account_context(request, access)["account"]
    if request.method == "GET":
        code, item = _price_item(request)
        initial: dict[str, Any] = {
            "item": code,
            "service_date": timezone.localdate(),
            "key": secrets.token_urlsafe(24),
        }
        if item is not None:
            initial.update(
                {
                    "item": item.code,
                    "code": item.code,
                    "description": item.description,
                    "amount": plain_cents(item.price_cents),
                }
            )
        form = ChargeForm(initial=initial, account=account)
        return _page(
            request, "charge", access, form=form, item=item, item_missing=bool(code) and item is None
        )
    form = ChargeForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        posting = staff_actions.ChargeEntry(
            service_date=data["service_date"],
            code=data["code"],
            description=data["description"],
            charge_cents=data["amount"],
            insurance_paid_cents=data["insurance_paid"],
            adjustment_cents=data["adjustment"],
            claim=data["claim"],
            form_key=data["key"],
        )
        try:
            line = staff_actions.do_post_charge(Actor.from_request(request), access, posting)
        except BillingRefused as refusal:
            return _page(request, "charge", access, form=form, problem=refusal.message, status=400)
        return _done(
            request,
            access,
            _("Charge of %(amount)s for %(code)s posted.")
            % {"amount": format_cents(line.charge_cents), "code": line.code},
        )
    return _page(request, "charge", access, form=form, status=400)


# Adjustments ------------------------------------------------------------------------------------


@staff_page
@require_http_methods(GET_POST)
def adjustment(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    if request.method == "GET":
        return _page(
            request, "adjustment", access, form=AdjustmentForm(initial={"key": secrets.token_urlsafe(24)})
        )
    form = AdjustmentForm(request.POST)
    if form.is_valid():
        try:
            entry = staff_actions.do_post_adjustment(
                Actor.from_request(request),
                access,
                form.cleaned_data["amount"],
                form.cleaned_data["reason"],
                form_key=form.cleaned_data["key"],
            )
        except BillingRefused as refusal:
            return _page(request, "adjustment", access, form=form, problem=refusal.message, status=400)
        return _done(
            request,
            access,
            _("Adjustment of %(amount)s posted.") % {"amount": format_cents(entry.amount_cents)},
        )
    return _page(request, "adjustment", access, form=form, status=400)


# Refunds ----------------------------------------------------------------------------------------


@staff_page
@require_http_methods(GET_POST)
def refund(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment, access = require_account_object(request, Payment.objects.all(), payment_id, staff=True)
    if request.method == "GET":
        form = RefundForm(initial={"key": secrets.token_urlsafe(24)}, payment=payment)
        return _page(request, "refund", access, form=form, payment=payment)
    form = RefundForm(request.POST, payment=payment)
    if form.is_valid():
        refund_request = staff_actions.RefundRequest(
            amount_cents=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            idempotency_key=form.cleaned_data["key"],
        )
        try:
            made = staff_actions.do_refund_payment(
                Actor.from_request(request), access, payment, refund_request
            )
        except RefundWaiting as waiting:
            messages.warning(request, waiting.message)
            return redirect("staff_billing:account", patient_id=access.patient.pk)
        except BillingRefused as refusal:
            return _page(
                request, "refund", access, form=form, payment=payment, problem=refusal.message, status=400
            )
        return _done(
            request,
            access,
            _("Refunded %(amount)s to the card.") % {"amount": format_cents(made.amount_cents)},
        )
    return _page(request, "refund", access, form=form, payment=payment, status=400)


# Statements -------------------------------------------------------------------------------------


@staff_page
@require_http_methods(GET_POST)
def statement(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    if request.method == "GET":
        account = account_context(request, access)["account"]
        previous = rows_of(account, Statement.objects.order_by("-created_at", "-id")).first()
        return _page(request, "statement", access, previous=previous)
    try:
        issued = staff_actions.do_issue_statement(Actor.from_request(request), access)
    except BillingRefused as refusal:
        account = account_context(request, access)["account"]
        previous = rows_of(account, Statement.objects.order_by("-created_at", "-id")).first()
        return _page(request, "statement", access, previous=previous, problem=refusal.message, status=400)
    return _done(
        request,
        access,
        _("Statement %(number)s issued for %(amount)s. The patient has been told.")
        % {"number": issued.number, "amount": format_cents(issued.amount_due_cents)},
    )


# Coverage ---------------------------------------------------------------------------------------


def _coverage_of(request: HttpRequest, access: PatientAccess, coverage_id: int) -> Coverage:
    coverage = (
        Coverage.objects.filter(pk=coverage_id, patient=access.patient).select_related("verified_by").first()
    )
    if coverage is None:
        refuse(request, access.patient, what="patients.coverage", lookup=str(coverage_id))
    return coverage  # type: ignore[return-value]


def _benefits_initial(coverage: Coverage) -> dict[str, Any]:
    benefits = CoverageBenefits.objects.filter(coverage=coverage).first()
    if benefits is None:
        return {}
    return {
        "deductible": plain_cents(benefits.deductible_cents),
        "deductible_met": plain_cents(benefits.deductible_met_cents),
        "coinsurance_percent": benefits.coinsurance_percent,
        "copay": plain_cents(benefits.copay_cents),
        "out_of_pocket_max": plain_cents(benefits.out_of_pocket_max_cents),
        "out_of_pocket_met": plain_cents(benefits.out_of_pocket_met_cents),
    }


def _coverage_page(
    request: HttpRequest,
    access: PatientAccess,
    coverage: Coverage,
    *,
    form: BenefitsForm | None = None,
    reject_form: RejectCoverageForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    if request.method == "GET":
        record_read(request, access, "billing.staff_coverage_view", obj=coverage)
    context = account_context(request, access)
    context.update(
        {
            "coverage": coverage,
            "form": form or BenefitsForm(initial=_benefits_initial(coverage)),
            "reject_form": reject_form or RejectCoverageForm(),
            "problem": problem,
            "usable": coverage.status in staff_actions_insurance.VERIFIABLE,
        }
    )
    return render(request, "billing/staff/coverage.html", context, status=status)


@staff_page
@require_http_methods(GET_POST)
def coverage(request: HttpRequest, patient_id: int, coverage_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    coverage = _coverage_of(request, access, coverage_id)
    if request.method == "GET":
        return _coverage_page(request, access, coverage)
    form = BenefitsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        benefits = staff_actions_insurance.Benefits(
            deductible_cents=data["deductible"],
            deductible_met_cents=data["deductible_met"],
            coinsurance_percent=data["coinsurance_percent"],
            copay_cents=data["copay"],
            out_of_pocket_max_cents=data["out_of_pocket_max"],
            out_of_pocket_met_cents=data["out_of_pocket_met"],
        )
        try:
            staff_actions_insurance.do_verify_coverage(
                Actor.from_request(request), access, coverage, benefits
            )
        except BillingRefused as refusal:
            return _coverage_page(request, access, coverage, form=form, problem=refusal.message, status=400)
        return _done(request, access, _("Coverage verified. The patient has been told."))
    return _coverage_page(request, access, coverage, form=form, status=400)


@staff_page
@require_POST
def reject_coverage(request: HttpRequest, patient_id: int, coverage_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    coverage = _coverage_of(request, access, coverage_id)
    form = RejectCoverageForm(request.POST)
    if form.is_valid():
        try:
            staff_actions_insurance.do_reject_coverage(
                Actor.from_request(request), access, coverage, form.cleaned_data["reason"]
            )
        except BillingRefused as refusal:
            return _coverage_page(
                request, access, coverage, reject_form=form, problem=refusal.message, status=400
            )
        return _done(request, access, _("Coverage marked as not verified. The patient has been told why."))
    return _coverage_page(request, access, coverage, reject_form=form, status=400)


# Claims -----------------------------------------------------------------------------------------


@staff_page
@require_http_methods(GET_POST)
def claim(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    account = account_context(request, access)["account"]
    if request.method == "GET":
        primary = Coverage.objects.filter(patient=access.patient, status=Coverage.Status.VERIFIED).first()
        initial = {"coverage": primary, "payer_name": primary.payer_name} if primary else {}
        return _page(request, "claim", access, form=ClaimForm(initial=initial, account=account))
    form = ClaimForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        entry = staff_actions_insurance.ClaimEntry(
            number=data["number"],
            payer_name=data["payer_name"],
            coverage=data["coverage"],
            service_date=data["service_date"],
            submitted_on=data["submitted_on"],
            decided_on=data["decided_on"],
            status=data["status"],
            billed_cents=data["billed"],
            paid_cents=data["paid"],
            adjusted_cents=data["adjusted"],
            denial_reason=data["denial_reason"],
            lines=tuple(data["lines"]),
        )
        try:
            recorded = staff_actions_insurance.do_record_claim(Actor.from_request(request), access, entry)
        except BillingRefused as refusal:
            return _page(request, "claim", access, form=form, problem=refusal.message, status=400)
        return _done(request, access, _("Claim %(number)s recorded.") % {"number": recorded.number})
    return _page(request, "claim", access, form=form, status=400)
