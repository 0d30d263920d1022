"""Statements and payment receipts as PDFs, in the record PDF's Unicode font.

What each document says is here; how a page looks is `billing/pdf_document.py`, imported
on the first PDF rather than at start-up (fpdf2 takes over a second to import).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.billing.models import Payment, Statement
from portal.billing.overview import Visit, statement_summary
from portal.lib.money import format_cents

if TYPE_CHECKING:
    from portal.billing.pdf_document import BillingPDF


def _day(value: dt.date | None) -> str:
    return date_format(value, "DATE_FORMAT") if value else ""


def _document(title: str) -> BillingPDF:
    from portal.billing.pdf_document import BillingPDF  # see this module's docstring

    return BillingPDF(title, made=_day(timezone.localdate()))


def statement_pdf(statement: Statement, visits: list[Visit]) -> bytes:
    """The statement as sent: who and when, the summary of money, then each visit's services."""
    account = statement.account
    patient = account.patient
    document = _document(_("Statement %(number)s") % {"number": statement.number})
    document.title_block(_("Statement"), settings.PORTAL_PAYEE_NAME)
    document.facts(
        [
            (_("Statement number"), statement.number),
            (_("Patient"), patient.full_name),
            (_("Clinic number"), patient.clinic_number),
            (_("Account number"), account.number),
            (_("Bills are sent to"), account.guarantor_name),
            (_("Issued on"), _day(statement.issued_on)),
            (_("Due on"), _day(statement.due_on)),
            (_("Period"), f"{_day(statement.period_start)} \u2013 {_day(statement.period_end)}"),
        ]
    )
    document.heading(_("Summary"))
    summary = [(label, format_cents(cents)) for label, cents in statement_summary(statement)]
    document.facts([*summary, (_("Amount due"), format_cents(statement.amount_due_cents))])
    for visit in visits:
        document.heading(_visit_heading(visit))
        document.grid(_line_columns(), _visit_rows(visit))
    if not visits:
        document.note(_("No new services in this period."))
    document.note(
        _("Pay online in the patient portal, or call %(phone)s. Make checks payable to %(payee)s.")
        % {"phone": settings.PORTAL_BILLING_PHONE, "payee": settings.PORTAL_PAYEE_NAME}
    )
    return bytes(document.output())


def _line_columns() -> tuple[str, ...]:
    return (
        _("Code"),
        _("Description"),
        _("Charge"),
        _("Insurance paid"),
        _("Adjusted"),
        _("Patient responsibility"),
    )


def _visit_heading(visit: Visit) -> str:
    parts = [_day(visit.service_date), visit.label, visit.campus_name]
    return " \u00b7 ".join(part for part in parts if part)


def _visit_rows(visit: Visit) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            line.code,
            line.description,
            format_cents(line.charge_cents),
            format_cents(line.insurance_paid_cents),
            format_cents(line.adjustment_cents),
            format_cents(line.patient_cents),
        )
        for line in visit.lines
    ]
    totals = visit.totals
    rows.append(
        (
            "",
            _("Visit total"),
            format_cents(totals.charge_cents),
            format_cents(totals.insurance_paid_cents),
            format_cents(totals.adjustment_cents),
            format_cents(totals.patient_cents),
        )
    )
    return rows


def statement_filename(statement: Statement) -> str:
    return f"statement-{statement.number}.pdf"


def receipt_pdf(payment: Payment) -> bytes:
    """A payment's receipt: number, date, account, patient, amount, card, status and payee."""
    account = payment.account
    when = timezone.localdate(payment.completed_at or payment.created_at)
    document = _document(_("Receipt %(number)s") % {"number": payment.receipt_number or ""})
    document.title_block(_("Payment receipt"), settings.PORTAL_PAYEE_NAME)
    method = (
        f"{payment.brand} \u2022\u2022\u2022\u2022 {payment.last4}"
        if payment.last4
        else payment.get_funding_display()
    )
    facts = [
        (_("Receipt number"), payment.receipt_number or _("None yet")),
        (_("Date"), _day(when)),
        (_("Account number"), account.number),
        (_("Patient"), account.patient.full_name),
        (_("Amount"), format_cents(payment.amount_cents)),
        (_("Paid with"), method),
        (_("Status"), str(payment.get_status_display())),
        (_("Paid to"), settings.PORTAL_PAYEE_NAME),
    ]
    if payment.refunded_cents:
        facts.append((_("Refunded"), format_cents(payment.refunded_cents)))
    document.facts(facts)
    document.note(
        _("Keep this receipt for your records. Questions: call %(phone)s.")
        % {"phone": settings.PORTAL_BILLING_PHONE}
    )
    return bytes(document.output())


def receipt_filename(payment: Payment) -> str:
    return f"receipt-{payment.receipt_number or payment.pk}.pdf"
