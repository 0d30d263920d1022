"""Property: whatever happens to an account, its balance is the sum of its ledger.

Hypothesis runs random histories (a rule-based state machine) of what happens to a bill (services billed with
insurance payments and adjustments, card payments of any amount including declines and
bank checks, refunds, the billing office's adjustments, statements) and after each step
checks that the cached `Account.balance_cents`, `ledger.derived_balance`, the ledger
summed here in Python and a running total kept here from the operations themselves all
agree, that every amount is an int, and that every statement adds up:
previous + charges - insurance paid - adjustments - payments = amount due.

Each history runs in a savepoint that is rolled back, so the histories share one test
database set-up and stay fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from portal.audit.actor import Actor
from portal.billing import ledger, payments, statements
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Account, LedgerEntry, Payment, Statement
from portal.billing.tests.support import (
    DECLINED,
    NEEDS_CHECK,
    NO_FUNDS,
    VISA,
    BillingWorld,
    billing_world,
    pay,
)
from portal.test import make_world

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind

cents = st.integers(min_value=1, max_value=2_000_00)
share = st.integers(min_value=0, max_value=100)


@dataclass
class Books:
    """What the account should hold, kept here from the operations alone."""

    balance: int = 0
    # Succeeded payments and how much of each is still refundable.
    refundable: dict[int, int] = field(default_factory=dict)
    # Payments waiting for the bank's check.
    waiting: list[int] = field(default_factory=list)


@pytest.fixture
def bw() -> BillingWorld:
    return billing_world(make_world())


class AccountHistory(RuleBasedStateMachine):
    """One account's history, a step at a time, checked after every step."""

    bw: BillingWorld

    def __init__(self) -> None:
        super().__init__()
        # Each history runs in a savepoint, rolled back in teardown.
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.account = ledger.account_for(self.bw.world.alice)
        self.books = Books()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    @initialize(charge=cents, insurance_share=share, adjustment_share=share)
    def first_bill(self, charge: int, insurance_share: int, adjustment_share: int) -> None:
        self.bill(charge, insurance_share, adjustment_share)

    @rule(charge=cents, insurance_share=share, adjustment_share=share)
    def bill(self, charge: int, insurance_share: int, adjustment_share: int) -> None:
        insurance = charge * insurance_share // 100
        adjustment = (charge - insurance) * adjustment_share // 100
        statements.add_service_line(
            self.account,
            service_date=dt.date(2026, 1, 5),
            code="99213",
            description="Office visit",
            charge_cents=charge,
            insurance_paid_cents=insurance,
            adjustment_cents=adjustment,
        )
        self.books.balance += charge - insurance - adjustment

    @precondition(lambda self: self.books.balance > 0)
    @rule(percent=st.integers(min_value=1, max_value=100))
    def pay_by_card(self, percent: int) -> None:
        _pay(self.bw, self.books, self._part(percent), VISA)

    @precondition(lambda self: self.books.balance > 0)
    @rule(percent=st.integers(min_value=1, max_value=100), number=st.sampled_from([DECLINED, NO_FUNDS]))
    def pay_with_a_declined_card(self, percent: int, number: str) -> None:
        _pay(self.bw, self.books, self._part(percent), number)

    @precondition(lambda self: self.books.balance > 0)
    @rule(percent=st.integers(min_value=1, max_value=100))
    def pay_with_a_bank_check(self, percent: int) -> None:
        _pay(self.bw, self.books, self._part(percent), NEEDS_CHECK)

    @precondition(lambda self: self.books.balance > 0)
    @rule()
    def pay_everything(self) -> None:
        _pay(self.bw, self.books, self.books.balance, VISA)

    # Nothing owed, or more than is owed: refused before the card is asked.
    @rule(extra=cents)
    def pay_too_much(self, extra: int) -> None:
        _pay(self.bw, self.books, max(self.books.balance, 0) + extra, VISA)

    def _part(self, percent: int) -> int:
        return max(self.books.balance * percent // 100, 1)

    @precondition(lambda self: self.books.waiting)
    @rule(approved=st.booleans())
    def finish_bank_check(self, approved: bool) -> None:
        payment = Payment.objects.get(pk=self.books.waiting.pop(0))
        SandboxGateway().complete_authentication(payment.gateway_ref, approved=approved)
        done = payments.finish_authentication(Actor.system(), payment)
        assert done.status == (Payment.Status.SUCCEEDED if approved else Payment.Status.DECLINED)
        event("bank check finished")
        _count(self.books, done)

    @precondition(lambda self: any(left > 0 for left in self.books.refundable.values()))
    @rule(pick=st.integers(min_value=0, max_value=1_000), refund_share=share)
    def refund(self, pick: int, refund_share: int) -> None:
        open_payments = [pk for pk, left in self.books.refundable.items() if left > 0]
        chosen = open_payments[pick % len(open_payments)]
        amount = max(1, self.books.refundable[chosen] * refund_share // 100)
        ledger.post(
            self.account,
            Kind.REFUND,
            amount,
            description="Refund",
            payment=Payment.objects.get(pk=chosen),
            reason="property test",
        )
        self.books.refundable[chosen] -= amount
        self.books.balance += amount
        event("refund")

    # A courtesy discount, now and then more than is owed (a credit on the account).
    @rule(percent=st.integers(min_value=1, max_value=110))
    def adjust(self, percent: int) -> None:
        amount = self._part(percent)
        ledger.post(
            self.account,
            Kind.ADJUSTMENT,
            amount,
            payer=LedgerEntry.Payer.CLINIC,
            description="Courtesy discount",
        )
        self.books.balance -= amount

    @rule(days=st.integers(min_value=0, max_value=40))
    def issue_statement(self, days: int) -> None:
        issued = statements.issue_statement(
            self.account, issued_on=dt.date(2026, 2, 1) + dt.timedelta(days=days)
        )
        assert issued.amount_due_cents == self.books.balance
        event("statement")

    @invariant()
    def the_books_balance(self) -> None:
        check(self.account, self.books)


def test_the_balance_is_always_the_sum_of_the_ledger(bw: BillingWorld) -> None:
    class AlicesAccount(AccountHistory):
        pass

    AlicesAccount.bw = bw
    run_state_machine_as_test(
        AlicesAccount,
        settings=settings(
            max_examples=25,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def _pay(bw: BillingWorld, books: Books, amount: int, number: str) -> None:
    payer, alice = bw.world.alice_user, bw.world.alice
    before = ledger.derived_balance(Account.objects.get(patient=alice))
    # Bank checks still waiting count against what may be paid (two tabs cannot pay twice).
    in_flight = sum(
        Payment.objects.filter(pk__in=books.waiting, status=Payment.Status.REQUIRES_ACTION).values_list(
            "amount_cents", flat=True
        )
    )
    if not 0 < amount <= books.balance - in_flight:
        # Nothing owed, or more than is owed: refused before the card is charged.
        with pytest.raises(payments.PaymentRefused):
            pay(payer, alice, amount, number=number)
        event("payment refused")
        assert ledger.derived_balance(Account.objects.get(patient=alice)) == before
        return
    payment = pay(payer, alice, amount, number=number)
    expected = {
        VISA: Payment.Status.SUCCEEDED,
        DECLINED: Payment.Status.DECLINED,
        NO_FUNDS: Payment.Status.DECLINED,
        NEEDS_CHECK: Payment.Status.REQUIRES_ACTION,
    }[number]
    assert payment.status == expected
    event(f"payment {payment.status}")
    if payment.status == Payment.Status.REQUIRES_ACTION:
        books.waiting.append(payment.pk)
    _count(books, payment)


def _count(books: Books, payment: Payment) -> None:
    entries = LedgerEntry.objects.filter(payment=payment, kind=Kind.PAYMENT)
    if payment.status == Payment.Status.SUCCEEDED:
        assert [entry.amount_cents for entry in entries] == [payment.amount_cents]
        books.balance -= payment.amount_cents
        books.refundable[payment.pk] = payment.amount_cents
    else:
        assert not entries.exists(), f"a {payment.status} payment posted to the ledger"


def check(account: Account, books: Books) -> None:
    account.refresh_from_db()
    entries = list(LedgerEntry.objects.filter(account=account).values_list("kind", "amount_cents"))
    assert all(type(amount) is int and amount > 0 for _kind, amount in entries)
    by_kind = {kind: sum(amount for k, amount in entries if k == kind) for kind in Kind.values}
    summed = by_kind[Kind.CHARGE] + by_kind[Kind.REFUND] - by_kind[Kind.PAYMENT] - by_kind[Kind.ADJUSTMENT]
    assert type(account.balance_cents) is int
    assert account.balance_cents == ledger.derived_balance(account) == summed == books.balance
    totals = ledger.totals(account)
    assert totals["charges"] == by_kind[Kind.CHARGE]
    assert totals["patient_payments"] + totals["insurance_payments"] == by_kind[Kind.PAYMENT]
    previous_due = 0
    for statement in Statement.objects.filter(account=account).order_by("created_at", "id"):
        amounts = [
            statement.previous_balance_cents,
            statement.charges_cents,
            statement.insurance_paid_cents,
            statement.adjustments_cents,
            statement.payments_cents,
            statement.amount_due_cents,
        ]
        assert all(type(amount) is int for amount in amounts)
        previous, charges, insurance, adjustments, paid, due = amounts
        assert previous == previous_due, f"{statement.number} does not start where the last one ended"
        assert previous + charges - insurance - adjustments - paid == due, (
            f"{statement.number} does not add up"
        )
        previous_due = due
