"""Paying a bill: the pay page and its confirm step, receipts, saved cards, and how to pay by wire or check.

The pay page is two posts of one form. The first ("review") checks the amount and the
card and shows what is about to happen; the second ("pay") takes the payment through
`payments.do_pay` with the form's idempotency key, so a double click, a reload of the
post or a network retry all land on the one payment. A re-rendered form gets a new key.

Cards are the signed-in user's (the card holder's), not the patient's: a parent's saved
card is offered whichever child they are paying for, and nobody else ever sees it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.accounts.decorators import require_recent_auth
from portal.audit.actor import Actor
from portal.billing import cards, payments
from portal.billing.access import account_to_read, require_account_object
from portal.billing.forms_pay import PAY, STATEMENT, PayForm, SaveCardForm, new_key
from portal.billing.gateways.base import BrowserForm, Gateway
from portal.billing.gateways.registry import cards_online
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.gateways.sandbox.cards import TEST_CARDS
from portal.billing.models import Account, Payment, SavedCard, Statement
from portal.billing.overview import still_due, with_paid_since
from portal.billing.pdf import receipt_filename
from portal.billing.pdf import receipt_pdf as make_receipt_pdf
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page

Status = Payment.Status
# What each status means for the payer, on the receipt.
STATUS_MEANING: dict[str, Any] = {
    Status.PENDING: gettext_lazy(
        "The card processor has not confirmed this payment yet. We will confirm it here and "
        "send you a notification. Please do not pay again."
    ),
    Status.REQUIRES_ACTION: gettext_lazy(
        "Your bank wants to confirm this payment with you. You have not been charged yet."
    ),
    Status.SUCCEEDED: gettext_lazy("Thank you, we received your payment."),
    Status.DECLINED: gettext_lazy("You have not been charged."),
    Status.FAILED: gettext_lazy("You have not been charged."),
    Status.REFUNDED: gettext_lazy("The whole payment was given back to your card."),
    Status.PARTLY_REFUNDED: gettext_lazy("Part of this payment was given back to your card."),
}

# The amount owed (or the patient acted for) changed between the confirm step and Pay.
CHANGED_SINCE_REVIEW = gettext_lazy(
    "The amount or the account changed since you reviewed this payment, so nothing was charged. "
    "Check the details and confirm again."
)


# The pay page -----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.BILLING)
def pay(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not cards_online():
        return _no_cards_online(request, access)
    account = Account.objects.filter(patient=access.patient).first()
    if account is None:
        # Never billed: nothing to pay, and no account is opened just by looking.
        messages.info(request, _("You have nothing to pay right now."))
        return redirect("billing:overview")
    statement = _statement(request, access, account)
    statement_cents = still_due(statement, account.balance_cents) if statement is not None else 0
    gateway = configured_gateway()
    form = PayForm(
        request.POST if request.method == "POST" else None,
        balance_cents=account.balance_cents,
        saved_cards=list(
            SavedCard.objects.filter(
                owner_id=request.user.pk, removed_at=None, gateway=gateway.name
            ).order_by("-created_at", "-id")[:20]
        ),
        statement_number=statement.number if statement is not None else "",
        statement_cents=statement_cents,
        initial={
            "amount_choice": STATEMENT if "statement" in request.GET and statement_cents > 0 else "balance",
            "method": "card",
        },
    )
    page = PayPage(request, access, account, statement, gateway)
    if not form.is_bound:
        record_read(request, access, "billing.pay_view")
        return page.render(form)
    earlier = _already_taken(request, account)
    if earlier is not None:
        # A double click, a reload or a retry of a payment already made: show its result.
        if earlier.status == Status.REQUIRES_ACTION and earlier.next_action_url:
            return redirect(earlier.next_action_url)
        return redirect("billing:payment", payment_id=earlier.pk)
    if not form.is_valid():
        return page.render(form, status=400)
    if form.cleaned_data["step"] != PAY:
        return page.confirm(form)
    return page.take(form)


class PayPage:
    """One request's pay page: draws the form (with the gateway's card form) or the confirm step, or pays."""

    def __init__(
        self,
        request: HttpRequest,
        access: PatientAccess,
        account: Account,
        statement: Statement | None,
        gateway: Gateway,
    ) -> None:
        self.request = request
        self.access = access
        self.account = account
        self.statement = statement
        self.gateway = gateway

    def render(self, form: PayForm, *, status: int = 200, alert: str = "") -> HttpResponse:
        card_form = self.gateway.browser_form(self.request)
        context = {
            **card_form.context,
            "access": self.access,
            "account": self.account,
            "form": form,
            "key": new_key(),
            "statement": self.statement,
            "card_form": card_form,
            "alert": alert,
            "test_cards": TEST_CARDS if self.gateway.name == "sandbox" else (),
            **payee_details(),
        }
        response = render(self.request, "billing/pay/pay.html", context, status=status)
        return allow_card_form(response, card_form)

    def confirm(self, form: PayForm) -> HttpResponse:
        context = {
            "access": self.access,
            "account": self.account,
            "form": form,
            "key": form.cleaned_data["key"],
            "amount_cents": form.amount_cents,
            "method_label": form.method_label(),
            "statement": self.statement,
        }
        return render(self.request, "billing/pay/confirm.html", context)

    def take(self, form: PayForm) -> HttpResponse:
        data = form.cleaned_data
        key = data["key"]
        if data["confirmed_cents"] != form.amount_cents or data["patient"] != self.access.patient.pk:
            return self.render(form, status=400, alert=str(CHANGED_SINCE_REVIEW))
        chosen_statement = self.statement if data["amount_choice"] == STATEMENT else None
        try:
            payment = payments.do_pay(
                Actor.from_request(self.request),
                self.access,
                payments.PaymentRequest(
                    amount_cents=form.amount_cents,
                    idempotency_key=key,
                    token=data["token"],
                    saved_card=form.saved_card,
                    save_card=bool(data["save_card"]),
                    funding=form.funding,
                    statement=chosen_statement,
                ),
                return_url=self.request.build_absolute_uri(reverse("billing:payment_return_key", args=[key])),
            )
        except payments.PaymentRefused as refusal:
            return self.render(form, status=400, alert=str(refusal))
        if payment.status == Status.REQUIRES_ACTION and payment.next_action_url:
            return redirect(payment.next_action_url)
        if payment.status in (Status.DECLINED, Status.FAILED):
            self.account.refresh_from_db(fields=["balance_cents"])
            return self.render(
                form, status=400, alert=payment.failure_message or str(payments.GENERIC_DECLINE)
            )
        return redirect("billing:payment", payment_id=payment.pk)


def _already_taken(request: HttpRequest, account: Account) -> Payment | None:
    """The payment this very form (its key, for the amount it confirmed) already made, if it is the pay step.

    The same key with another amount is not this form: it goes on to be refused.
    """
    if request.POST.get("step") != PAY:
        return None
    key = request.POST.get("key", "")[:80]
    if not key:
        return None
    found = Payment.objects.filter(
        idempotency_key=key, account=account, created_by_id=request.user.pk
    ).first()
    if found is None or request.POST.get("confirmed_cents") != str(found.amount_cents):
        return None
    return found


def _statement(request: HttpRequest, access: PatientAccess, account: Account) -> Statement | None:
    """The statement named by `?statement=` (through the policy), else the latest one."""
    wanted = request.POST.get("statement") or request.GET.get("statement")
    if not wanted:
        return (
            with_paid_since(Statement.objects.filter(account=account)).order_by("-issued_on", "-id").first()
        )
    statement, statement_access = require_account_object(
        request, with_paid_since(Statement.objects.all()), wanted
    )
    if statement_access.patient.pk != access.patient.pk:
        # Another patient this user may pay for: pay it while acting for that patient.
        refuse(request, statement_access.patient, what="billing.statement", lookup=str(wanted)[:40])
    return statement


def allow_card_form(response: HttpResponse, card_form: BrowserForm) -> HttpResponse:
    """Let this response load the gateway's scripts and frames (django-csp reads `_csp_update`)."""
    update = {
        "script-src": list(card_form.script_origins),
        "frame-src": list(card_form.frame_origins),
        "connect-src": list(card_form.connect_origins),
    }
    update = {directive: origins for directive, origins in update.items() if origins}
    if update:
        if "frame-src" in update:
            # No frame-src in the site policy means default-src ('self'); keep it.
            update["frame-src"] = ["'self'", *update["frame-src"]]
        response._csp_update = update  # type: ignore[attr-defined]
    return response


