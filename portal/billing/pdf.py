"""Statements and payment receipts as PDFs (fpdf2), in the record PDF's Unicode font.

The font set-up, character cleaning and table drawing are the record's
(`records/pdf.py::RecordPDF`): a billing document is a `RecordPDF` with its own page
furniture, so names like "Zoë Łukasz" print the same way on a bill as on a record.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from fpdf import FPDF

from portal.billing.models import Payment, Statement
from portal.billing.overview import Visit, statement_summary
from portal.lib.money import format_cents
from portal.records.pdf import CORE_FAMILY, GREY, RecordPDF

MINUS = "\u2212"


def _day(value: dt.date | None) -> str:
    return date_format(value, "DATE_FORMAT") if value else ""


class BillingPDF(RecordPDF):
    """A portrait A4 billing document: its title on every later page, "page n of N" below."""

    def __init__(self, title: str) -> None:
        # Not RecordPDF's own __init__, which wants a record export: its font set-up is called below.
        FPDF.__init__(self, orientation="portrait", unit="mm", format="A4")
        self.document_title = title
        self.made = _day(timezone.localdate())
        self.font_name = CORE_FAMILY
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=20)
        self._drawable = self._load_fonts()
        self.set_title(self.clean(title))
        self.set_creator("Patient portal")
        self.set_lang(get_language() or "en")

    def clean(self, value: str) -> str:
        # A credit's true minus sign, where the font lacks it, is a hyphen rather than "?".
        if not self._can_draw(MINUS):
            value = value.replace(MINUS, "-")
        return super().clean(value)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.use_font(8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.clean(self.document_title), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.use_font(8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.clean(_("Made on %(when)s") % {"when": self.made}), align="L")
        self.set_x(self.l_margin)
        page = _("Page %(page)s of %(pages)s") % {"page": self.page_no(), "pages": self.str_alias_nb_pages}
        self.cell(0, 5, self.clean(page), align="R")
        self.set_text_color(0, 0, 0)

    def title_block(self, title: str, subtitle: str) -> None:
        self.add_page()
        self.use_font(22, bold=True)
        self.multi_cell(0, 11, self.clean(title), new_x="LMARGIN", new_y="NEXT")
        self.use_font(13)
        self.multi_cell(0, 8, self.clean(subtitle), new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def heading(self, text: str) -> None:
        if self.will_page_break(25):
            self.add_page()
        self.ln(3)
        self.use_font(13, bold=True)
        self.multi_cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def note(self, text: str) -> None:
        self.ln(3)
        self.use_font(10)
        self.set_text_color(*GREY)
        self.multi_cell(0, 5, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)


def statement_pdf(statement: Statement, visits: list[Visit]) -> bytes:
    """The statement as sent: who and when, the summary of money, then each visit's services."""
    account = statement.account
    patient = account.patient
    document = BillingPDF(_("Statement %(number)s") % {"number": statement.number})
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
    document = BillingPDF(_("Receipt %(number)s") % {"number": payment.receipt_number or ""})
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
