"""The patient's bills: the overview, statements (page and PDF), transactions, and the accounts they pay for.

Every page needs the billing scope: a proxy without it sees "not shared" (403) on the
pages and the same audited 404 as a missing statement on a statement's URL, which is
loaded through `billing.access.require_account_object` (staff rights never come with a
member of staff onto these pages). Reads never open an account. Links to the other
billing areas are drawn only for the routes that exist (`billing_links`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from portal.billing import overview as reads
from portal.billing.access import require_account_object
from portal.billing.disputes import disputable_estimates
from portal.billing.forms_overview import TransactionFilterForm
from portal.billing.models import Statement
from portal.billing.pdf import statement_filename, statement_pdf
from portal.lib.paging import Page
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page

# The overview's links to every billing page, in this order. Several belong to other
# areas and may not exist yet (or be turned off): a name that does not reverse is left out.
BILLING_LINKS: tuple[tuple[str, Any], ...] = (
    ("billing:statements", gettext_lazy("Statements")),
    ("billing:transactions", gettext_lazy("Transactions")),
    ("billing:insurance", gettext_lazy("Insurance")),
    ("billing:plans", gettext_lazy("Payment plans")),
    ("billing:estimates", gettext_lazy("Cost estimates")),
    ("billing:assistance", gettext_lazy("Financial assistance")),
    ("billing:how_to_pay", gettext_lazy("Ways to pay")),
    ("billing:accounts", gettext_lazy("Accounts you pay for")),
)


def billing_links() -> list[tuple[str, str]]:
    """(address, label) of each billing page that exists."""
    links = []
    for name, label in BILLING_LINKS:
        try:
            links.append((reverse(name), str(label)))
        except NoReverseMatch:
            continue
    return links


def _not_shared(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "patients/scope_missing.html", {"access": access}, status=403)


@require_safe
@patient_page(Scope.BILLING)
def overview(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if access.is_staff_access:
        return _not_shared(request, access)
    account = reads.account_of(access.patient)
    context: dict[str, Any] = {"access": access, "account": account, "links": billing_links()}
    if account is not None:
        context["credit_cents"] = max(0, -account.balance_cents)
        statements = reads.latest_statements(account)
        latest = statements[0] if statements else None
        context |= {
            "statements": statements,
            "latest": latest,
            "latest_due_cents": reads.still_due(latest, account.balance_cents) if latest else 0,
            "entries": reads.recent_entries(account, access),
        }
    record_read(request, access, "billing.overview_view")
    return render(request, "billing/overview/overview.html", context)


@require_safe
@patient_page(Scope.BILLING)
def statements(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if access.is_staff_access:
        return _not_shared(request, access)
    account = reads.account_of(access.patient)
    cursor = request.GET.get("after", "")[:40]
    page: Page[Statement] = reads.statement_page(account, cursor) if account else Page([], None)
    record_read(request, access, "billing.statements_view", count=len(page.items))
    context = {"access": access, "account": account, "page": page, "paged": bool(cursor)}
    return render(request, "billing/overview/statements.html", context)


def _load_statement(request: HttpRequest, statement_id: int) -> tuple[Statement, PatientAccess]:
    queryset = reads.with_paid_since(Statement.objects.all())
    return require_account_object(request, queryset, statement_id)


@require_safe
@patient_page(None)
def statement(request: HttpRequest, _acting_for: PatientAccess, statement_id: int) -> HttpResponse:
    statement, access = _load_statement(request, statement_id)
    visits = reads.statement_visits(statement, access)
    record_read(request, access, "billing.statement_view", obj=statement)
    context = {
        "access": access,
        "statement": statement,
        "account": statement.account,
        "visits": visits,
        "summary": reads.statement_summary(statement),
        "totals": reads.Totals.of([line for visit in visits for line in visit.lines]),
        "still_due_cents": reads.still_due(statement, statement.account.balance_cents),
        # Billed $400 or more above a Good Faith Estimate: the patient may dispute it.
        "disputable": bool(disputable_estimates(statement)),
    }
    return render(request, "billing/overview/statement.html", context)


@require_safe
@patient_page(None)
def statement_download(request: HttpRequest, _acting_for: PatientAccess, statement_id: int) -> HttpResponse:
    statement, access = _load_statement(request, statement_id)
    content = statement_pdf(statement, reads.statement_visits(statement, access))
    record_read(request, access, "billing.statement_download", obj=statement)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(True, statement_filename(statement)) or "attachment"
    )
    return response


@require_safe
@patient_page(Scope.BILLING)
def transactions(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if access.is_staff_access:
        return _not_shared(request, access)
    asked = {key: value for key, value in request.GET.items() if key != "after"}
    form = TransactionFilterForm(asked or None)
    wanted = form.wanted()
    account = reads.account_of(access.patient)
    cursor = request.GET.get("after", "")[:60]
    page: Page[Any] = Page([], None)
    rows: list[reads.LedgerRow] = []
    if account is not None:
        page, rows = reads.ledger_page(account, cursor, wanted, access)
    record_read(request, access, "billing.transactions_view", count=len(rows))
    context = {
        "access": access,
        "account": account,
        "form": form,
        "rows": rows,
        "page": page,
        "paged": bool(cursor),
        "filtered": wanted.active,
        "running": not wanted.active,
        "credit_cents": max(0, -account.balance_cents) if account else 0,
        "searched": form.is_bound,
    }
    return render(request, "billing/overview/transactions.html", context)


@require_safe
@patient_page(None)
def accounts(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Every patient whose bills the user sees and pays, with a way to switch to each."""
    paid_for = reads.accounts_paid_for(request.user)  # type: ignore[arg-type]
    for row in paid_for:
        # Each balance is that patient's billing information: their access log says who looked.
        record_read(request, row.access, "billing.accounts_view")
    context = {"access": access, "paid_for": paid_for, "overview_url": reverse("billing:overview")}
    return render(request, "billing/overview/accounts.html", context)
