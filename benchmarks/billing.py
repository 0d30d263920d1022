"""The heavy patient's bills, and a few for everyone else, for the billing pages of the benchmark.

The heavy patient has `YEARS` of bills from a clinic that sees them often: `VISITS`
visits (blood tests mostly, a follow-up now and then, a yearly check-up), each billed
to Medicare as a claim (most paid, some partly, a few denied), a statement every month
(`STATEMENTS`), and each statement but the latest paid by card within three weeks,
sometimes in two goes: about 370 service lines, 1,100 ledger entries and 35 payments.
`OTHERS_SHARE` of the other patients have a visit or two on one statement, still due.
A billing clerk, `bench-billing`, works in the billing office: the staff account page
is measured as them.

Nobody did any of this, so no action runs and nobody is told: rows go in with
`insert_rows`, the money worked out here as the billing code would post it. A visit is
billed when the insurer has answered its claim, two to five weeks after it: each of its
service lines then posts its charge, the insurer's payment and the adjustment together,
as `statements.add_service_line` does, so a statement asks only for the patient's part.
Each statement adds up as `statements.issue_statement` makes them (previous balance +
charges - insurance - adjustments - payments = amount due = the balance when issued);
each account's cached balance is the sum of its ledger.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from portal.accounts.models import User
from portal.billing.models import (
    Account,
    Claim,
    CoverageBenefits,
    Funding,
    LedgerEntry,
    Payment,
    ServiceLine,
    Statement,
)
from portal.lib.seeding import GENERATED_CLINIC_NUMBERS
from portal.lib.seeding.billing_prices import PRICES, seed_price_list
from portal.lib.seeding.bulk import insert_rows, new
from portal.lib.seeding.organization import BILLING_OFFICE_SLUG
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import Coverage, Patient

if TYPE_CHECKING:
    from benchmarks.history import History

BILLING_USERNAME = "bench-billing"
YEARS = 3
STATEMENTS = 36
VISITS = 110
OTHERS_SHARE = 0.1
PAYER = "Medicare"
ZONE = ZoneInfo("America/Chicago")
DAY = dt.timedelta(days=1)
Kind = LedgerEntry.Kind
Payer = LedgerEntry.Payer
# (label, codes billed, weight): what a visit of the heavy patient bills.
VISIT_KINDS = (
    ("Blood tests, Laboratory Medicine", ("36415", "80048", "85610"), 6),
    ("Follow-up visit, Cardiology", ("99214", "36415", "80053", "83036"), 3),
    ("Follow-up visit, Family Medicine", ("99213", "93000"), 1),
    ("Yearly check-up, Family Medicine", ("99397", "36415", "80053", "80061", "85025"), 1),
)
# (claim status, weight, share of the allowed amount the insurer paid)
OUTCOMES = ((Claim.Status.PAID, 85, 0.8), (Claim.Status.PARTIAL, 10, 0.4), (Claim.Status.DENIED, 5, 0.0))
DENIED = "The plan does not cover this service without a prior authorization on file."


@dataclass
class _Rows:
    """One account and everything on it, before any has a primary key."""

    account: Account
    claims: list[Claim] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)


def add_billing(history: History) -> int:
    """The heavy patient's bills, the others' few, and the billing clerk; returns how many ledger entries were written."""
    seed_price_list()
    clerk = billing_clerk()
    rochester = Campus.objects.get(slug="rochester")
    maker = _Maker(history.rng, history.end, clerk, rochester)
    coverage = _heavy_coverage(history.patient, clerk, history.end)
    heavy = maker.account(history.patient.pk, history.patient.full_name, f"B{history.patient.pk:09d}")
    heavy.account.created_at = history.end - dt.timedelta(days=365 * YEARS + 30)
    period = dt.timedelta(days=365 * YEARS / STATEMENTS)
    last = history.end - 10 * DAY
    issued = [last - period * (STATEMENTS - number) for number in range(1, STATEMENTS + 1)]
    visits = maker.moments(issued[0] - period, last - 3 * DAY, VISITS)
    maker.history(heavy, visits, issued, coverage=coverage, payer=history.user)
    accounts = [heavy, *maker.others(history.end)]
    with transaction.atomic():
        _insert(accounts)
    return sum(len(rows.entries) for rows in accounts)


def billing_clerk() -> User:
    """The benchmark's member of the billing office, with a sign-in the runner uses."""
    user, created = User.objects.get_or_create(
        username=BILLING_USERNAME,
        defaults={"first_name": "Ines", "last_name": "Marsh", "email": f"{BILLING_USERNAME}@example.org"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    practitioner, _created = Practitioner.objects.update_or_create(
        user=user,
        defaults={
            "given_name": "Ines",
            "family_name": "Marsh",
            "role": Practitioner.Role.BILLING,
            "active": True,
        },
    )
    CareTeam.objects.get(slug=BILLING_OFFICE_SLUG).members.add(practitioner)
    return user


def _heavy_coverage(patient: Patient, clerk: User, end: dt.datetime) -> Coverage:
    coverage = Coverage.objects.create(
        patient=patient,
        priority=Coverage.Priority.PRIMARY,
        payer_name=PAYER,
        plan_name="Medicare Part B",
        member_id="7KT2-WM4-PX81",
        subscriber_name=patient.full_name,
        effective_from=dt.date(end.year - YEARS - 1, 1, 1),
        status=Coverage.Status.VERIFIED,
        verified_by=clerk,
        verified_at=end - dt.timedelta(days=365 * YEARS),
    )
    CoverageBenefits.objects.create(
        coverage=coverage,
        deductible_cents=257_00,
        deductible_met_cents=257_00,
        coinsurance_percent=20,
        out_of_pocket_max_cents=0,
        updated_by=clerk,
    )
    return coverage


class _Maker:
    """Works out accounts' visits, claims, statements and payments, as the billing code would post them."""

    def __init__(self, rng: random.Random, end: dt.datetime, clerk: User, campus: Campus) -> None:
        self.rng, self.end, self.clerk, self.campus = rng, end, clerk, campus
        self.kinds = [(label, codes) for label, codes, _weight in VISIT_KINDS]
        self.kind_weights = [weight for *_rest, weight in VISIT_KINDS]

    def account(self, patient_id: int, name: str, number: str) -> _Rows:
        return _Rows(new(Account, patient_id=patient_id, number=number, guarantor_name=name))

    def moments(self, start: dt.datetime, end: dt.datetime, count: int) -> list[dt.datetime]:
        span = int((end - start).total_seconds())
        return sorted(start + dt.timedelta(seconds=self.rng.randrange(span)) for _ in range(count))

    def others(self, end: dt.datetime) -> list[_Rows]:
        """A share of the generated patients, each with a visit or two in the last months and a statement due."""
        patients = Patient.objects.filter(clinic_number__gte=str(GENERATED_CLINIC_NUMBERS.start)).order_by(
            "pk"
        )
        rows = []
        for patient_id, given, family in patients.values_list("pk", "given_name", "family_name").iterator(
            chunk_size=5000
        ):
            if self.rng.random() >= OTHERS_SHARE:
                continue
            account = self.account(patient_id, f"{given} {family}", f"B{patient_id:09d}")
            issued = end - dt.timedelta(days=self.rng.randint(3, 25))
            account.account.created_at = issued - dt.timedelta(days=150)
            visits = self.moments(issued - dt.timedelta(days=120), issued - 40 * DAY, self.rng.randint(1, 2))
            self.history(account, visits, [issued], pay=False)
            rows.append(account)
        return rows

    def history(
        self,
        rows: _Rows,
        visits: list[dt.datetime],
        issued: list[dt.datetime],
        *,
        coverage: Coverage | None = None,
        payer: User | None = None,
        pay: bool = True,
    ) -> None:
        """Bill the visits, then walk the time line: post what happened up to each statement, issue it,
        and (if `pay`) schedule its payment before the next one."""
        for number, moment in enumerate(visits, start=1):
            self._visit(rows, number, moment, coverage)
        posted = sorted(rows.entries, key=lambda entry: entry.posted_at)
        rows.entries = []
        balance, position, previous = 0, 0, None
        scheduled: list[tuple[dt.datetime, int, Statement]] = []
        for index, issued_at in enumerate(issued):
            period: list[LedgerEntry] = []
            while position < len(posted) and posted[position].posted_at <= issued_at:
                period.append(posted[position])
                position += 1
            period.extend(self._payments(rows, scheduled, period, issued_at, payer))
            scheduled = []
            balance += sum(entry.signed_cents for entry in period)
            previous = self._statement(rows, index + 1, issued_at, previous, period, balance)
            rows.entries.extend(period)
            if pay and index < len(issued) - 1 and balance > 0:
                scheduled = self._schedule(issued_at, balance, previous)
        rows.entries.extend(posted[position:])
        rows.account.balance_cents = balance + sum(entry.signed_cents for entry in posted[position:])

    def _visit(self, rows: _Rows, number: int, moment: dt.datetime, coverage: Coverage | None) -> None:
        label, codes = self.rng.choices(self.kinds, self.kind_weights)[0]
        status, _weight, share = self.rng.choices(OUTCOMES, [weight for _s, weight, _p in OUTCOMES])[0]
        day = moment.astimezone(ZONE).date()
        decided = moment + dt.timedelta(days=self.rng.randint(12, 35))
        claim = new(
            Claim, account=rows.account, coverage=coverage, number=f"C-{rows.account.number}-{number}",
            payer_name=PAYER, service_date=day, submitted_on=day + 2 * DAY,
            decided_on=decided.astimezone(ZONE).date(), status=status,
            denial_reason=DENIED if status == Claim.Status.DENIED else "",
        )  # fmt: skip
        rows.claims.append(claim)
        for code in codes:
            price = PRICES[code]
            allowed = (
                0 if status == Claim.Status.DENIED else price.price_cents * self.rng.randint(35, 60) // 100
            )
            paid = round(allowed * share)
            adjusted = price.price_cents - allowed if allowed else 0
            line = new(
                ServiceLine, account=rows.account, claim=claim, service_date=day, visit_label=label,
                campus_id=self.campus.pk, code=code, description=price.description,
                charge_cents=price.price_cents, insurance_paid_cents=paid, adjustment_cents=adjusted,
                patient_cents=price.price_cents - paid - adjusted, created_at=decided,
            )  # fmt: skip
            rows.lines.append(line)
            claim.billed_cents += price.price_cents
            claim.paid_cents += paid
            claim.adjusted_cents += adjusted
            claim.patient_cents += line.patient_cents
            self._post(rows, line, Kind.CHARGE, price.price_cents, price.description, Payer.PATIENT, decided)
            self._post(
                rows,
                line,
                Kind.PAYMENT,
                paid,
                f"Insurance payment: {price.description}",
                Payer.INSURANCE,
                decided,
            )
            self._post(rows, line, Kind.ADJUSTMENT, adjusted, f"Insurance adjustment: {price.description}", Payer.INSURANCE, decided)  # fmt: skip

    def _post(
        self,
        rows: _Rows,
        line: ServiceLine,
        kind: str,
        cents: int,
        description: str,
        payer: str,
        at: dt.datetime,
    ) -> None:
        if cents <= 0:
            return
        rows.entries.append(
            new(
                LedgerEntry, account=rows.account, kind=kind, payer=payer, amount_cents=cents,
                description=description, code=line.code, service_date=line.service_date,
                service_line=line, posted_at=at, posted_by_id=self.clerk.pk,
            )
        )  # fmt: skip

    def _schedule(
        self, issued_at: dt.datetime, amount: int, statement: Statement
    ) -> list[tuple[dt.datetime, int, Statement]]:
        """The statement paid within three weeks of it, sometimes in two goes."""
        first = issued_at + dt.timedelta(days=self.rng.randint(2, 12), hours=self.rng.randint(0, 12))
        if amount < 40_00 or self.rng.random() >= 0.15:
            return [(first, amount, statement)]
        half = amount // 2
        return [(first, half, statement), (first + dt.timedelta(days=7), amount - half, statement)]

    def _payments(
        self,
        rows: _Rows,
        scheduled: list[tuple[dt.datetime, int, Statement]],
        period: list[LedgerEntry],
        issued_at: dt.datetime,
        payer: User | None,
    ) -> list[LedgerEntry]:
        """The scheduled payments as card payments and their ledger entries: never more than is owed when paid."""
        balance = sum(entry.signed_cents for entry in rows.entries)
        made: list[LedgerEntry] = []
        for at, amount, statement in scheduled:
            owed = balance + sum(entry.signed_cents for entry in period if entry.posted_at <= at)
            owed -= sum(entry.amount_cents for entry in made)
            cents = min(amount, owed)
            if cents <= 0 or at >= issued_at:
                continue
            number = len(rows.payments) + 1
            payment = new(
                Payment, account=rows.account, idempotency_key=f"bench-{rows.account.number}-{number}",
                amount_cents=cents, statement=statement, gateway="sandbox",
                gateway_ref=f"ch_bench_{rows.account.number}_{number}", funding=Funding.CREDIT, brand="Visa",
                last4="4242", status=Payment.Status.SUCCEEDED,
                receipt_number=f"R-{rows.account.number}-{number}",
                created_by_id=payer.pk if payer else None, created_at=at - dt.timedelta(seconds=20),
                completed_at=at,
            )  # fmt: skip
            rows.payments.append(payment)
            made.append(
                new(
                    LedgerEntry, account=rows.account, kind=Kind.PAYMENT, payer=Payer.PATIENT,
                    amount_cents=cents, description="Card payment Visa ending 4242", payment=payment,
                    posted_at=at,
                )
            )  # fmt: skip
        return made

    def _statement(
        self,
        rows: _Rows,
        number: int,
        issued_at: dt.datetime,
        previous: Statement | None,
        period: list[LedgerEntry],
        balance: int,
    ) -> Statement:
        def total(kind: str, insurer: bool | None = None) -> int:
            return sum(
                entry.amount_cents
                for entry in period
                if entry.kind == kind and (insurer is None or (entry.payer == Payer.INSURANCE) == insurer)
            )

        issued_on = issued_at.astimezone(ZONE).date()
        unbilled = [line for line in rows.lines if line.statement is None and line.created_at <= issued_at]
        first_visit = min((line.service_date for line in unbilled), default=issued_on)
        start = previous.period_end + DAY if previous else first_visit
        statement = new(
            Statement, account=rows.account, number=f"S{issued_on:%Y%m}-{rows.account.number}-{number}",
            issued_on=issued_on, due_on=issued_on + dt.timedelta(days=settings.PORTAL_STATEMENT_DUE_DAYS),
            period_start=start, period_end=issued_on,
            previous_balance_cents=previous.amount_due_cents if previous else 0,
            charges_cents=total(Kind.CHARGE), insurance_paid_cents=total(Kind.PAYMENT, insurer=True),
            adjustments_cents=total(Kind.ADJUSTMENT),
            payments_cents=total(Kind.PAYMENT, insurer=False) - total(Kind.REFUND),
            amount_due_cents=balance, created_by_id=self.clerk.pk, created_at=issued_at,
        )  # fmt: skip
        for line in unbilled:
            line.statement = statement
        rows.statements.append(statement)
        return statement


def _insert(accounts: list[_Rows]) -> None:
    """Parents first, each with its primary keys back, then the rows pointing at them."""
    insert_rows(Account, [rows.account for rows in accounts], keys=True)
    insert_rows(Claim, [claim for rows in accounts for claim in rows.claims], keys=True)
    insert_rows(Statement, [statement for rows in accounts for statement in rows.statements], keys=True)
    insert_rows(ServiceLine, [line for rows in accounts for line in rows.lines], keys=True)
    insert_rows(Payment, [payment for rows in accounts for payment in rows.payments], keys=True)
    insert_rows(LedgerEntry, [entry for rows in accounts for entry in rows.entries])
