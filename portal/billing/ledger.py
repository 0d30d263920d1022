"""Posting to the ledger: the only code that changes an account's balance.

Each post locks the account row, appends one entry and moves `balance_cents` by the
entry's signed amount in the same transaction, so the cached balance always equals the
sum of the ledger (`derived_balance`), on SQLite (IMMEDIATE transactions serialise
writers) and on PostgreSQL (SELECT ... FOR UPDATE).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.db.models import Case, F, Q, Sum, When
from django.db.models.functions import Coalesce

from portal.accounts.models import User
from portal.billing.models import Account, LedgerEntry, Payment, ServiceLine
from portal.patients.models import Patient

Kind = LedgerEntry.Kind


def account_for(patient: Patient) -> Account:
    """The patient's billing account, opened (with the patient as guarantor) the first time it is needed."""
    account = Account.objects.filter(patient=patient).first()
    if account is not None:
        return account
    with transaction.atomic():
        account, _created = Account.objects.get_or_create(
            patient=patient,
            defaults={"number": new_account_number(), "guarantor_name": patient.full_name},
        )
    return account


def new_account_number() -> str:
    return "G" + "".join(secrets.choice("0123456789") for _ in range(9))


def locked(account: Account) -> Account:
    """The account row, locked until the transaction ends. Call inside `transaction.atomic()`."""
    return Account.objects.select_for_update().get(pk=account.pk)


def post(
    account: Account,
    kind: str,
    amount_cents: int,
    *,
    description: str,
    payer: str = LedgerEntry.Payer.PATIENT,
    code: str = "",
    service_date: dt.date | None = None,
    service_line: ServiceLine | None = None,
    payment: Payment | None = None,
    reason: str = "",
    posted_by: User | None = None,
    form_key: str | None = None,
    sensitivity: str = "",
) -> LedgerEntry:
    """Append one entry and move the balance with it. Amounts are positive cents."""
    if amount_cents <= 0:
        raise ValueError("ledger amounts are positive cents")
    with transaction.atomic():
        current = locked(account)
        entry = LedgerEntry.objects.create(
            account=current,
            kind=kind,
            payer=payer,
            amount_cents=amount_cents,
            description=description[:200],
            code=code,
            service_date=service_date,
            service_line=service_line,
            payment=payment,
            reason=reason[:300],
            posted_by=posted_by,
            form_key=form_key or None,
            sensitivity=sensitivity,
        )
        Account.objects.filter(pk=current.pk).update(balance_cents=F("balance_cents") + entry.signed_cents)
        current.refresh_from_db(fields=["balance_cents"])
        account.balance_cents = current.balance_cents
    return entry


# The balance the ledger says: charges + refunds - payments - adjustments.
SIGNED = Case(
    When(kind__in=[Kind.CHARGE, Kind.REFUND], then=F("amount_cents")),
    default=-F("amount_cents"),
)


def derived_balance(account: Account) -> int:
    """The balance summed from the ledger, to check the cached one against."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Coalesce(Sum(SIGNED), 0))["total"]
    return int(total)


def totals(account: Account) -> dict[str, int]:
    """Charges, payments (patient and insurance), adjustments and refunds, in one query.

    An account not yet saved (a stand-in for a patient never billed) has nothing on it.
    """
    if not account.pk:
        return dict.fromkeys(
            ("charges", "patient_payments", "insurance_payments", "adjustments", "refunds"), 0
        )
    sums = LedgerEntry.objects.filter(account=account).aggregate(
        charges=Coalesce(Sum("amount_cents", filter=Q(kind=Kind.CHARGE)), 0),
        patient_payments=Coalesce(
            Sum("amount_cents", filter=Q(kind=Kind.PAYMENT) & ~Q(payer=LedgerEntry.Payer.INSURANCE)), 0
        ),
        insurance_payments=Coalesce(
            Sum("amount_cents", filter=Q(kind=Kind.PAYMENT, payer=LedgerEntry.Payer.INSURANCE)), 0
        ),
        adjustments=Coalesce(Sum("amount_cents", filter=Q(kind=Kind.ADJUSTMENT)), 0),
        refunds=Coalesce(Sum("amount_cents", filter=Q(kind=Kind.REFUND)), 0),
    )
    return {key: int(value) for key, value in sums.items()}
