"""The billing office's financial assistance queue: read an application, its proof, and decide.

Only people who work in billing reach these pages (anyone else: the ordinary 404). Each
application is loaded through `require_account_object(..., staff=True)`, so nobody
decides their own or their family's application and a clerk reaches only the patients
the policy gives them.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.billing import assistance
from portal.billing.access import billing_patients, require_account_object
from portal.billing.forms_assistance import DecisionForm
from portal.billing.models import AssistanceApplication
from portal.billing.staff_access import works_in_billing
from portal.billing.views_insurance import download
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import ProxyGrant
from portal.staff.decorators import staff_page

QUEUE_PAGE_SIZE = 25


def _require_billing(request: HttpRequest) -> None:
    if not works_in_billing(request.user):
        raise Http404


def _waiting(request: HttpRequest) -> QuerySet[AssistanceApplication]:
    """Open applications of patients this member of staff may bill: never their own or their family's."""
    user = signed_in_user(request)
    family = ProxyGrant.objects.active().filter(grantee=user).values("patient")
    patients = billing_patients(user).exclude(pk__in=family)
    return AssistanceApplication.objects.filter(
        status=assistance.Status.SUBMITTED, account__patient__in=patients
    ).select_related("account__patient")


@require_safe
@staff_page
def queue(request: HttpRequest) -> HttpResponse:
    _require_billing(request)
    page = keyset_page(_waiting(request), request.GET.get("before", "")[:20], QUEUE_PAGE_SIZE)
    # The queue shows names, account numbers and incomes: a read of each patient listed.
    record(
        Actor.from_request(request),
        "billing.assistance_queue_view",
        kind=Kind.READ,
        role="staff",
        detail={
            "patients": sorted({row.account.patient_id for row in page.items}),
            "rows": [row.pk for row in page.items],
        },
    )
    return render(request, "billing/assistance/staff_queue.html", {"page": page})


def _load(request: HttpRequest, application_id: int) -> tuple[AssistanceApplication, PatientAccess]:
    _require_billing(request)
    return require_account_object(
        request, AssistanceApplication.objects.select_related("decided_by"), application_id, staff=True
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page
def detail(request: HttpRequest, application_id: int) -> HttpResponse:
    application, access = _load(request, application_id)
    open_now = application.status == assistance.Status.SUBMITTED
    posted = request.method == "POST" and open_now
    form = DecisionForm(request.POST if posted else None)
    if request.method == "POST" and not open_now:
        messages.error(request, _("This application has already been decided."))
        return redirect("staff_billing:assistance_detail", application.pk)
    if posted and form.is_valid():
        actor, data = Actor.from_request(request), form.cleaned_data
        try:
            if data["answer"] == DecisionForm.APPROVE:
                assistance.do_approve_assistance(
                    actor, access, application, data["discount_percent"], data["note"]
                )
                messages.success(
                    request, _("Approved. The discount is on the account and the patient is told.")
                )
            else:
                assistance.do_deny_assistance(actor, access, application, data["note"])
                messages.success(request, _("Not approved. The patient is told the reason."))
        except assistance.AssistanceRefused as refusal:
            messages.error(request, refusal.message)
        return redirect("staff_billing:assistance_detail", application.pk)
    record_read(request, access, "billing.assistance_staff_view", obj=application)
    context = {
        "application": application,
        "patient": access.patient,
        "account": application.account,
        "employment": assistance.Employment.label(application.employment),
        "form": form,
        "open_now": open_now,
    }
    return render(
        request, "billing/assistance/staff_detail.html", context, status=400 if form.is_bound else 200
    )


@require_safe
@staff_page
def document(request: HttpRequest, application_id: int) -> HttpResponse:
    """The proof of income, only ever as a download."""
    application, access = _load(request, application_id)
    if not application.document:
        refuse(
            request, access.patient, what="billing.assistanceapplication", lookup=f"{application_id}/document"
        )
    response = download(application.document, application.document_type, f"assistance-proof-{application.pk}")
    record_read(request, access, "billing.assistance_document_view", obj=application)
    return response
