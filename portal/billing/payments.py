"""Taking a payment so that it charges once, whatever happens around it.

A payment attempt is named by its idempotency key (the pay form's hidden field, or
`plan-<instalment>-<attempt>` for the worker). The steps:

1. **Claim** the key: insert a `Payment` row (pending) for it, or find the one already
   there. The same key with another amount, account or payer is refused. A final
   payment is returned as it is: a double click or a reload shows the same result.
2. **Ask the gateway** with the same key. Gateways answer a repeated key with the
   charge they already made, so two requests racing on one key, or a retry after the
   process died between the gateway's charge and our record, find one charge.
3. **Record** the answer under a lock: only a pending (or bank-check) payment changes,
   and only then is the ledger posted (also unique per payment in the database).

A gateway that does not answer leaves the payment pending; a retry with its key, or
`reconcile_pending` run by the worker, asks again and records what really happened.
A declined or failed charge changes no balance and says why in plain words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import record
from portal.audit.models import AuditEvent
from portal.billing import ledger
from portal.billing.gateways.base import (
    ChargeResult,
    ChargeStatus,
    Gateway,
    GatewayError,
    GatewayUnavailable,
    SavedMethod,
)
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.models import Account, Funding, LedgerEntry, Payment, SavedCard, Statement
from portal.lib.money import MAX_CENTS, format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope

KEY_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,80}$")
# A pay form's key is a random uuid4 in hex; the worker's keys ("plan-...") never look like
# one, so no form can claim (and so block) a key the worker will use.
FORM_KEY = re.compile(r"^[0-9a-f]{32}$")
Status = Payment.Status

# Failed by `reconcile_pending` because the gateway had no charge for the key. A retry that
# was on its way to the gateway at that moment may still charge: the charge then wins.
UNSEEN = "unseen_by_gateway"
# Payments this recent and still waiting for the gateway count against the balance a new
# payment may cover (as do bank checks, until settled), so two tabs cannot pay it twice.
IN_FLIGHT = dt.timedelta(minutes=30)
# How long a payment failed as never seen by the gateway is still looked up again.
RECHECK_UNSEEN = dt.timedelta(days=1)

# What a decline means, for the payer. Every one says whether money moved.
DECLINE_WORDS = {
    "card_declined": gettext_lazy(
        "Your bank declined this card. You have not been charged. Try another card or call your bank."
    ),
    "insufficient_funds": gettext_lazy(
        "The card does not have enough money available. You have not been charged."
    ),
    "expired_card": gettext_lazy("The card has expired. You have not been charged."),
    "incorrect_cvc": gettext_lazy("The security code is not right. You have not been charged."),
    "authentication_required": gettext_lazy(
        "Your bank wants to confirm this payment with you. You have not been charged; pay online to confirm it."
    ),
    "authentication_failed": gettext_lazy("Your bank's check was not completed. You have not been charged."),
    UNSEEN: gettext_lazy(
        "The card processor never received this payment. You have not been charged; please try again."
    ),
    "processing_error": gettext_lazy(
        "The card processor had a problem and did not take the payment. You have not been charged; please try again."
    ),
}
GENERIC_DECLINE = gettext_lazy("The payment did not go through. You have not been charged.")


class PaymentRefused(Exception):
    """The payment cannot be taken; the text says why, for the payer. Nothing was charged."""


@dataclass(frozen=True)
class PaymentRequest:
    """What the payer chose: how much, with what, and the attempt's key."""

    amount_cents: int
    idempotency_key: str
    token: str = ""
    saved_card: SavedCard | None = None
    save_card: bool = False
    funding: str = Funding.UNKNOWN
    statement: Statement | None = None
    source: str = Payment.Source.PORTAL


def decline_words(code: str) -> str:
    return str(DECLINE_WORDS.get(code, GENERIC_DECLINE))


def do_pay(
    actor: Actor,
    access: PatientAccess,
    request: PaymentRequest,
    *,
    return_url: str = "",
    off_session: bool = False,
    gateway: Gateway | None = None,
) -> Payment:
    """Take (or find) the payment named by the request's key; see the module docstring."""
    gateway = gateway or configured_gateway()
    payment = claim_payment(actor, access, request, gateway.name)
    if payment.status != Status.PENDING:
        return payment
    try:
        result = _ask(gateway, payment, request, return_url, off_session, actor)
    except GatewayUnavailable:
        # Unknown whether the card was charged: stay pending; a retry or the worker finds out.
        from portal.billing.tasks import schedule_sweep  # the worker's sweep imports this module

        schedule_sweep()
        return payment
    except GatewayError as error:
        result = ChargeResult(status=ChargeStatus.FAILED, decline_code="gateway_error", message=str(error))
    return record_result(actor, payment, result)


