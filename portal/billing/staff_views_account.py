"""The billing office's home (find an account, work queues) and a patient's account page.

The forms that change an account are in `staff_views_account_forms.py`, their writes in
`staff_actions.py`. Only people who work in billing (`staff_access.works_in_billing`)
see these pages; everyone else, administrators included, gets the ordinary 404. Every
list is bounded, and the account page runs the same number of queries however long
the account's history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.accounts.models import User, signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.billing import ledger
from portal.billing.access import billing_patients, require_billing_staff
from portal.billing.forms_staff import AccountSearchForm
from portal.billing.models import Account, Claim, LedgerEntry, Payment, PaymentPlan, ServiceLine, Statement
from portal.billing.staff_access import works_in_billing
from portal.billing.staff_actions import REFUNDABLE
from portal.lib.money import plain_cents
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Coverage, Patient
from portal.staff.decorators import staff_page
from portal.staff.search import search_patients

M = TypeVar("M", bound=Model)

SEARCH_LIMIT = 25
QUEUE_SHOWN = 10
QUEUE_CAP = 99
ATTENTION_DAYS = 7
LEDGER_PAGE = 25
PAYMENTS_PAGE = 10
STATEMENTS_SHOWN = 12
CLAIMS_SHOWN = 10
PLANS_SHOWN = 5
COVERAGES_SHOWN = 20


def billing_staff_user(request: HttpRequest) -> User:
    """The signed-in member of the billing office; anyone else gets the ordinary 404."""
    user = signed_in_user(request)
    if not works_in_billing(user):
        raise Http404
    return user


def optional_url(name: str, *args: Any) -> str:
    """A page another part of billing may add; empty until it exists."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def capped_count(queryset: QuerySet[Any]) -> tuple[int, bool]:
    """How many rows, counting no further than QUEUE_CAP (so a long queue costs the same)."""
    found = len(queryset.values("pk")[: QUEUE_CAP + 1])
    return min(found, QUEUE_CAP), found > QUEUE_CAP


def _audit_list(request: HttpRequest, action: str, patients: set[int], **detail: Any) -> None:
    record(
        Actor.from_request(request),
        action,
        kind=Kind.READ,
        role="staff",
        detail={"patients": sorted(patients), **detail},
    )


# Home -------------------------------------------------------------------------------------------


@staff_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Find a patient's account, and the work waiting: coverages to verify, payments to look at."""
    user = billing_staff_user(request)
    reachable = billing_patients(user)
    form = AccountSearchForm(request.GET if "q" in request.GET else None)
    results: list[Patient] | None = None
    if form.is_bound and form.is_valid():
        results = search_patients(reachable, form.cleaned_data["q"], None)[:SEARCH_LIMIT]
    pending = (
        Coverage.objects.filter(status=Coverage.Status.PENDING, patient__in=reachable)
        .select_related("patient")
        .order_by("created_at", "pk")
    )
    since = timezone.now() - dt.timedelta(days=ATTENTION_DAYS)
    attention = (
        Payment.objects.filter(
            status__in=[Payment.Status.PENDING, Payment.Status.FAILED],
            created_at__gte=since,
            account__patient__in=reachable,
        )
        .select_related("account__patient")
        .order_by("-created_at", "-pk")
    )
    coverages, payments = list(pending[:QUEUE_SHOWN]), list(attention[:QUEUE_SHOWN])
    shown = {coverage.patient_id for coverage in coverages}
    shown |= {payment.account.patient_id for payment in payments}
    shown |= {patient.pk for patient in results or []}
    _audit_list(request, "billing.staff_home_view", shown, searched=results is not None)
    context = {
        "form": form,
        "results": results,
        "coverages": coverages,
        "coverage_count": capped_count(pending),
        "payments": payments,
        "payment_count": capped_count(attention),
        "attention_days": ATTENTION_DAYS,
        "other_queues": [
            (url, label)
            for url, label in (
                (optional_url("staff_billing:disputes"), _("Disputed bills")),
                (optional_url("staff_billing:assistance"), _("Financial assistance applications")),
            )
            if url
        ],
    }
    return render(request, "billing/staff/home.html", context)


