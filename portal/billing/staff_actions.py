"""Every write the billing office makes on a patient's account (insurance work is in
`staff_actions_insurance.py`).

Each `do_*` takes the member of staff's `PatientAccess` (staff with the billing scope,
never the patient's own side), is atomic, and audits itself with `record_write` in the
same transaction as the change. Money moves only through `billing/ledger.py` (and
`statements.add_service_line`, which posts through it), so the cached balance always
equals the ledger.

A refund is the one write that talks to the outside world, and it cannot sit inside our
transaction (the gateway may take seconds, or not answer). It runs in three steps, each
safe to repeat with the same key (the refund form's hidden field):

1. **Reserve**: under a lock on the payment, check what remains refundable (counting
   refunds still waiting for the gateway) and insert a `Refund` row for the key, with
   no gateway reference yet. The key is unique, so a double submit finds that row.
2. **Ask the gateway** with the same key. Gateways answer a repeated refund key with
   the refund they already made, so asking again never gives money back twice.
3. **Finish** under the lock: only a refund without its gateway reference is finished,
   once: the reference is stored, the payment's refunded amount and status move, and
   the ledger gets its REFUND entry.

A gateway that refuses (GatewayError) gave nothing back: the reservation is removed and
nothing has changed. One that does not answer (GatewayUnavailable) leaves the
reservation waiting; submitting the same form again (the account page offers it) asks
the gateway again with the same key and finishes it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import ledger, statements
from portal.billing.errors import Refused
from portal.billing.gateways.base import Gateway, GatewayError, GatewayUnavailable
from portal.billing.gateways.registry import gateway as gateway_named
from portal.billing.models import (
    Account,
    Claim,
    LedgerEntry,
    Payment,
    Refund,
    ServiceLine,
    Statement,
)
from portal.lib.money import MAX_CENTS, format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.patients.access import PatientAccess, Role, record_write
from portal.patients.models import Patient, Scope

KEY_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,80}$")
REFUNDABLE = (Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED)
Entry = LedgerEntry.Kind

# A send-once key already used for something else: only a stale or crafted form does that.
RESENT = gettext_lazy("This form was already used. Reload the page and enter it again.")


class BillingRefused(Refused):
    """The change breaks a rule; `message` says which, for the member of staff. Nothing changed."""


class RefundWaiting(BillingRefused):
    """The gateway did not answer: the refund is reserved, and the same form finishes it."""


def check_staff(access: PatientAccess) -> None:
    # The billing office's rights only: the patient and their proxies use the patient pages.
    if access.role is not Role.STAFF or not access.allows(Scope.BILLING):
        raise BillingRefused(_("You cannot work this patient's bills."))


def account_of_access(access: PatientAccess) -> Account:
    return ledger.account_for(access.patient)


def patient_link(*names: str) -> str:
    """The first of the patient-side pages that exists (other areas add theirs)."""
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return reverse("home")


# Guarantor --------------------------------------------------------------------------------------


@transaction.atomic
def do_set_guarantor(
    actor: Actor, access: PatientAccess, guarantor_name: str, guarantor_patient: Patient | None
) -> Account:
    """Name who pays the account: a name, and the patient record when they are one of ours."""
    check_staff(access)
    if guarantor_patient is not None and guarantor_patient.pk == access.patient.pk:
        guarantor_patient = None
    if (
        guarantor_patient is not None
        and actor.user is not None
        and guarantor_patient.account_id == actor.user.pk
    ):
        # Naming yourself would let you see the account from the patient's side.
        raise BillingRefused(_("You cannot name yourself as the guarantor."))
    name = (guarantor_name or (guarantor_patient.full_name if guarantor_patient else "")).strip()
    if not name:
        raise BillingRefused(_("Enter the guarantor's name."))
    account = ledger.locked(account_of_access(access))
    account.guarantor_name = name[:200]
    account.guarantor_patient = guarantor_patient
    account.save(update_fields=["guarantor_name", "guarantor_patient"])
    record_write(
        actor,
        access,
        "billing.staff_guarantor",
        obj=account,
        detail={"guarantor_patient": guarantor_patient.pk if guarantor_patient else None},
    )
    return account


# Charges and adjustments ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeEntry:
    """A billed service as the billing office typed it (or took it from the price list)."""

    service_date: dt.date
    code: str
    description: str
    charge_cents: int
    insurance_paid_cents: int = 0
    adjustment_cents: int = 0
    claim: Claim | None = None
    # The form's send-once key: a double submit posts one charge.
    form_key: str = ""


@transaction.atomic
def do_post_charge(actor: Actor, access: PatientAccess, charge: ChargeEntry) -> ServiceLine:
    """Bill one service: its charge, and what insurance paid and adjusted, into the ledger."""
    check_staff(access)
    # Locked first, so a second submit of the same form waits and then finds the first's line.
    account = ledger.locked(account_of_access(access))
    if charge.form_key:
        earlier = ServiceLine.objects.filter(form_key=charge.form_key).first()
        if earlier is not None:
            if earlier.account_id != account.pk:
                raise BillingRefused(str(RESENT))
            return earlier
    if charge.claim is not None and charge.claim.account_id != account.pk:
        raise BillingRefused(_("That claim is on another account."))
    if not 0 < charge.charge_cents <= MAX_CENTS:
        raise BillingRefused(_("Enter a charge more than $0.00."))
    try:
        line = statements.add_service_line(
            account,
            service_date=charge.service_date,
            code=charge.code[:20],
            description=charge.description[:200],
            charge_cents=charge.charge_cents,
            insurance_paid_cents=charge.insurance_paid_cents,
            adjustment_cents=charge.adjustment_cents,
            posted_by=actor.user,
            claim=charge.claim,
            form_key=charge.form_key,
        )
    except statements.BadServiceLine as error:
        raise BillingRefused(_("Insurance paid and adjusted cannot be more than the charge.")) from error
    record_write(
        actor,
        access,
        "billing.staff_charge",
        obj=line,
        detail={
            "code": line.code,
            "charge_cents": line.charge_cents,
            "insurance_paid_cents": line.insurance_paid_cents,
            "adjustment_cents": line.adjustment_cents,
        },
    )
    return line


@transaction.atomic
def do_post_adjustment(
    actor: Actor, access: PatientAccess, amount_cents: int, reason: str, form_key: str = ""
) -> LedgerEntry:
    """Lower the balance by a clinic adjustment (a write-off, a courtesy discount), with its reason.

    An adjustment only lowers the balance, and not below zero: money owed is added with a
    charge, and money paid back goes as a refund.
    """
    check_staff(access)
    if not 0 < amount_cents <= MAX_CENTS:
        raise BillingRefused(_("Enter an amount more than $0.00."))
    if not reason.strip():
        raise BillingRefused(_("Say why the balance is adjusted."))
    account = ledger.locked(account_of_access(access))
    if form_key:
        earlier = LedgerEntry.objects.filter(form_key=form_key).first()
        if earlier is not None:
            if earlier.account_id != account.pk or earlier.amount_cents != amount_cents:
                raise BillingRefused(str(RESENT))
            return earlier
    if amount_cents > account.balance_cents:
        raise BillingRefused(
            _("That is more than the balance (%(balance)s).")
            % {"balance": format_cents(max(account.balance_cents, 0))}
        )
    entry = ledger.post(
        account,
        Entry.ADJUSTMENT,
        amount_cents,
        description=_("Adjustment by the billing office"),
        payer=LedgerEntry.Payer.CLINIC,
        reason=reason.strip(),
        posted_by=actor.user,
        form_key=form_key,
    )
    record_write(actor, access, "billing.staff_adjustment", obj=entry, detail={"amount_cents": amount_cents})
    return entry


# Refunds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundRequest:
    amount_cents: int
    reason: str
    idempotency_key: str


def refundable_cents(payment: Payment) -> int:
    """What may still be given back: paid, less refunds made and refunds waiting for the gateway."""
    if payment.status not in REFUNDABLE or not payment.gateway_ref:
        return 0
    waiting = Refund.objects.filter(payment=payment, gateway_ref="").aggregate(
        total=Coalesce(Sum("amount_cents"), 0)
    )["total"]
    return max(payment.amount_cents - payment.refunded_cents - int(waiting), 0)


def do_refund_payment(
    actor: Actor,
    access: PatientAccess,
    payment: Payment,
    request: RefundRequest,
    *,
    gateway: Gateway | None = None,
) -> Refund:
    """Give back part or all of a patient's card payment, once per key (see the module docstring)."""
    check_staff(access)
    if payment.account.patient_id != access.patient.pk:
        raise BillingRefused(_("That payment is on another account."))
    if not KEY_FORMAT.match(request.idempotency_key or ""):
        raise BillingRefused(_("This refund form has expired. Reload the page and try again."))
    # A retry of a refund the processor did not answer: it may already have given the money back.
    retry = Refund.objects.filter(idempotency_key=request.idempotency_key).exists()
    refund = _reserve_refund(actor, access, payment, request)
    if refund.gateway_ref:
        return refund
    gateway = gateway or gateway_named(payment.gateway)
    try:
        reference = gateway.refund(
            reference=payment.gateway_ref,
            amount_cents=refund.amount_cents,
            idempotency_key=refund.idempotency_key,
        )
    except GatewayUnavailable as error:
        raise RefundWaiting(
            _(
                "The card processor did not answer, so the refund is waiting. Nothing is given back "
                "twice: use “Try the refund again” on the account page to finish it."
            )
        ) from error
    except GatewayError as error:
        if retry:
            # Never released after a silence: the money may have gone back already (an
            # "already refunded" answer says so). It waits for a person to check.
            raise RefundWaiting(
                _(
                    "The card processor refused to repeat a refund it may already have made (%(why)s). "
                    "The refund stays waiting: check it with the card processor before anything else."
                )
                % {"why": error}
            ) from error
        _release_refund(actor, access, refund, str(error))
        raise BillingRefused(
            _("The card processor refused the refund (%(why)s). Nothing was refunded.") % {"why": error}
        ) from error
    return _finish_refund(actor, access, refund, reference)