def payee_details() -> dict[str, str]:
    """Who to pay by bank transfer or check, from settings (PORTAL_PAYEE_NAME, PORTAL_WIRE_*, ...)."""
    return {
        "payee_name": settings.PORTAL_PAYEE_NAME,
        "wire_bank": settings.PORTAL_WIRE_BANK,
        "wire_routing": settings.PORTAL_WIRE_ROUTING,
        "wire_account": settings.PORTAL_WIRE_ACCOUNT,
        "wire_swift": settings.PORTAL_WIRE_SWIFT,
        "check_address": settings.PORTAL_CHECK_ADDRESS,
        "billing_phone": settings.PORTAL_BILLING_PHONE,
    }


# Receipts and the way back from the bank's check ------------------------------------------------


def _payments() -> Any:
    return Payment.objects.select_related("account__patient__primary_campus", "created_by")


@require_safe
@patient_page(None)
def payment(request: HttpRequest, access: PatientAccess, payment_id: int) -> HttpResponse:
    payment, access = require_account_object(request, _payments(), payment_id)
    record_read(request, access, "billing.receipt_view", obj=payment)
    context = {
        "access": access,
        "payment": payment,
        "account": payment.account,
        "meaning": STATUS_MEANING.get(payment.status, ""),
        "when": payment.completed_at or payment.created_at,
        "is_payer": payment.created_by_id == request.user.pk,
    }
    return render(request, "billing/pay/receipt.html", context)