# One account ------------------------------------------------------------------------------------


def account_with_guarantor(patient: Patient) -> Account:
    """The patient's account, or an unsaved stand-in if they were never billed.

    Looking is not a write: the stand-in has a zero balance, the clinic number as its
    reference and nothing on it; the first action that posts to the account opens it
    (`staff_actions.account_of_access`).
    """
    found = Account.objects.select_related("guarantor_patient").filter(patient=patient).first()
    return found or Account(patient=patient, number=patient.clinic_number, guarantor_name=patient.full_name)


def account_context(request: HttpRequest, access: PatientAccess) -> dict[str, Any]:
    """What every billing-office page about one account shows at its top."""
    patient = access.patient
    return {"access": access, "patient": patient, "account": account_with_guarantor(patient)}


def rows_of(account: Account, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` on the account (none for a stand-in that was never saved)."""
    return queryset.filter(account=account) if account.pk else queryset.none()


def saved(account: Account) -> Account | None:
    """The account as an audit record names it (a stand-in has no row to name)."""
    return account if account.pk else None


def _payment_rows(payments: list[Payment]) -> list[dict[str, Any]]:
    rows = []
    for payment in payments:
        refunds = list(payment.refunds.all())
        rows.append(
            {
                "payment": payment,
                "refunds": [refund for refund in refunds if refund.gateway_ref],
                "waiting": [
                    (refund, plain_cents(refund.amount_cents)) for refund in refunds if not refund.gateway_ref
                ],
                "refundable": payment.status in REFUNDABLE
                and bool(payment.gateway_ref)
                and payment.amount_cents > payment.refunded_cents,
            }
        )
    return rows


@staff_page
@require_GET
def account(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Everything on a patient's account: balance, statements, ledger, payments, plans, coverage, claims."""
    access = require_billing_staff(request, patient_id)
    context = account_context(request, access)
    patient, account = context["patient"], context["account"]
    entries = keyset_page(
        rows_of(account, LedgerEntry.objects.select_related("posted_by")),
        request.GET.get("ledger", "")[:20],
        LEDGER_PAGE,
    )
    payments = keyset_page(
        rows_of(account, Payment.objects.prefetch_related("refunds")),
        request.GET.get("payments", "")[:20],
        PAYMENTS_PAGE,
    )
    zone = patient.primary_campus.zone
    # Days at the patient's campus, as their statements count them (set for the template).
    for entry in entries.items:
        entry.local_day = entry.posted_at.astimezone(zone).date()  # type: ignore[attr-defined]
    for payment in payments.items:
        payment.local_day = payment.created_at.astimezone(zone).date()  # type: ignore[attr-defined]
    record_read(request, access, "billing.staff_account_view", obj=saved(account))
    context.update(
        {
            "totals": ledger.totals(account),
            "unbilled": rows_of(account, ServiceLine.objects.filter(statement__isnull=True)).count(),
            "statements": list(
                rows_of(account, Statement.objects.order_by("-issued_on", "-id"))[:STATEMENTS_SHOWN]
            ),
            "entries": entries,
            "payments": payments,
            "payment_rows": _payment_rows(payments.items),
            "plans": [
                (plan, optional_url("staff_billing:plan", plan.pk))
                for plan in rows_of(account, PaymentPlan.objects.order_by("-created_at", "-id"))[:PLANS_SHOWN]
            ],
            "coverages": list(
                Coverage.objects.filter(patient=patient)
                .select_related("benefits")
                .order_by("priority", "-created_at", "-id")[:COVERAGES_SHOWN]
            ),
            "claims": list(rows_of(account, Claim.objects.order_by("-service_date", "-id"))[:CLAIMS_SHOWN]),
            "plan_new_url": optional_url("staff_billing:plan_new", patient.pk),
            "paged": bool(request.GET.get("ledger") or request.GET.get("payments")),
        }
    )
    return render(request, "billing/staff/account.html", context)