def _reserve_refund(actor: Actor, access: PatientAccess, payment: Payment, request: RefundRequest) -> Refund:
    earlier = Refund.objects.filter(idempotency_key=request.idempotency_key).first()
    if earlier is None:
        try:
            with transaction.atomic():
                current = Payment.objects.select_for_update().get(pk=payment.pk)
                _check_refund(current, request)
                refund = Refund.objects.create(
                    payment=current,
                    idempotency_key=request.idempotency_key,
                    amount_cents=request.amount_cents,
                    reason=request.reason.strip()[:300],
                    created_by=actor.user,
                )
                record_write(
                    actor,
                    access,
                    "billing.staff_refund_start",
                    obj=refund,
                    detail={"payment": current.pk, "amount_cents": refund.amount_cents},
                )
                return refund
        except IntegrityError:
            # The same form arrived twice at once: the other request made the row.
            earlier = Refund.objects.get(idempotency_key=request.idempotency_key)
    if earlier.payment_id != payment.pk or earlier.amount_cents != request.amount_cents:
        raise BillingRefused(
            _("This refund form was already used for a different refund. Reload the page to start again.")
        )
    return earlier


def _check_refund(payment: Payment, request: RefundRequest) -> None:
    if payment.status not in REFUNDABLE or not payment.gateway_ref:
        raise BillingRefused(_("Only a completed card payment can be refunded."))
    if not 0 < request.amount_cents <= MAX_CENTS:
        raise BillingRefused(_("Enter an amount more than $0.00."))
    if not request.reason.strip():
        raise BillingRefused(_("Say why the payment is refunded."))
    remaining = refundable_cents(payment)
    if request.amount_cents > remaining:
        raise BillingRefused(
            _("That is more than can be refunded on this payment (%(remaining)s).")
            % {"remaining": format_cents(remaining)}
        )


