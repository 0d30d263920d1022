"""Payment plans in the billing office: set one up for a patient, see it, cancel it.

The billing office (or a billing clerk on the patient's care team) works any patient's
account but never their own or their family's (`require_billing_staff`). A plan set up
here may charge a card the patient's own account holder saved, or no card: then the
patient pays each instalment online and the worker reminds them on each due date.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from portal.billing import plan_worker, plans
from portal.billing.access import account_to_read, require_billing_staff
from portal.billing.forms_plans import PlanForm
from portal.billing.models import PaymentPlan
from portal.billing.views_plans import cancel_flow, eligibility, load_plan, plan_form_flow
from portal.patients.access import record_read
from portal.staff.decorators import staff_page

STAFF_SIDE = {"base_template": "staff/base.html", "staff": True, "max_attempts": plan_worker.MAX_ATTEMPTS}


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def plan_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_billing_staff(request, patient_id)
    account = account_to_read(access)
    if request.method != "POST":
        record_read(request, access, "billing.plan_new_view")
    context: dict[str, Any] = {
        "access": access,
        "patient": access.patient,
        **STAFF_SIDE,
        **eligibility(account),
    }
    if not context["options"]:
        return render(request, "billing/plans/new.html", context)
    cards = list(plans.usable_cards(access.patient.account_id))
    form = PlanForm(
        request.POST if request.method == "POST" else None,
        balance_cents=account.balance_cents,
        cards=cards,
        allow_no_card=True,
    )

    def created(plan: PaymentPlan) -> HttpResponse:
        messages.success(request, _("The payment plan is set up and the patient has been told."))
        return redirect("staff_billing:plan", plan_id=plan.pk)

    return plan_form_flow(request, access, form, {**context, "cards": cards}, created)


@staff_page
@require_safe
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan, access = load_plan(request, plan_id, staff=True)
    record_read(request, access, "billing.plan_view", obj=plan)
    context = {"access": access, "patient": access.patient, "plan": plan, **STAFF_SIDE}
    return render(request, "billing/plans/detail.html", context)


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def plan_cancel(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan, access = load_plan(request, plan_id, staff=True)
    context = {"access": access, "patient": access.patient, **STAFF_SIDE}
    return cancel_flow(request, access, plan, context, "staff_billing:plan")
