"""The billing pages of the benchmark, with their raw-SQL floors.

The patient's pages are measured as the heavy patient, over their three years of bills
(`benchmarks/billing.py`): the overview, the latest statement, the transactions list
(the newest page of the ledger), the claims list and the pay page. The billing office's
account page is measured as the billing clerk. Each baseline fetches with hand-written
SQL what the page shows, no more: the page's own writes (the audit event) and the
session and access checks are left out, as the other baselines leave out theirs.
"""

from __future__ import annotations

import functools
from typing import Any

from django.urls import reverse

from portal.accounts.models import User
from portal.billing.models import (
    Account,
    Claim,
    CoverageBenefits,
    LedgerEntry,
    Payment,
    PaymentPlan,
    Refund,
    SavedCard,
    ServiceLine,
    Statement,
)
from portal.billing.overview import ENTRIES_PAGE, LATEST_STATEMENTS, RECENT_ENTRIES
from portal.billing.staff_views_account import (
    CLAIMS_SHOWN,
    COVERAGES_SHOWN,
    LEDGER_PAGE,
    PAYMENTS_PAGE,
    PLANS_SHOWN,
    STATEMENTS_SHOWN,
)
from portal.billing.views_insurance import CLAIMS_PAGE_SIZE
from portal.organization.models import Campus
from portal.patients.models import Coverage, Patient

Statements = list[tuple[str, list[Any]]]
SAVED_CARDS_SHOWN = 20  # the pay page offers the payer's twenty newest cards

ACCOUNT, STATEMENT, ENTRY = Account._meta.db_table, Statement._meta.db_table, LedgerEntry._meta.db_table
LINE, CLAIM, PAYMENT = ServiceLine._meta.db_table, Claim._meta.db_table, Payment._meta.db_table
ACCOUNT_COLUMNS = "a.id, a.number, a.guarantor_name, a.guarantor_patient_id, a.balance_cents"
STATEMENT_COLUMNS = (
    "s.id, s.number, s.issued_on, s.due_on, s.period_start, s.period_end, s.previous_balance_cents, "
    "s.charges_cents, s.insurance_paid_cents, s.adjustments_cents, s.payments_cents, s.amount_due_cents"
)
ENTRY_COLUMNS = "e.id, e.kind, e.payer, e.amount_cents, e.description, e.code, e.service_date, e.posted_at"
LINE_COLUMNS = (
    "l.id, l.service_date, l.visit_label, l.code, l.description, l.charge_cents, l.insurance_paid_cents, "
    "l.adjustment_cents, l.patient_cents, l.appointment_id"
)
CLAIM_COLUMNS = (
    "c.id, c.number, c.payer_name, c.service_date, c.submitted_on, c.decided_on, c.status, c.billed_cents, "
    "c.paid_cents, c.adjusted_cents, c.patient_cents, c.denial_reason"
)
# Payments by the patient or the clinic (not insurance), less refunds, since the statement was made.
PAID_SINCE = (
    f"COALESCE((SELECT SUM(CASE WHEN p.kind = 'refund' THEN -p.amount_cents ELSE p.amount_cents END) "
    f"FROM {ENTRY} p WHERE p.account_id = s.account_id AND p.posted_at > s.created_at "
    "AND p.kind IN ('payment', 'refund') AND p.payer <> 'insurance'), 0)"
)


def _run(cursor: Any, statements: Statements) -> list[list[Any]]:
    results = []
    for sql, params in statements:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
    return results


def _account_sql() -> str:
    return f"SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT} a WHERE a.patient_id = %s"


# Looked up once, by the patient (a new benchmark database, as in the tests, has new rows):
# the baselines must not time these along with their own queries.
@functools.cache
def _account_id(patient_id: int) -> int:
    return int(Account.objects.values_list("pk", flat=True).get(patient_id=patient_id))


@functools.cache
def _latest_statement_id(patient_id: int) -> int:
    latest = Statement.objects.filter(account__patient_id=patient_id).order_by("-issued_on", "-id")
    return int(latest.values_list("pk", flat=True)[:1].get())


def overview_url(patient: Patient) -> str:
    return reverse("billing:overview")


def statement_url(patient: Patient) -> str:
    return reverse("billing:statement", args=[_latest_statement_id(patient.pk)])


def transactions_url(patient: Patient) -> str:
    return reverse("billing:transactions")


