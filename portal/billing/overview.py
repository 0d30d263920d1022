"""Reading a patient's bills for the patient side: the account, statements, the ledger, whose bills a user pays.

Reads never open an account (`ledger.account_for` does, for writes): a patient who has
never been billed has none, and the pages say "You have no bills". Each helper runs a
fixed number of queries whatever the history: one for the account, one for a page of
statements or entries, one for a statement's lines.

What is left to pay on a statement is its amount due less the payments (by the patient
or the clinic, net of refunds) posted since it was made, never more than the account's
balance: a newer charge is not part of it, and insurance money after it belongs to
later services, so the balance cap covers the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BigIntegerField, Case, F, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.billing import ledger
from portal.billing.confidential import mask_entries, mask_lines
from portal.billing.models import Account, LedgerEntry, ServiceLine, Statement
from portal.lib.paging import Page
from portal.patients.access import PatientAccess, portal_patients
from portal.patients.models import Patient, Scope
from portal.records.listing import dated_page

Entry = LedgerEntry.Kind
Payer = LedgerEntry.Payer

LATEST_STATEMENTS = 3
RECENT_ENTRIES = 5
STATEMENTS_PAGE = 20
ENTRIES_PAGE = 50

# How the ledger's kinds read for the patient, insurance payments told apart from theirs.
KIND_LABELS: dict[str, Any] = {
    "charge": _("Charge"),
    "payment": _("Payment"),
    "insurance": _("Insurance payment"),
    "adjustment": _("Adjustment"),
    "refund": _("Refund"),
}
KIND_FILTERS: dict[str, Q] = {
    "charge": Q(kind=Entry.CHARGE),
    "payment": Q(kind=Entry.PAYMENT) & ~Q(payer=Payer.INSURANCE),
    "insurance": Q(kind=Entry.PAYMENT, payer=Payer.INSURANCE),
    "adjustment": Q(kind=Entry.ADJUSTMENT),
    "refund": Q(kind=Entry.REFUND),
}


def account_of(patient: Patient) -> Account | None:
    """The patient's billing account, or None if they have never been billed (never opens one)."""
    return Account.objects.filter(patient=patient).first()


# Statements --------------------------------------------------------------------------------------


def _paid_since() -> Coalesce:
    """Payments by the patient or the clinic, less refunds, posted after the statement was made."""
    entries = (
        LedgerEntry.objects.filter(
            account=OuterRef("account"),
            posted_at__gt=OuterRef("created_at"),
            kind__in=[Entry.PAYMENT, Entry.REFUND],
        )
        .exclude(payer=Payer.INSURANCE)
        .order_by()
        .values("account")
        .annotate(
            total=Sum(
                Case(
                    When(kind=Entry.REFUND, then=-F("amount_cents")),
                    default=F("amount_cents"),
                    output_field=BigIntegerField(),
                )
            )
        )
        .values("total")
    )
    return Coalesce(Subquery(entries), 0, output_field=BigIntegerField())


def with_paid_since(statements: QuerySet[Statement]) -> QuerySet[Statement]:
    """Statements annotated with `paid_since_cents`, in the same query."""
    return statements.annotate(paid_since_cents=_paid_since())


def still_due(statement: Statement, balance_cents: int) -> int:
    """What is left to pay on a statement (annotated by `with_paid_since`), capped at the balance."""
    left = statement.amount_due_cents - int(getattr(statement, "paid_since_cents", 0))
    return max(0, min(left, balance_cents))


def latest_statements(account: Account, count: int = LATEST_STATEMENTS) -> list[Statement]:
    return list(
        with_paid_since(Statement.objects.filter(account=account)).order_by("-issued_on", "-id")[:count]
    )


def statement_page(account: Account, cursor: Any) -> Page[Statement]:
    """A page of the account's statements, newest first, keyset-paged by (issued on, id)."""
    return dated_page(Statement.objects.filter(account=account), cursor, STATEMENTS_PAGE, "issued_on")


def statement_summary(statement: Statement) -> list[tuple[str, int]]:
    """The statement's arithmetic down to the amount due, each amount signed by what it does to the balance."""
    return [
        (str(_("Previous balance")), statement.previous_balance_cents),
        (str(_("Charges")), statement.charges_cents),
        (str(_("Insurance paid")), -statement.insurance_paid_cents),
        (str(_("Adjustments")), -statement.adjustments_cents),
        (str(_("Payments")), -statement.payments_cents),
    ]


@dataclass(frozen=True)
class Totals:
    """Charges, insurance paid, adjusted and the patient's part of some service lines."""

    charge_cents: int = 0
    insurance_paid_cents: int = 0
    adjustment_cents: int = 0
    patient_cents: int = 0

    @classmethod
    def of(cls, lines: list[ServiceLine]) -> Totals:
        return cls(
            sum(line.charge_cents for line in lines),
            sum(line.insurance_paid_cents for line in lines),
            sum(line.adjustment_cents for line in lines),
            sum(line.patient_cents for line in lines),
        )


