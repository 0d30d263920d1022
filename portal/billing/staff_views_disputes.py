"""The billing office's side of disputes: the queue, a dispute beside its bill and estimate, the decision.

Only billing staff reach these pages (`works_in_billing`); each dispute is loaded through
`require_account_object(..., staff=True)`, so a dispute of a patient the clerk may not
bill, or of their own or their family's account, is the same audited 404 as a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.models import User, signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.billing import disputes
from portal.billing.access import billing_patients, require_account_object
from portal.billing.forms_estimates import DecideForm
from portal.billing.models import Dispute, ServiceLine
from portal.billing.staff_access import works_in_billing
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import ProxyGrant
from portal.staff.decorators import staff_page

PAGE_SIZE = 50
# A statement is far shorter; the cap only guards the page.
LINES_SHOWN = 200


def _billing_staff(request: HttpRequest) -> User:
    user = signed_in_user(request)
    if not works_in_billing(user):
        raise Http404
    return user


def _queue(user: User, decided: bool) -> QuerySet[Dispute]:
    """Disputes of patients this clerk may bill, never their own or their family's."""
    family = ProxyGrant.objects.active().filter(grantee=user).values("patient_id")
    rows = Dispute.objects.filter(account__patient__in=billing_patients(user)).exclude(
        account__patient__in=family
    )
    rows = rows.exclude(status=Dispute.Status.OPEN) if decided else rows.filter(status=Dispute.Status.OPEN)
    return rows.select_related("account__patient", "statement", "estimate")


@require_safe
@staff_page
def dispute_queue(request: HttpRequest) -> HttpResponse:
    """Open disputes, newest first (or those decided, with ?show=decided)."""
    user = _billing_staff(request)
    decided = request.GET.get("show") == "decided"
    page = keyset_page(_queue(user, decided), request.GET.get("after", "")[:20], PAGE_SIZE)
    record(
        Actor.from_request(request),
        "billing.dispute_queue_view",
        kind=Kind.READ,
        role="staff",
        detail={
            "patients": sorted({row.account.patient_id for row in page.items}),
            "rows": [row.pk for row in page.items],
        },
    )
    context = {"page": page, "paged": bool(request.GET.get("after")), "decided": decided}
    return render(request, "billing/disputes/staff_queue.html", context)


def _load(request: HttpRequest, dispute_id: int) -> tuple[Dispute, PatientAccess]:
    _billing_staff(request)
    return require_account_object(
        request,
        Dispute.objects.select_related("statement", "estimate", "created_by", "decided_by"),
        dispute_id,
        staff=True,
    )


def _page(
    request: HttpRequest, dispute: Dispute, access: PatientAccess, *, status: int = 200, **extra: Any
) -> HttpResponse:
    lines = list(
        ServiceLine.objects.filter(statement=dispute.statement_id).order_by("service_date", "id")[
            : LINES_SHOWN + 1
        ]
    )
    context = {
        "dispute": dispute,
        "access": access,
        "patient": access.patient,
        "lines": [(line, disputes.covers(dispute.estimate, line)) for line in lines[:LINES_SHOWN]],
        "lines_capped": len(lines) > LINES_SHOWN,
        "form": extra.pop("form", None) or DecideForm(),
        **extra,
    }
    return render(request, "billing/disputes/staff_detail.html", context, status=status)


@require_safe
@staff_page
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute, access = _load(request, dispute_id)
    record_read(request, access, "billing.dispute_staff_view", obj=dispute)
    return _page(request, dispute, access)


@require_POST
@staff_page
def dispute_decide(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute, access = _load(request, dispute_id)
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _page(request, dispute, access, status=400, form=form)
    data = form.cleaned_data
    try:
        disputes.do_decide_dispute(
            Actor.from_request(request),
            access,
            dispute,
            uphold=data["uphold"],
            adjustment_cents=data["adjustment_cents"],
            decision=data["decision"],
        )
    except disputes.DisputeRefused as refusal:
        dispute.refresh_from_db()
        conflict = dispute.status != Dispute.Status.OPEN
        return _page(
            request, dispute, access, status=409 if conflict else 400, form=form, problem=refusal.message
        )
    messages.success(request, _("The dispute is decided and the patient was told."))
    return redirect("staff_billing:dispute", dispute_id=dispute.pk)