def claims_url(patient: Patient) -> str:
    return reverse("billing:claims")


def pay_url(patient: Patient) -> str:
    return reverse("billing:pay")


def staff_account_url(patient: Patient) -> str:
    return reverse("staff_billing:account", args=[patient.pk])


def overview_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The account and its balance, the latest statements with what was paid since each, the newest entries."""
    ((account,),) = _run(cursor, [(_account_sql(), [patient.pk])])
    statements: Statements = [
        (
            f"SELECT {STATEMENT_COLUMNS}, {PAID_SINCE} FROM {STATEMENT} s WHERE s.account_id = %s "
            f"ORDER BY s.issued_on DESC, s.id DESC LIMIT {LATEST_STATEMENTS}",
            [account[0]],
        ),
        (
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY} e WHERE e.account_id = %s "
            f"ORDER BY e.posted_at DESC, e.id DESC LIMIT {RECENT_ENTRIES}",
            [account[0]],
        ),
    ]
    _run(cursor, statements)
    return 1 + len(statements)


def statement_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The statement with its account, patient and what was paid since; its services with their campuses."""
    statement_id = _latest_statement_id(patient.pk)
    person, campus = Patient._meta.db_table, Campus._meta.db_table
    statements: Statements = [
        (
            f"SELECT {STATEMENT_COLUMNS}, {PAID_SINCE}, {ACCOUNT_COLUMNS}, t.given_name, t.family_name, "
            f"t.clinic_number FROM {STATEMENT} s JOIN {ACCOUNT} a ON a.id = s.account_id "
            f"JOIN {person} t ON t.id = a.patient_id WHERE s.id = %s",
            [statement_id],
        ),
        (
            f"SELECT {LINE_COLUMNS}, m.short_name FROM {LINE} l LEFT JOIN {campus} m ON m.id = l.campus_id "
            "WHERE l.statement_id = %s ORDER BY l.service_date, l.id",
            [statement_id],
        ),
    ]
    _run(cursor, statements)
    return len(statements)


def transactions_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The account and the newest page of its ledger (one more row, to know there are older ones)."""
    ((account,),) = _run(cursor, [(_account_sql(), [patient.pk])])
    _run(
        cursor,
        [
            (
                f"SELECT {ENTRY_COLUMNS} FROM {ENTRY} e WHERE e.account_id = %s "
                f"ORDER BY e.posted_at DESC, e.id DESC LIMIT {ENTRIES_PAGE + 1}",
                [account[0]],
            )
        ],
    )
    return 2


def claims_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The newest page of the patient's claims, then the services on them."""
    ((claims,)) = _run(
        cursor,
        [
            (
                f"SELECT {CLAIM_COLUMNS} FROM {CLAIM} c JOIN {ACCOUNT} a ON a.id = c.account_id "
                f"WHERE a.patient_id = %s ORDER BY c.service_date DESC, c.id DESC LIMIT {CLAIMS_PAGE_SIZE + 1}",
                [patient.pk],
            )
        ],
    )
    ids = [row[0] for row in claims[:CLAIMS_PAGE_SIZE]] or [0]
    _run(
        cursor,
        [
            (
                f"SELECT {LINE_COLUMNS}, l.claim_id FROM {LINE} l "
                f"WHERE l.claim_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY l.service_date, l.id",
                ids,
            )
        ],
    )
    return 2


def pay_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The account, its latest statement with what was paid since, and the payer's saved cards."""
    ((account,),) = _run(cursor, [(_account_sql(), [patient.pk])])
    statements: Statements = [
        (
            f"SELECT {STATEMENT_COLUMNS}, {PAID_SINCE} FROM {STATEMENT} s WHERE s.account_id = %s "
            "ORDER BY s.issued_on DESC, s.id DESC LIMIT 1",
            [account[0]],
        ),
        (
            f"SELECT id, brand, last4, exp_month, exp_year, funding FROM {SavedCard._meta.db_table} "
            "WHERE owner_id = %s AND removed_at IS NULL AND gateway = %s "
            f"ORDER BY created_at DESC, id DESC LIMIT {SAVED_CARDS_SHOWN}",
            [user.pk, "sandbox"],
        ),
    ]
    _run(cursor, statements)
    return 1 + len(statements)