@dataclass
class Visit:
    """The services of one visit on a statement: same day, visit, campus and appointment."""

    service_date: dt.date
    label: str
    campus_name: str
    lines: list[ServiceLine] = field(default_factory=list)

    @property
    def totals(self) -> Totals:
        return Totals.of(self.lines)


def statement_visits(statement: Statement, access: PatientAccess) -> list[Visit]:
    """The statement's service lines grouped by visit, in date order (one query).

    Confidential services the access may not know of keep their amounts only.
    """
    lines = list(
        ServiceLine.objects.filter(statement=statement)
        .select_related("campus")
        .order_by("service_date", "id")
    )
    mask_lines(lines, access)
    visits: dict[tuple[Any, ...], Visit] = {}
    for line in lines:
        key = (line.service_date, line.appointment_id, line.visit_label, line.campus_id)
        campus = line.campus.short_name if line.campus is not None else ""
        visits.setdefault(key, Visit(line.service_date, line.visit_label, campus)).lines.append(line)
    return list(visits.values())


# The ledger --------------------------------------------------------------------------------------


def kind_of(entry: LedgerEntry) -> str:
    """The entry's kind as the patient reads it: insurance payments are their own kind."""
    if entry.kind == Entry.PAYMENT and entry.payer == Payer.INSURANCE:
        return "insurance"
    return str(entry.kind)


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry for the page: its kind in words, its signed amount, the balance after it."""

    entry: LedgerEntry
    kind: str
    kind_label: str
    signed_cents: int
    balance_after_cents: int | None


def recent_entries(account: Account, access: PatientAccess, count: int = RECENT_ENTRIES) -> list[LedgerRow]:
    entries = list(LedgerEntry.objects.filter(account=account).order_by("-posted_at", "-id")[:count])
    mask_entries(entries, access)
    return _rows(entries, account.balance_cents)


@dataclass(frozen=True)
class LedgerFilter:
    """Which entries to show: a kind (a key of KIND_FILTERS) and days, each optional."""

    kind: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.kind or self.date_from or self.date_to)

    def apply(self, entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
        if self.kind in KIND_FILTERS:
            entries = entries.filter(KIND_FILTERS[self.kind])
        if self.date_from is not None:
            entries = entries.filter(posted_at__gte=_day_start(self.date_from))
        if self.date_to is not None:
            entries = entries.filter(posted_at__lt=_day_start(self.date_to + dt.timedelta(days=1)))
        return entries


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def ledger_page(
    account: Account, cursor: Any, wanted: LedgerFilter, access: PatientAccess
) -> tuple[Page[LedgerEntry], list[LedgerRow]]:
    """A page of the ledger, newest first, keyset-paged by (posted at, id).

    Unfiltered, each row also says the balance after it: the current balance less
    everything posted after the page's first row (one sum, and only past the first page).
    A filtered list leaves entries out, so it has no running balance.
    """
    entries = wanted.apply(LedgerEntry.objects.filter(account=account))
    page = dated_page(entries, cursor, ENTRIES_PAGE, "posted_at")
    mask_entries(page.items, access)
    if wanted.active:
        return page, _rows(page.items, None)
    balance = account.balance_cents
    if page.items and cursor:
        first = page.items[0]
        newer = LedgerEntry.objects.filter(account=account).filter(
            Q(posted_at__gt=first.posted_at) | Q(posted_at=first.posted_at, id__gt=first.pk)
        )
        balance -= int(newer.aggregate(total=Coalesce(Sum(ledger.SIGNED), 0))["total"])
    return page, _rows(page.items, balance)


def _rows(entries: list[LedgerEntry], balance_after_first: int | None) -> list[LedgerRow]:
    rows = []
    balance = balance_after_first
    for entry in entries:
        kind = kind_of(entry)
        rows.append(LedgerRow(entry, kind, str(KIND_LABELS[kind]), entry.signed_cents, balance))
        if balance is not None:
            balance -= entry.signed_cents
    return rows


# Whose bills a user pays -------------------------------------------------------------------------


@dataclass(frozen=True)
class PaidFor:
    """A patient whose bills the user may see and pay, and their account if they have one."""

    access: PatientAccess
    account: Account | None


def accounts_paid_for(user: User) -> list[PaidFor]:
    """Everyone the user acts for with the billing scope (themself first), with all accounts in one query."""
    accesses = [access for access in portal_patients(user) if access.allows(Scope.BILLING)]
    patient_ids = [access.patient.pk for access in accesses]
    accounts = {account.patient_id: account for account in Account.objects.filter(patient_id__in=patient_ids)}
    return [PaidFor(access, accounts.get(access.patient.pk)) for access in accesses]