@transaction.atomic
def _release_refund(actor: Actor, access: PatientAccess, refund: Refund, why: str) -> None:
    """The gateway refused: nothing was given back, so the reservation goes."""
    Refund.objects.filter(pk=refund.pk, gateway_ref="").delete()
    record_write(
        actor,
        access,
        "billing.staff_refund",
        obj=refund.payment,
        outcome=AuditEvent.Outcome.FAILURE,
        detail={"amount_cents": refund.amount_cents, "error": why[:200]},
    )


@transaction.atomic
def _finish_refund(actor: Actor, access: PatientAccess, refund: Refund, reference: str) -> Refund:
    payment = Payment.objects.select_for_update().select_related("account").get(pk=refund.payment_id)
    current = Refund.objects.select_for_update().get(pk=refund.pk)
    if current.gateway_ref:
        return current  # another request with this key finished it a moment ago
    current.gateway_ref = (reference or current.idempotency_key)[:100]
    current.save(update_fields=["gateway_ref"])
    payment.refunded_cents += current.amount_cents
    payment.status = (
        Payment.Status.REFUNDED
        if payment.refunded_cents >= payment.amount_cents
        else Payment.Status.PARTLY_REFUNDED
    )
    payment.save(update_fields=["refunded_cents", "status"])
    ledger.post(
        payment.account,
        Entry.REFUND,
        current.amount_cents,
        description=_("Refund of payment %(receipt)s") % {"receipt": payment.receipt_number or payment.pk},
        payment=payment,
        reason=current.reason,
        posted_by=actor.user,
    )
    record_write(
        actor,
        access,
        "billing.staff_refund",
        obj=current,
        detail={"payment": payment.pk, "amount_cents": current.amount_cents, "status": payment.status},
    )
    amount = format_cents(current.amount_cents)
    notify_patient(
        access.patient,
        kind=Kind.BILLING,
        key=f"billing.refund:{current.pk}",
        link=reverse("billing:payment", args=[payment.pk]),
        compose=lambda: (
            _("Refund issued"),
            _("We refunded %(amount)s to your card. It can take a few days to appear.") % {"amount": amount},
        ),
    )
    return current


# Statements -------------------------------------------------------------------------------------


@transaction.atomic
def do_issue_statement(actor: Actor, access: PatientAccess) -> Statement:
    """Send the patient a statement of everything since the last one (they are notified)."""
    check_staff(access)
    account = ledger.locked(account_of_access(access))
    previous = Statement.objects.filter(account=account).order_by("-created_at", "-id").first()
    entries = LedgerEntry.objects.filter(account=account)
    if previous is not None:
        entries = entries.filter(posted_at__gt=previous.created_at)
    if not entries.exists():
        if previous is None:
            raise BillingRefused(_("There is nothing to bill yet: the account has no charges."))
        raise BillingRefused(
            _("Nothing has changed since statement %(number)s.") % {"number": previous.number}
        )
    statement = statements.issue_statement(account, created_by=actor.user)
    record_write(
        actor,
        access,
        "billing.staff_statement",
        obj=statement,
        detail={"amount_due_cents": statement.amount_due_cents},
    )
    return statement
