"""Billing a visit's services and issuing statements (shared by the billing office and seeding).

A service line puts its money in the ledger as up to three entries: the charge, what
insurance paid (a payment by the insurer) and what was adjusted (the contractual
write-off), so the patient's part is what remains on the balance.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.billing import ledger
from portal.billing.models import Account, LedgerEntry, PriceItem, ServiceLine, Statement
from portal.lib.money import format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient

Entry = LedgerEntry.Kind


class BadServiceLine(ValueError):
    """Insurance paid and adjusted more than was charged."""


def add_service_line(
    account: Account,
    *,
    service_date: dt.date,
    code: str,
    description: str,
    charge_cents: int,
    insurance_paid_cents: int = 0,
    adjustment_cents: int = 0,
    posted_by: Any = None,
    form_key: str | None = None,
    sensitivity: str | None = None,
    **fields: Any,
) -> ServiceLine:
    """One billed service and its ledger entries, atomically. `fields`: claim, appointment, campus, visit_label.

    `sensitivity` defaults to the price list's confidential category for the code.
    """
    if min(charge_cents, insurance_paid_cents, adjustment_cents) < 0 or charge_cents <= 0:
        raise BadServiceLine("amounts must be positive cents")
    if insurance_paid_cents + adjustment_cents > charge_cents:
        raise BadServiceLine("insurance paid and adjusted more than the charge")
    if sensitivity is None:
        sensitivity = PriceItem.objects.filter(code=code).values_list("sensitivity", flat=True).first() or ""
    with transaction.atomic():
        line = ServiceLine.objects.create(
            account=account,
            service_date=service_date,
            code=code,
            description=description,
            charge_cents=charge_cents,
            insurance_paid_cents=insurance_paid_cents,
            adjustment_cents=adjustment_cents,
            patient_cents=charge_cents - insurance_paid_cents - adjustment_cents,
            form_key=form_key or None,
            sensitivity=sensitivity,
            **fields,
        )
        common = {
            "code": code,
            "service_date": service_date,
            "service_line": line,
            "posted_by": posted_by,
            "sensitivity": sensitivity,
        }
        ledger.post(account, Entry.CHARGE, charge_cents, description=description, **common)
        if insurance_paid_cents:
            ledger.post(
                account,
                Entry.PAYMENT,
                insurance_paid_cents,
                description=_("Insurance payment: %(service)s") % {"service": description},
                payer=LedgerEntry.Payer.INSURANCE,
                **common,
            )
        if adjustment_cents:
            ledger.post(
                account,
                Entry.ADJUSTMENT,
                adjustment_cents,
                description=_("Insurance adjustment: %(service)s") % {"service": description},
                payer=LedgerEntry.Payer.INSURANCE,
                **common,
            )
    return line


def issue_statement(
    account: Account, *, issued_on: dt.date | None = None, created_by: Any = None
) -> Statement:
    """Snapshot the account since its last statement: new lines, money in and out, and what is due.

    previous balance + charges - insurance paid - adjustments - payments = amount due
    (payments net of refunds), and amount due is the account's balance when issued.
    """
    issued_on = issued_on or timezone.localdate()
    with transaction.atomic():
        current = ledger.locked(account)
        previous = Statement.objects.filter(account=current).order_by("-created_at", "-id").first()
        since = previous.created_at if previous else None
        entries = LedgerEntry.objects.filter(account=current)
        if since is not None:
            entries = entries.filter(posted_at__gt=since)
        sums = entries.aggregate(**_period_sums())
        statement = Statement.objects.create(
            account=current,
            number=f"S{issued_on:%Y%m}-{current.number}-{Statement.objects.filter(account=current).count() + 1}",
            issued_on=issued_on,
            due_on=issued_on + dt.timedelta(days=settings.PORTAL_STATEMENT_DUE_DAYS),
            period_start=(previous.period_end + dt.timedelta(days=1)) if previous else _first_day(current),
            period_end=issued_on,
            previous_balance_cents=previous.amount_due_cents if previous else 0,
            charges_cents=sums["charges"],
            insurance_paid_cents=sums["insurance"],
            adjustments_cents=sums["adjustments"],
            payments_cents=sums["payments"] - sums["refunds"],
            amount_due_cents=current.balance_cents,
            created_by=created_by,
        )
        ServiceLine.objects.filter(account=current, statement__isnull=True).update(statement=statement)
        _tell_patient(current, statement)
    return statement


def _period_sums() -> dict[str, Any]:
    def total(condition: Q) -> Any:
        return Coalesce(Sum("amount_cents", filter=condition), 0)

    insurer = Q(payer=LedgerEntry.Payer.INSURANCE)
    return {
        "charges": total(Q(kind=Entry.CHARGE)),
        "insurance": total(Q(kind=Entry.PAYMENT) & insurer),
        "adjustments": total(Q(kind=Entry.ADJUSTMENT)),
        "payments": total(Q(kind=Entry.PAYMENT) & ~insurer),
        "refunds": total(Q(kind=Entry.REFUND)),
    }


def _first_day(account: Account) -> dt.date:
    first = (
        ServiceLine.objects.filter(account=account)
        .order_by("service_date")
        .values_list("service_date", flat=True)
    )
    return first.first() or timezone.localdate()


def _tell_patient(account: Account, statement: Statement) -> None:
    amount = format_cents(statement.amount_due_cents)
    notify_patient(
        account.patient,
        kind=Kind.BILLING,
        key=f"billing.statement:{statement.pk}",
        link=reverse("billing:statement", args=[statement.pk]),
        compose=lambda: (
            _("New statement"),
            _("Your new statement is ready. Amount due: %(amount)s.") % {"amount": amount},
        ),
        event="statement",
    )