def claim_payment(actor: Actor, access: PatientAccess, request: PaymentRequest, gateway_name: str) -> Payment:
    """Step 1 alone: check the request and claim its key (a new pending payment, or the earlier one).

    `do_pay` starts with it; the plan worker calls it under the plan's lock, so a second
    sweep sees the attempt before either asks the gateway.
    """
    if not access.allows(Scope.BILLING):
        raise PaymentRefused(_("You cannot pay bills for this patient."))
    _check_request(request)
    _check_card(actor, request)
    return _claim(actor, access, ledger.account_for(access.patient), request, gateway_name)


def _check_request(request: PaymentRequest) -> None:
    key = request.idempotency_key or ""
    from_form = request.source == Payment.Source.PORTAL
    if not KEY_FORMAT.match(key) or bool(FORM_KEY.match(key)) != from_form:
        raise PaymentRefused(_("This payment form has expired. Reload the page and try again."))
    if not 0 < request.amount_cents <= MAX_CENTS:
        raise PaymentRefused(_("Enter an amount more than $0.00."))
    if not request.token and request.saved_card is None:
        raise PaymentRefused(_("Enter a card, or choose a saved card."))


def _check_card(actor: Actor, request: PaymentRequest) -> None:
    """A saved card is charged only by its owner, or for a plan its owner agreed to."""
    card = request.saved_card
    if card is None:
        return
    own = actor.user is not None and card.owner_id == actor.user.pk
    if card.removed_at is not None or not (own or request.source == Payment.Source.PLAN):
        raise PaymentRefused(_("Choose one of your saved cards."))


def _claim(
    actor: Actor, access: PatientAccess, account: Account, request: PaymentRequest, gateway_name: str
) -> Payment:
    """The payment row for the key: new and pending, or the one an earlier try made."""
    earlier = Payment.objects.filter(idempotency_key=request.idempotency_key).first()
    if earlier is None:
        try:
            with transaction.atomic():
                _check_amount(account, request)
                payment = Payment.objects.create(
                    account=account,
                    idempotency_key=request.idempotency_key,
                    amount_cents=request.amount_cents,
                    statement=request.statement,
                    source=request.source,
                    gateway=gateway_name,
                    funding=request.funding,
                    saved_card=request.saved_card,
                    brand=request.saved_card.brand if request.saved_card else "",
                    last4=request.saved_card.last4 if request.saved_card else "",
                    created_by=actor.user,
                )
                record_write(
                    actor,
                    access,
                    "billing.payment_start",
                    obj=payment,
                    detail={"amount_cents": payment.amount_cents, "source": payment.source},
                )
                return payment
        except IntegrityError:
            # Another request with this key won the insert a moment ago.
            earlier = Payment.objects.get(idempotency_key=request.idempotency_key)
    if (
        earlier.account_id != account.pk
        or earlier.amount_cents != request.amount_cents
        or earlier.created_by_id != (actor.user.pk if actor.user else None)
    ):
        raise PaymentRefused(
            _("This payment form was already used for a different payment. Reload the page to start again.")
        )
    return earlier


def _check_amount(account: Account, request: PaymentRequest) -> None:
    """A new payment may not be more than is owed, less payments still in progress.

    Checked with the account locked, so concurrent payments with different keys are
    counted one after the other. A plan instalment is capped by its plan instead.
    """
    current = ledger.locked(account)
    if request.source != Payment.Source.PORTAL:
        return
    # A bank check stays live until the worker calls it off (a day), so it counts until then.
    in_flight = (
        Payment.objects.filter(account=current)
        .filter(
            Q(status=Status.PENDING, created_at__gte=timezone.now() - IN_FLIGHT)
            | Q(status=Status.REQUIRES_ACTION)
        )
        .aggregate(total=Coalesce(Sum("amount_cents"), 0))["total"]
    )
    payable = current.balance_cents - int(in_flight)
    if request.amount_cents > payable:
        if in_flight:
            raise PaymentRefused(
                _("A payment of %(amount)s is still being processed. Wait for its result before paying more.")
                % {"amount": format_cents(int(in_flight))}
            )
        raise PaymentRefused(
            _("That is more than you owe (%(balance)s). Enter a smaller amount.")
            % {"balance": format_cents(max(current.balance_cents, 0))}
        )


