"""Payment plans on the patient side: the account's plans, setting one up, cancelling it.

Everything here needs the billing scope (the patient, or a proxy granted it). A plan a
URL names is loaded through `billing.access.require_account_object`: another patient's,
or one a proxy without the billing scope asks for, is the same audited 404 as a missing
one. The set-up form has two steps: choose, then confirm the schedule it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.accounts.decorators import require_recent_auth
from portal.audit.actor import Actor
from portal.billing import plan_worker, plans
from portal.billing.access import account_to_read, require_account_object
from portal.billing.forms_plans import PlanCardForm, PlanForm
from portal.billing.models import Account, Instalment, PaymentPlan, SavedCard
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page

PAGE_SIZE = 10
PATIENT_SIDE = {"base_template": "base.html", "staff": False, "max_attempts": plan_worker.MAX_ATTEMPTS}


def plans_with_instalments(queryset: QuerySet[PaymentPlan]) -> QuerySet[PaymentPlan]:
    """Plans with their card and instalments (in order) in two queries, however many there are."""
    return queryset.select_related("saved_card").prefetch_related(
        Prefetch("instalments", queryset=Instalment.objects.order_by("number"), to_attr="schedule")
    )


def eligibility(account: Account) -> dict[str, Any]:
    """Whether a new plan may be set up for the account, and if not, why (for the pages)."""
    current = plans.active_plan(account) if account.pk else None
    return {
        "account": account,
        "current_plan": current,
        "options": plans.plan_options(account.balance_cents) if current is None else [],
        "min_balance_cents": settings.PORTAL_PLAN_MIN_BALANCE_CENTS,
    }


@require_safe
@patient_page(Scope.BILLING)
def plan_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    account = account_to_read(access)
    account_plans = PaymentPlan.objects.filter(account=account) if account.pk else PaymentPlan.objects.none()
    page = keyset_page(
        plans_with_instalments(account_plans),
        request.GET.get("after", "")[:20],
        PAGE_SIZE,
    )
    record_read(request, access, "billing.plans_view", count=len(page.items))
    context = {"access": access, "page": page, "plans": page.items, **PATIENT_SIDE, **eligibility(account)}
    return render(request, "billing/plans/list.html", context)


def plan_form_flow(
    request: HttpRequest,
    access: PatientAccess,
    form: PlanForm,
    context: dict[str, Any],
    created: Callable[[PaymentPlan], HttpResponse],
) -> HttpResponse:
    """The two steps of setting up a plan: the choices, then the schedule to confirm.

    "Review" shows the schedule; "Set up the plan" (step=confirm) creates it; "Change"
    (step=edit) goes back to the filled-in choices. Refusals re-show the choices.
    """
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if form.is_bound and form.is_valid():
        if step == "confirm":
            data = form.cleaned_data
            try:
                plan = plans.do_create_plan(
                    Actor.from_request(request),
                    access,
                    total_cents=data["amount"],
                    months=data["months"],
                    saved_card=data["card"],
                    start_on=data["start_on"],
                )
            except plans.PlanRefused as refusal:
                form.add_error(None, refusal.message)
            else:
                return created(plan)
        elif step != "edit":
            confirm = {**context, "form": form, "schedule": form.schedule(), "hidden": form.hidden_values()}
            return render(request, "billing/plans/confirm.html", confirm)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "billing/plans/new.html", {**context, "form": form}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.BILLING)
def plan_new(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    account = account_to_read(access)
    if request.method != "POST":
        record_read(request, access, "billing.plan_new_view")
    context: dict[str, Any] = {"access": access, **PATIENT_SIDE, **eligibility(account)}
    if not context["options"]:
        return render(request, "billing/plans/new.html", context)
    cards = list(plans.usable_cards(access.user.pk))
    form = PlanForm(
        request.POST if request.method == "POST" else None, balance_cents=account.balance_cents, cards=cards
    )

    def created(plan: PaymentPlan) -> HttpResponse:
        messages.success(request, _("Your payment plan is set up."))
        return redirect("billing:plan", plan_id=plan.pk)

    return plan_form_flow(request, access, form, {**context, "cards": cards}, created)


def load_plan(
    request: HttpRequest, plan_id: int, *, staff: bool = False
) -> tuple[PaymentPlan, PatientAccess]:
    queryset = plans_with_instalments(PaymentPlan.objects.select_related("created_by", "cancelled_by"))
    return require_account_object(request, queryset, plan_id, staff=staff)


# A plan a URL names is decided by `require_account_object` (the billing scope for the
# plan's own patient), so a proxy without it gets the same 404 as for a missing plan.
@require_safe
@patient_page(None)
def plan_detail(request: HttpRequest, access: PatientAccess, plan_id: int) -> HttpResponse:
    plan, access = load_plan(request, plan_id)
    record_read(request, access, "billing.plan_view", obj=plan)
    return _detail(request, access, plan, card_form=None)


def _detail(
    request: HttpRequest, access: PatientAccess, plan: PaymentPlan, card_form: PlanCardForm | None
) -> HttpResponse:
    """The plan page; whoever set up an active plan with a card may move it to another card."""
    may_change_card = (
        plan.status == PaymentPlan.Status.ACTIVE
        and plan.saved_card_id is not None
        and plan.created_by_id == access.user.pk
    )
    if may_change_card and card_form is None:
        cards = other_cards(access, plan)
        card_form = PlanCardForm(cards=cards) if cards else None
    context = {"access": access, "plan": plan, "card_form": card_form, **PATIENT_SIDE}
    status = 400 if card_form is not None and card_form.errors else 200
    return render(request, "billing/plans/detail.html", context, status=status)


def other_cards(access: PatientAccess, plan: PaymentPlan) -> list[SavedCard]:
    """The user's cards the plan could move to: usable, and not the one it uses."""
    return [card for card in plans.usable_cards(access.user.pk) if card.pk != plan.saved_card_id]


# Moving the plan to another card is a change of payment method: it asks for a recent sign-in.
@require_POST
@patient_page(None)
@require_recent_auth
def plan_card(request: HttpRequest, access: PatientAccess, plan_id: int) -> HttpResponse:
    plan, access = load_plan(request, plan_id)
    form = PlanCardForm(request.POST, cards=other_cards(access, plan))
    if form.is_valid():
        try:
            plans.do_change_plan_card(Actor.from_request(request), access, plan, form.cleaned_data["card"])
        except plans.PlanRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, _("The payment plan will be charged to the new card."))
            return redirect("billing:plan", plan_id=plan.pk)
    return _detail(request, access, plan, card_form=form)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(None)
def plan_cancel(request: HttpRequest, access: PatientAccess, plan_id: int) -> HttpResponse:
    plan, access = load_plan(request, plan_id)
    return cancel_flow(request, access, plan, {"access": access, **PATIENT_SIDE}, "billing:plan")


def cancel_flow(
    request: HttpRequest, access: PatientAccess, plan: PaymentPlan, context: dict[str, Any], detail: str
) -> HttpResponse:
    """Ask to confirm (a read of the plan, audited); on POST cancel the plan and go back to it."""
    error = ""
    if request.method != "POST":
        record_read(request, access, "billing.plan_cancel_view", obj=plan)
    else:
        try:
            plans.do_cancel_plan(Actor.from_request(request), access, plan)
        except plans.PlanRefused as refusal:
            error = refusal.message
        else:
            messages.success(request, _("The payment plan is cancelled. Nothing more will be charged."))
            return redirect(detail, plan_id=plan.pk)
    status = 400 if error else 200
    return render(
        request, "billing/plans/cancel.html", {**context, "plan": plan, "error": error}, status=status
    )