def staff_account_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The patient and account with the guarantor; the ledger's totals and the services not yet billed;
    the latest statements, the newest page of entries (with who posted them) and of payments with
    their refunds; plans, coverages with benefits, and the latest claims."""
    account_id = _account_id(patient.pk)
    person, campus = Patient._meta.db_table, Campus._meta.db_table
    users = User._meta.db_table
    (_patient, _account, _totals, _unbilled, _statements, _entries, payments) = _run(
        cursor,
        [
            (
                f"SELECT t.id, t.given_name, t.family_name, t.clinic_number, t.birth_date, m.time_zone "
                f"FROM {person} t LEFT JOIN {campus} m ON m.id = t.primary_campus_id WHERE t.id = %s",
                [patient.pk],
            ),
            (
                f"SELECT {ACCOUNT_COLUMNS}, g.given_name, g.family_name FROM {ACCOUNT} a "
                f"LEFT JOIN {person} g ON g.id = a.guarantor_patient_id WHERE a.id = %s",
                [account_id],
            ),
            (
                "SELECT SUM(CASE WHEN kind = 'charge' THEN amount_cents ELSE 0 END), "
                "SUM(CASE WHEN kind = 'payment' AND payer <> 'insurance' THEN amount_cents ELSE 0 END), "
                "SUM(CASE WHEN kind = 'payment' AND payer = 'insurance' THEN amount_cents ELSE 0 END), "
                "SUM(CASE WHEN kind = 'adjustment' THEN amount_cents ELSE 0 END), "
                f"SUM(CASE WHEN kind = 'refund' THEN amount_cents ELSE 0 END) FROM {ENTRY} WHERE account_id = %s",
                [account_id],
            ),
            (
                f"SELECT COUNT(*) FROM {LINE} WHERE account_id = %s AND statement_id IS NULL",
                [account_id],
            ),
            (
                f"SELECT {STATEMENT_COLUMNS} FROM {STATEMENT} s WHERE s.account_id = %s "
                f"ORDER BY s.issued_on DESC, s.id DESC LIMIT {STATEMENTS_SHOWN}",
                [account_id],
            ),
            (
                f"SELECT {ENTRY_COLUMNS}, e.reason, u.first_name, u.last_name FROM {ENTRY} e "
                f"LEFT JOIN {users} u ON u.id = e.posted_by_id WHERE e.account_id = %s "
                f"ORDER BY e.id DESC LIMIT {LEDGER_PAGE + 1}",
                [account_id],
            ),
            (
                "SELECT id, amount_cents, status, source, brand, last4, funding, gateway_ref, receipt_number, "
                f"refunded_cents, created_at FROM {PAYMENT} WHERE account_id = %s "
                f"ORDER BY id DESC LIMIT {PAYMENTS_PAGE + 1}",
                [account_id],
            ),
        ],
    )
    ids = [row[0] for row in payments[:PAYMENTS_PAGE]] or [0]
    statements: Statements = [
        (
            f"SELECT id, payment_id, amount_cents, gateway_ref, reason, created_at FROM {Refund._meta.db_table} "
            f"WHERE payment_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY created_at DESC, id DESC",
            ids,
        ),
        (
            f"SELECT id, total_cents, instalment_count, status, created_at FROM {PaymentPlan._meta.db_table} "
            f"WHERE account_id = %s ORDER BY created_at DESC, id DESC LIMIT {PLANS_SHOWN}",
            [account_id],
        ),
        (
            "SELECT c.id, c.priority, c.payer_name, c.plan_name, c.member_id, c.group_number, c.status, "
            "c.subscriber_name, b.deductible_cents, b.deductible_met_cents, b.coinsurance_percent, "
            f"b.copay_cents, b.out_of_pocket_max_cents, b.out_of_pocket_met_cents FROM {Coverage._meta.db_table} c "
            f"LEFT JOIN {CoverageBenefits._meta.db_table} b ON b.coverage_id = c.id WHERE c.patient_id = %s "
            f"ORDER BY c.priority, c.created_at DESC, c.id DESC LIMIT {COVERAGES_SHOWN}",
            [patient.pk],
        ),
        (
            f"SELECT {CLAIM_COLUMNS} FROM {CLAIM} c WHERE c.account_id = %s "
            f"ORDER BY c.service_date DESC, c.id DESC LIMIT {CLAIMS_SHOWN}",
            [account_id],
        ),
    ]
    _run(cursor, statements)
    return 7 + len(statements)