def _ask(
    gateway: Gateway,
    payment: Payment,
    request: PaymentRequest,
    return_url: str,
    off_session: bool,
    actor: Actor,
) -> ChargeResult:
    saved = None
    if request.saved_card is not None:
        card = request.saved_card
        saved = SavedMethod(
            card.method_ref,
            card.customer_ref,
            card.brand,
            card.last4,
            card.exp_month,
            card.exp_year,
            card.funding,
        )
    customer = ""
    if request.save_card and actor.user is not None:
        customer = customer_of(actor.user, gateway.name)
    return gateway.charge(
        amount_cents=payment.amount_cents,
        idempotency_key=payment.idempotency_key,
        token=request.token,
        saved=saved,
        description=_("Payment on account %(number)s") % {"number": payment.account.number},
        return_url=return_url,
        off_session=off_session,
        save_for_later=request.save_card and not saved,
        customer_ref=customer,
    )


def customer_of(user: User, gateway_name: str) -> str:
    """The gateway's customer for the user's saved cards ("" before their first), so cards gather under one."""
    found = (
        SavedCard.objects.filter(owner=user, gateway=gateway_name)
        .exclude(customer_ref="")
        .values_list("customer_ref", flat=True)
        .first()
    )
    return found or ""


def record_result(actor: Actor, payment: Payment, result: ChargeResult) -> Payment:
    """Record the gateway's answer once: later answers for a final payment change nothing."""
    with transaction.atomic():
        current = Payment.objects.select_for_update().select_related("account__patient").get(pk=payment.pk)
        late_charge = current.failure_code == UNSEEN and result.status == ChargeStatus.SUCCEEDED
        if (
            current.is_final and not late_charge
        ) or current.status == result.status == Status.REQUIRES_ACTION:
            return current
        now = timezone.now()
        current.gateway_ref = result.reference or current.gateway_ref
        current.brand = result.brand or current.brand
        current.last4 = result.last4 or current.last4
        if result.funding and result.funding != Funding.UNKNOWN:
            current.funding = result.funding
        if result.status == ChargeStatus.SUCCEEDED:
            _succeed(actor, current, result, now)
        elif result.status == ChargeStatus.REQUIRES_ACTION:
            current.status = Status.REQUIRES_ACTION
            current.next_action_url = result.next_action_url
        else:
            current.status = Status.DECLINED if result.status == ChargeStatus.DECLINED else Status.FAILED
            current.failure_code = result.decline_code[:40]
            current.failure_message = decline_words(result.decline_code)[:300]
            current.completed_at = now
        current.save()
        _audit_result(actor, current)
    return current


def _succeed(actor: Actor, payment: Payment, result: ChargeResult, now: dt.datetime) -> None:
    payment.status = Status.SUCCEEDED
    payment.failure_code = payment.failure_message = ""
    payment.completed_at = now
    payment.next_action_url = ""
    payment.receipt_number = f"R-{payment.pk:08d}"
    if result.saved_method is not None and payment.saved_card_id is None and payment.created_by_id:
        payment.saved_card = _keep_card(payment, result.saved_method)
    ledger.post(
        payment.account,
        LedgerEntry.Kind.PAYMENT,
        payment.amount_cents,
        description=_("Card payment %(brand)s ending %(last4)s")
        % {"brand": payment.brand or _("card"), "last4": payment.last4 or "????"},
        payment=payment,
        posted_by=actor.user,
    )
    link = reverse("billing:payment", args=[payment.pk])
    amount = format_cents(payment.amount_cents)
    notify_patient(
        payment.account.patient,
        kind=Kind.BILLING,
        key=f"billing.receipt:{payment.pk}",
        link=link,
        compose=lambda: (
            _("Payment received"),
            _("Thank you. We received your payment of %(amount)s. Your receipt is ready.")
            % {"amount": amount},
        ),
        event="receipt",
    )