@require_safe
@patient_page(None)
def receipt_pdf(request: HttpRequest, access: PatientAccess, payment_id: int) -> HttpResponse:
    payment, access = require_account_object(request, _payments(), payment_id)
    if not payment.succeeded:
        raise Http404
    record_read(request, access, "billing.receipt_download", obj=payment)
    response = HttpResponse(make_receipt_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(True, receipt_filename(payment)) or "attachment"
    )
    return response


@require_safe
@patient_page(None)
def payment_return(request: HttpRequest, access: PatientAccess, payment_id: int) -> HttpResponse:
    """Back from the bank's check: ask the gateway how the charge ended, then show the receipt."""
    return _finish_authentication(request, payment_id)


@require_safe
@patient_page(None)
def payment_return_key(request: HttpRequest, access: PatientAccess, key: str) -> HttpResponse:
    """The return address given to the gateway, named by the payment's key (its id does not exist yet)."""
    found = Payment.objects.filter(idempotency_key=key[:80]).values_list("pk", flat=True).first()
    return _finish_authentication(request, found or 0)


def _finish_authentication(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment, _access = require_account_object(request, _payments(), payment_id)
    payments.finish_authentication(Actor.from_request(request), payment)
    return redirect("billing:payment", payment_id=payment.pk)


# How to pay by bank transfer or check ----------------------------------------------------------


@require_safe
@patient_page(Scope.BILLING)
def how_to_pay(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    context = {
        "access": access,
        "account": account_to_read(access),
        "cards_online": cards_online(),
        **payee_details(),
    }
    return render(request, "billing/pay/how_to_pay.html", context)


def _no_cards_online(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The clinic has no card processor configured: the other ways to pay, said plainly."""
    messages.info(
        request,
        _("This clinic does not take card payments online. You can pay by bank transfer, check or phone."),
    )
    return redirect("billing:how_to_pay")


# Saved cards --------------------------------------------------------------------------------------


def _cards(request: HttpRequest) -> Any:
    return SavedCard.objects.filter(owner_id=request.user.pk, removed_at=None)


@require_safe
@patient_page(Scope.BILLING)
def card_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    saved = list(_cards(request).order_by("-created_at", "-id")[:50])
    return render(request, "billing/pay/cards.html", {"access": access, "cards": saved})


@require_POST
@patient_page(Scope.BILLING)
@require_recent_auth
def remove_card(request: HttpRequest, access: PatientAccess, card_id: int) -> HttpResponse:
    card = _cards(request).filter(pk=card_id).first()
    if card is None:
        raise Http404
    try:
        cards.do_remove_card(Actor.from_request(request), access, card)
    except cards.CardRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("The card ending %(last4)s is removed.") % {"last4": card.last4})
    return redirect("billing:cards")


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.BILLING)
@require_recent_auth
def add_card(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not cards_online():
        return _no_cards_online(request, access)
    gateway = configured_gateway()
    form = SaveCardForm(request.POST if request.method == "POST" else None)
    alert = ""
    if form.is_bound and form.is_valid():
        try:
            card = cards.do_save_card(Actor.from_request(request), access, token=form.cleaned_data["token"])
        except cards.CardRefused as refusal:
            alert = str(refusal)
        else:
            messages.success(request, _("Your card ending %(last4)s is saved.") % {"last4": card.last4})
            return redirect("billing:cards")
    card_form = gateway.browser_form(request)
    context = {
        **card_form.context,
        "access": access,
        "form": form,
        "card_form": card_form,
        "alert": alert,
        "reusable": True,
        "test_cards": TEST_CARDS if gateway.name == "sandbox" else (),
    }
    response = render(request, "billing/pay/add_card.html", context, status=400 if form.is_bound else 200)
    return allow_card_form(response, card_form)