def _keep_card(payment: Payment, method: SavedMethod) -> SavedCard:
    if payment.created_by is None:
        raise ValueError("only a payer's own payment saves a card")
    existing = SavedCard.objects.filter(
        owner_id=payment.created_by_id, gateway=payment.gateway, method_ref=method.method_ref, removed_at=None
    ).first()
    if existing is not None:
        return existing
    return SavedCard.objects.create(
        owner=payment.created_by,
        gateway=payment.gateway,
        customer_ref=method.customer_ref,
        method_ref=method.method_ref,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        funding=method.funding if method.funding in Funding.values else Funding.UNKNOWN,
    )


def _audit_result(actor: Actor, payment: Payment) -> None:
    Outcome = AuditEvent.Outcome
    outcome = (
        Outcome.SUCCESS if payment.status in (Status.SUCCEEDED, Status.REQUIRES_ACTION) else Outcome.FAILURE
    )
    record(
        actor,
        "billing.payment_result",
        kind=AuditEvent.Kind.WRITE,
        patient=payment.account.patient_id,
        obj=payment,
        outcome=outcome,
        detail={"status": payment.status, "amount_cents": payment.amount_cents, "code": payment.failure_code},
    )


def finish_authentication(actor: Actor, payment: Payment, gateway: Gateway | None = None) -> Payment:
    """After the payer's bank check: ask the gateway how the charge ended and record it."""
    if payment.status != Status.REQUIRES_ACTION or not payment.gateway_ref:
        return payment
    gateway = gateway or configured_gateway(payment.gateway)
    try:
        result = gateway.retrieve(payment.gateway_ref)
    except (GatewayUnavailable, GatewayError):
        return payment
    return record_result(actor, payment, result)


def reconcile_pending(older_than: dt.timedelta = dt.timedelta(minutes=5), limit: int = 200) -> int:
    """Settle payments left pending (the gateway did not answer, or the process died).

    The gateway is asked what it did with each key: a charge it made is recorded; a key
    it never saw was never charged, so the payment fails saying so. A bank check nobody
    finished within a day is called off at the gateway first, so it can no longer take
    money, and recorded as it ended there (paid, if the payer finished just in time).
    Returns how many were settled.
    """
    now = timezone.now()
    stale = Payment.objects.filter(status=Status.PENDING, created_at__lt=now - older_than)
    abandoned = Payment.objects.filter(
        status=Status.REQUIRES_ACTION, created_at__lt=now - dt.timedelta(days=1)
    )
    settled = 0
    for payment in list(stale[:limit]) + list(abandoned[:limit]):
        try:
            result = _settle(payment)
        except (GatewayUnavailable, GatewayError):
            continue
        record_result(Actor.system(), payment, result)
        settled += 1
    return settled + _recheck_unseen(now, limit)


def _recheck_unseen(now: dt.datetime, limit: int) -> int:
    """Ask again, for a day, about payments failed as never seen: a gateway's search can lag.

    A charge found after all is recorded (the one failure a success may replace).
    """
    found = 0
    for payment in Payment.objects.filter(failure_code=UNSEEN, completed_at__gte=now - RECHECK_UNSEEN)[
        :limit
    ]:
        try:
            result = configured_gateway(payment.gateway).lookup(payment.idempotency_key)
        except (GatewayUnavailable, GatewayError):
            continue
        if result is not None and result.status == ChargeStatus.SUCCEEDED:
            record_result(Actor.system(), payment, result)
            found += 1
    return found


def needs_settling(now: dt.datetime) -> bool:
    """Payments the worker's sweep should soon ask the gateway about."""
    return (
        Payment.objects.filter(status=Status.PENDING).exists()
        or Payment.objects.filter(failure_code=UNSEEN, completed_at__gte=now - RECHECK_UNSEEN).exists()
    )


def _settle(payment: Payment) -> ChargeResult:
    """How a pending or abandoned payment really ended, from the gateway."""
    gateway = configured_gateway(payment.gateway)
    if payment.status == Status.REQUIRES_ACTION and payment.gateway_ref:
        result: ChargeResult | None = gateway.cancel(payment.gateway_ref)
    else:
        result = gateway.lookup(payment.idempotency_key)
    if result is None:
        return ChargeResult(status=ChargeStatus.FAILED, decline_code=UNSEEN)
    if result.status == ChargeStatus.SUCCEEDED:
        return result
    if payment.status == Status.REQUIRES_ACTION or result.status == ChargeStatus.REQUIRES_ACTION:
        return ChargeResult(status=ChargeStatus.FAILED, decline_code="authentication_failed")
    return result
